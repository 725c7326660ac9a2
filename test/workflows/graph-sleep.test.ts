import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MemoryStore, ServiceRegistry, type Agent, type Store } from '../../src/index.js';
import { SqliteStore } from '../../src/sqlite.js';
import { createTestClock, flushEngine, type TestClock } from '../../src/testing/index.js';

// Durable sleeps in a workflow graph (issue 12): a node with `sleep` waits on the engine's clock
// (simulated here) and completes unrun; its due time is stored, so a restart keeps it.

const HOUR = 3_600_000;

function open(store: Store, clock: TestClock) {
  const registry = new ServiceRegistry({ store, clock, controlPollMs: 0 });
  return {
    registry,
    tasks: registry.getTaskManager(),
    tracker: registry.getWorkflowTracker(),
    executor: registry.getEnhancedExecutor(),
  };
}

const ran: string[] = [];
const agent: Agent = {
  id: 'a',
  execute: async (task) => {
    ran.push(task.name);
    return { done: task.name };
  },
};

describe('sleep: a durable timer in a graph', () => {
  it('runs what follows a sleep only once it is due, and the sleep completes unrun', async () => {
    ran.length = 0;
    const clock = createTestClock(1_000_000);
    const { registry, tasks, tracker, executor } = open(new MemoryStore(), clock);
    const wf = await tracker.createWorkflow({ name: 'sleepy' });
    const [a, nap, b] = await Promise.all(['a', 'nap', 'b'].map((name) => tasks.createTask({ name })));
    await tracker.addTasksToWorkflow(wf.id, [
      { taskId: a!.id },
      { taskId: nap!.id, dependsOn: [a!.id], sleep: { ms: HOUR } },
      { taskId: b!.id, dependsOn: [nap!.id] },
    ]);
    let settled = false;
    const result = executor.executeWorkflow(wf.id, { agent }).finally(() => (settled = true));
    await flushEngine(20);
    expect(ran).toEqual(['a']);
    const sleeping = await tasks.getTask(nap!.id);
    expect(sleeping.status).toBe('PENDING');
    expect(sleeping.runAfter).toBe(1_000_000 + HOUR);
    clock.increment(HOUR - 1);
    await flushEngine(20);
    expect(ran).toEqual(['a']);
    expect(settled).toBe(false);
    clock.increment(1);
    const { status } = await result;
    expect(status).toBe('COMPLETED');
    expect(ran).toEqual(['a', 'b']);
    const slept = await tasks.getTask(nap!.id);
    expect(slept).toMatchObject({
      status: 'COMPLETED',
      attempts: 0,
      outputData: { sleptUntil: 1_000_000 + HOUR },
    });
    await registry.stop();
  });

  it('keeps its due time across a restart on SQLite (not a new full sleep)', async () => {
    ran.length = 0;
    const dir = mkdtempSync(join(tmpdir(), 'symphony-sleep-'));
    try {
      const path = join(dir, 's.db');
      const clock = createTestClock(5_000_000);
      const first = open(new SqliteStore({ path }), clock);
      const wf = await first.tracker.createWorkflow({ name: 'sleepy' });
      const [a, nap, b] = await Promise.all(
        ['a', 'nap', 'b'].map((name) => first.tasks.createTask({ name })),
      );
      await first.tracker.addTasksToWorkflow(wf.id, [
        { taskId: a!.id },
        { taskId: nap!.id, dependsOn: [a!.id], sleep: { until: new Date(5_000_000 + HOUR) } },
        { taskId: b!.id, dependsOn: [nap!.id] },
      ]);
      const cut = first.executor.executeWorkflow(wf.id, { agent }).catch((error: unknown) => error);
      await flushEngine(20);
      expect(ran).toEqual(['a']);
      clock.increment(HOUR / 2);
      await first.registry.stop();
      expect(await cut).toMatchObject({ code: 'ENGINE_STOPPED' });

      const second = open(new SqliteStore({ path }), clock);
      let settled = false;
      const result = second.executor.executeWorkflow(wf.id, { agent }).finally(() => (settled = true));
      await flushEngine(20);
      expect((await second.tasks.getTask(nap!.id)).runAfter).toBe(5_000_000 + HOUR);
      clock.increment(HOUR / 2 - 1);
      await flushEngine(20);
      expect(settled).toBe(false);
      clock.increment(1);
      expect((await result).status).toBe('COMPLETED');
      expect(ran).toEqual(['a', 'b']);
      await second.registry.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a malformed sleep', async () => {
    const clock = createTestClock();
    const { registry, tasks, tracker } = open(new MemoryStore(), clock);
    const wf = await tracker.createWorkflow({ name: 'bad' });
    const t = await tasks.createTask({ name: 't' });
    for (const sleep of [{ ms: -1 }, { ms: 1.5 }, { until: Number.NaN }, {}, { ms: 1, until: 2 }]) {
      await expect(tracker.addTaskToWorkflow(wf.id, t.id, { sleep } as never)).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
    }
    await registry.stop();
  });
});
