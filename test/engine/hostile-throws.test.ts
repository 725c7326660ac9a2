import { describe, expect, it } from 'vitest';
import { MemoryStore, ServiceRegistry, SymphonyError, type Agent } from '../../src/index.js';
import { failureOf } from '../../src/engine/retry-policy.js';
import { describeThrown } from '../../src/errors/normalize.js';

// Values an agent may reject with that cannot be read: the engine fails the task, it never crashes.

const trap = (): never => {
  throw new Error('trap');
};

/** A Proxy every trap of which throws. */
const hostile = () =>
  new Proxy(
    {},
    { get: trap, getPrototypeOf: trap, has: trap, ownKeys: trap, getOwnPropertyDescriptor: trap },
  );

/** A Proxy that says it is a Symphony error, and throws on any other read. */
const hostileSymphony = () =>
  new Proxy(
    {},
    {
      get: (_target, key) => (key === Symbol.for('symphony.error') ? true : trap()),
      getPrototypeOf: trap,
    },
  );

describe('reading hostile thrown values', () => {
  it('never throws: SymphonyError.isInstance, the retry rules and describeThrown', () => {
    const values: unknown[] = [
      hostile(),
      hostileSymphony(),
      Object.create(null),
      Object.defineProperty(new Error('x'), 'message', { get: trap }),
      undefined,
      Symbol('s'),
    ];
    for (const value of values) {
      expect(() => SymphonyError.isInstance(value)).not.toThrow();
      expect(() => failureOf(value)).not.toThrow();
      const { name, message } = describeThrown(value);
      expect(typeof name).toBe('string');
      expect(typeof message).toBe('string');
    }
    expect(SymphonyError.isInstance(hostile())).toBe(false);
    // Unknown errors are retried; a Symphony error whose `retryable` cannot be read is not.
    expect(failureOf(hostile()).retryable).toBe(true);
    expect(failureOf(hostileSymphony()).retryable).toBe(false);
  });
});

describe('an agent that rejects with a Proxy whose traps throw', () => {
  for (const [what, thrown, attempts] of [
    ['an unknown error: retried, then FAILED', hostile, 2],
    ['marked as a Symphony error: FAILED, not retried', hostileSymphony, 1],
  ] as const) {
    it(`fails its task as ${what}`, async () => {
      const registry = new ServiceRegistry({
        store: new MemoryStore(),
        controlPollMs: 0,
        retry: { maxAttempts: 2, initialDelayMs: 0, jitter: 0 },
      });
      try {
        const tasks = registry.getTaskManager();
        const tracker = registry.getWorkflowTracker();
        const wf = await tracker.createWorkflow({ name: 'proxy' });
        const task = await tasks.createTask({ name: 'a' });
        await tracker.addTasksToWorkflow(wf.id, [{ taskId: task.id }]);
        const agent: Agent = {
          id: 'ag',
          execute: () => Promise.reject(thrown()),
        };
        const result = await registry.getEnhancedExecutor().executeWorkflow(wf.id, { agent });
        expect(result.status).toBe('FAILED');
        const failed = await tasks.getTask(task.id);
        expect(failed.status).toBe('FAILED');
        expect(failed.attempts).toBe(attempts);
        expect(typeof failed.errors.at(-1)?.message).toBe('string');
      } finally {
        await registry.stop();
      }
    });
  }
});
