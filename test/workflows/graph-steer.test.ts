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

  // pauseTask on a loop or fan-out just as it finished let its dependent run while it was PAUSED,
  // and left it PENDING for ever after resumeTask (the RESOLVE and the PAUSE crossed).
  it.each(['loop', 'fan-out'] as const)(
    'a pause crossing the completion of a %s wins: its dependent waits, and it completes once resumed',
    async (shape) => {
      const engine = graphEngine(kind);
      const { store, tasks, tracker, executor } = engine;
      try {
        const wf = await tracker.createWorkflow({ name: 'crossing' });
        const src = await tasks.createTask({ name: 'src' });
        const node = await tasks.createTask({ name: shape });
        const after = await tasks.createTask({ name: 'after' });
        const makes =
          shape === 'loop'
            ? { loop: { until: 'outputs.node.ok == true', maxIterations: 3 } }
            : { forEach: '[1.0, 2.0]' };
        await tracker.addTasksToWorkflow(wf.id, [
          { taskId: src.id, key: 'src' },
          { taskId: node.id, key: 'node', dependsOn: [src.id], ...makes },
          { taskId: after.id, dependsOn: [node.id] },
        ]);
        // The engine reads the node's row to complete it, once what it made is done: the pause
        // comes between that read and the completion.
        const getMany = store.tasks.getMany.bind(store.tasks);
        let paused = false;
        store.tasks.getMany = async (ids) => {
          const rows = await getMany(ids);
          const row = ids.length === 1 && ids[0] === node.id ? rows[0] : undefined;
          const children = row?.graph?.children ?? [];
          if (!paused && row?.status === 'PENDING' && children.length > 0) {
            if ((await getMany(children)).every((child) => child.status === 'COMPLETED')) {
              paused = true;
              await tasks.pauseTask(node.id);
            }
          }
          return rows;
        };
        const sawNode: string[] = [];
        const agent: Agent = {
          id: 'crossing-agent',
          async execute(task) {
            if (task.id === after.id) sawNode.push((await tasks.getTask(node.id)).status);
            return { ok: true };
          },
        };
        const run = executor.executeWorkflow(wf.id, { agent });
        for (let turn = 0; turn < 20_000 && !paused; turn += 1) await flushEngine(1);
        expect(paused).toBe(true);
        await flushEngine(50);
        expect((await tasks.getTask(node.id)).status).toBe('PAUSED');
        expect((await tasks.getTask(after.id)).status).toBe('PENDING');
        expect(sawNode).toEqual([]);
        // Nothing moves until the node is resumed: the run resolves, stalled.
        expect(await withinTurns(run, 20_000, 'executeWorkflow')).toMatchObject({
          status: 'RUNNING',
          stalled: true,
        });
        await tasks.resumeTask(node.id);
        const result = await withinTurns(
          executor.executeWorkflow(wf.id, { agent }),
          20_000,
          'executeWorkflow',
        );
        expect(result.status).toBe('COMPLETED');
        expect(result.stalled).toBeUndefined();
        expect(sawNode).toEqual(['COMPLETED']);
        expect((await tasks.getTask(node.id)).status).toBe('COMPLETED');
      } finally {
        await engine.dispose();
      }
    },
  );

  // executeWorkflow resolved RUNNING (undocumented) with a waiting node paused, but stayed pending
  // with a paused sleep: both are stalled runs now, resolved with `stalled`.
  it.each(['plain', 'sleep'] as const)(
    'a run left with a paused %s node and nothing else to do resolves stalled; resumed, it completes',
    async (shape) => {
      const engine = graphEngine(kind);
      const { tasks, tracker, executor } = engine;
      try {
        const wf = await tracker.createWorkflow({ name: 'stalled' });
        const a = await tasks.createTask({ name: 'a' });
        const b = await tasks.createTask({ name: 'b' });
        const sleep = shape === 'sleep' ? { sleep: { ms: 60_000 } } : {};
        await tracker.addTasksToWorkflow(wf.id, [
          { taskId: a.id, key: 'a' },
          { taskId: b.id, key: 'b', dependsOn: [a.id], ...sleep },
        ]);
        const agent: Agent = { id: 'stall-agent', execute: async () => ({ ok: true }) };
        await tasks.pauseTask(b.id);
        const first = await withinTurns(
          executor.executeWorkflow(wf.id, { agent }),
          20_000,
          'executeWorkflow',
        );
        expect(first).toMatchObject({ status: 'RUNNING', stalled: true });
        expect((await tasks.getTask(b.id)).status).toBe('PAUSED');
        await tasks.resumeTask(b.id);
        const run = executor.executeWorkflow(wf.id, { agent });
        if (shape === 'sleep') {
          await flushEngine(50);
          engine.clock.increment(60_000);
        }
        const second = await withinTurns(run, 20_000, 'executeWorkflow');
        expect(second.status).toBe('COMPLETED');
        expect(second.stalled).toBeUndefined();
      } finally {
        await engine.dispose();
      }
    },
  );
});
