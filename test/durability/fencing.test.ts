/**
 * Fencing (issue 13): once another engine has taken a task over, the engine that held it before
 * changes nothing in the store (its late result, its start), on every store.
 */
import { describe, expect, it } from 'vitest';
import type { Agent, Store, StoreBatch, Task } from '../../src/index.js';
import { describeEveryStore, useEngines } from './backends.js';
import { eventually } from '../support/wait.js';

function gate(): { promise: Promise<void>; open: () => void } {
  let open = () => {};
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** Another engine ('B') takes the task over from 'A' and completes it, as a worker would. */
async function takeOverAndComplete(other: Store, taskId: string): Promise<void> {
  expect(await other.claimTasks([taskId], 'B', ['A'])).toEqual([taskId]);
  const row = (await other.tasks.get(taskId))!;
  const done: Task = {
    ...row,
    status: 'COMPLETED',
    attempts: row.attempts + 1,
    outputData: { by: 'B' },
    leaseOwner: null,
    leaseExpiresAt: null,
    execution: null,
    finishedAt: row.createdAt + 1,
  };
  await other.commit({
    taskStates: [done],
    completions: [{ taskId, executionId: 'exec-B', attempt: done.attempts, completedAt: done.finishedAt! }],
  });
}

/**
 * The stored events of a task, as `<engine> <name>`, once at least `count` are handed out (on
 * PostgreSQL an event is handed out once the transactions older than its own have ended).
 */
async function eventsOf(store: Store, taskId: string, count: number): Promise<string[]> {
  return eventually(`${count} events of task ${taskId}`, async () => {
    const { events } = await store.readEvents!({ after: null, limit: 1_000, taskId });
    return events.length >= count ? events.map((event) => `${event.engineId} ${event.name}`) : undefined;
  });
}

describeEveryStore('fencing', (backend) => {
  const engine = useEngines();

  async function openOther(store: Store, reopen: () => Store): Promise<Store> {
    const other = reopen();
    if (other !== store) await other.open();
    return other;
  }

  it('refuses the late result of an engine whose task another engine took over (LEASE_LOST)', async () => {
    const { store, reopen } = backend();
    const a = engine(store, { engineId: 'A' });
    const task = await a.getTaskManager().createTask({ name: 'slow' });
    const started = gate();
    const release = gate();
    const agent: Agent = {
      id: 'slow-agent',
      execute: async () => {
        started.open();
        await release.promise;
        return { by: 'A' };
      },
    };
    const heard: string[] = [];
    for (const name of ['task.created', 'task.started', 'task.completed', 'task.attemptFailed'] as const)
      a.on(name, () => heard.push(name));
    const running = a.getEnhancedExecutor().executeTask(task.id, agent);
    await started.promise;
    const other = await openOther(store, reopen);
    try {
      await takeOverAndComplete(other, task.id);
      release.open();
      await expect(running).rejects.toMatchObject({ code: 'LEASE_LOST' });
      // Its refused write stored no event, as its listeners heard none (issue 15).
      expect(await eventsOf(other, task.id, 2)).toEqual(['A task.created', 'A task.started']);
      expect(heard).toEqual(['task.started']);
      const stored = (await other.tasks.get(task.id))!;
      expect(stored).toMatchObject({ status: 'COMPLETED', outputData: { by: 'B' }, leaseOwner: null });
      expect(await other.completions(task.id)).toEqual([expect.objectContaining({ executionId: 'exec-B' })]);
      // The engine keeps working: a new task runs as usual.
      const next = await a.getTaskManager().createTask({ name: 'next' });
      const result = await a
        .getEnhancedExecutor()
        .executeTask(next.id, { id: 'quick', execute: async () => 1 });
      expect(result.status).toBe('COMPLETED');
    } finally {
      if (other !== store) await other.close();
    }
  });

  it('never runs the agent of an execution whose taking of the task the store refused', async () => {
    const { store, reopen } = backend();
    const other = await openOther(store, reopen);
    try {
      const a = engine(store, { engineId: 'A' });
      const task = await a.getTaskManager().createTask({ name: 'contested' });
      // B takes the task between A's read and A's first write of it.
      const commit = store.commit.bind(store);
      let grabbed = false;
      store.commit = async (batch: StoreBatch) => {
        if (!grabbed && batch.taskStates?.some((row) => row.id === task.id)) {
          grabbed = true;
          expect(await other.claimTasks([task.id], 'B', [])).toEqual([task.id]);
        }
        return commit(batch);
      };
      let runs = 0;
      const agent: Agent = { id: 'counting', execute: async () => (runs += 1) };
      await expect(a.getEnhancedExecutor().executeTask(task.id, agent)).rejects.toMatchObject({
        code: 'LEASE_LOST',
      });
      expect(runs).toBe(0);
      expect(await other.tasks.get(task.id)).toMatchObject({
        status: 'PENDING',
        leaseOwner: 'B',
        attempts: 0,
      });
      expect(await eventsOf(other, task.id, 1)).toEqual(['A task.created']);
    } finally {
      if (other !== store) await other.close();
    }
  });

  describe('a batch', () => {
    it('goes on with its other tasks when one of them is taken over', async () => {
      const { store, reopen } = backend();
      const other = await openOther(store, reopen);
      try {
        const a = engine(store, { engineId: 'A' });
        const tasks = await Promise.all(
          ['t0', 't1', 't2', 't3'].map((name) => a.getTaskManager().createTask({ name })),
        );
        const contested = tasks[1]!;
        const started = gate();
        const release = gate();
        const agent: Agent = {
          id: 'batch-agent',
          execute: async (task) => {
            if (task.id === contested.id) {
              started.open();
              await release.promise;
            }
            return { by: 'A' };
          },
        };
        const results = a.getEnhancedExecutor().batchExecute(
          tasks.map((task) => [task.id, agent] as const),
          { maxConcurrent: 2 },
        );
        await started.promise;
        await takeOverAndComplete(other, contested.id);
        release.open();
        await expect(results).rejects.toMatchObject({ code: 'LEASE_LOST' });
        const rows = new Map((await other.tasks.getMany(tasks.map((t) => t.id))).map((t) => [t.id, t]));
        for (const task of tasks) {
          const expected = task.id === contested.id ? { by: 'B' } : { by: 'A' };
          await expect
            .poll(async () => (await other.tasks.get(task.id))?.outputData, { timeout: 10_000 })
            .toEqual(expected);
        }
        expect(rows.size).toBe(4);
      } finally {
        if (other !== store) await other.close();
      }
    });
  });
});
