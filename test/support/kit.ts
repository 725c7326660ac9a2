import { afterEach } from 'vitest';
import { createTestRegistry, type TestRegistry, type TestRegistryOptions } from '../../src/testing/index.js';

export interface TestKitHandle {
  /** A fresh test registry for this test (stopped after it), prepared by `prepare`. */
  setup(options?: TestRegistryOptions): TestRegistry;
  /** The registry of the running test. */
  readonly kit: TestRegistry;
  /** Creates `count` tasks named t0, t1, ... (in a workflow if given); their ids in order. */
  createTasks(count: number, workflowId?: string): Promise<string[]>;
}

/**
 * One test registry per test, stopped after it, for the service and engine test files.
 * @example
 * const tests = useTestKit();
 * it('...', async () => { const { executor } = tests.setup(); const ids = await tests.createTasks(3); });
 */
export function useTestKit(prepare: (kit: TestRegistry) => void = () => {}): TestKitHandle {
  let current: TestRegistry | undefined;
  afterEach(async () => {
    await current?.stop();
    current = undefined;
  });
  const handle: TestKitHandle = {
    setup(options = {}) {
      current = createTestRegistry(options);
      prepare(current);
      return current;
    },
    get kit() {
      if (!current) throw new Error('Call setup() first');
      return current;
    },
    async createTasks(count, workflowId) {
      const ids: string[] = [];
      for (let i = 0; i < count; i += 1) {
        const task = await handle.kit.taskManager.createTask({
          name: `t${i}`,
          ...(workflowId ? { workflowId } : {}),
        });
        ids.push(task.id);
      }
      return ids;
    },
  };
  return handle;
}

/** Lets `n` microtask turns pass. */
export async function ticks(n: number): Promise<void> {
  for (let i = 0; i < n; i += 1) await Promise.resolve();
}
