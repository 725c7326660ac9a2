import { describe, expect, it } from 'vitest';
import type { Agent } from '../../src/index.js';
import { flushEngine } from '../../src/testing/index.js';
import { graphEngine, withinTurns, type StoreKind } from './graph-kit.js';

const STORES: StoreKind[] = ['memory', 'sqlite'];

/** A gate: `open()` lets whoever awaits `passed` go on. */
function gate(): { passed: Promise<void>; open: () => void } {
  let open!: () => void;
  const passed = new Promise<void>((resolve) => (open = resolve));
  return { passed, open };
}

describe.each(STORES)('steering single nodes of a running graph (%s)', (kind) => {
  // cancelTask then retryTask of a waiting node ran it before its dependency had finished.
  it('a waiting node cancelled and retried waits for its running dependency, then runs with its output', async () => {
    const engine = graphEngine(kind);
    const { tasks, tracker, executor } = engine;
    const finish = gate();
    try {
      const wf = await tracker.createWorkflow({ name: 'steer' });
      const up = await tasks.createTask({ name: 'upstream' });
      const down = await tasks.createTask({ name: 'downstream' });
      await tracker.addTasksToWorkflow(wf.id, [
        { taskId: up.id, key: 'up' },
        { taskId: down.id, key: 'down', dependsOn: [up.id] },
      ]);
      const started = gate();
      const seen: Array<{ name: string; dependencies: Record<string, unknown> }> = [];
      const agent: Agent = {
        id: 'steer-agent',
        async execute(task, context) {
          seen.push({ name: task.name, dependencies: { ...context.dependencies } });
          if (task.name !== 'upstream') return { ok: true };
          started.open();
          await finish.passed;
          return { value: 42 };
        },
      };
      const run = executor.executeWorkflow(wf.id, { agent });
      await started.passed;
      await tasks.cancelTask(down.id);
      await tasks.retryTask(down.id);
      await flushEngine(20);
      expect((await tasks.getTask(down.id)).status).toBe('PENDING');
      expect(seen.map((s) => s.name)).toEqual(['upstream']);
      finish.open();
      const result = await withinTurns(run, 20_000, 'executeWorkflow');
      expect(result.status).toBe('COMPLETED');
      expect(seen).toEqual([
        { name: 'upstream', dependencies: {} },
        { name: 'downstream', dependencies: { up: { value: 42 } } },
      ]);
    } finally {
      finish.open();
      await engine.dispose();
    }
  });
});
