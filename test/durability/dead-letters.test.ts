/**
 * The dead-letter queue (issue 14, Recovery strategies -> Dead letter): FAILED tasks listed across
 * workflows, newest failure first, filtered and paged by a cursor, and re-driven singly or in bulk
 * through `retryTask`, their error history kept. On every store.
 */
import { expect, it } from 'vitest';
import {
  systemClock,
  type Agent,
  type DeadLetter,
  type EngineClock,
  type ServiceRegistry,
  type Store,
} from '../../src/index.js';
import { until } from '../support/wait.js';
import { describeEveryStore, useEngines } from './backends.js';

/** A clock whose time the test sets; timers are the system's (none is armed with one attempt). */
function settableClock(): EngineClock & { at: number } {
  const clock = {
    at: 1_000,
    now: () => clock.at,
    setTimeout: systemClock.setTimeout,
    clearTimeout: systemClock.clearTimeout,
  };
  return clock;
}

/** An agent that throws `error` (a plain Error with that name and code) for every task. */
function failing(id: string, error: { name: string; code?: string; message?: string }): Agent {
  return {
    id,
    async execute() {
      throw Object.assign(new Error(error.message ?? `${error.name} happened`), error);
    },
  };
}

const succeeding = (id: string): Agent => ({ id, execute: async (task) => `done ${task.name}` });

interface World {
  registry: ServiceRegistry;
  clock: EngineClock & { at: number };
  /** Creates a task (in `workflowId`, if given) and runs it once at time `at` on `agent`. */
  run(name: string, agent: Agent, at: number, workflowId?: string): Promise<string>;
}

function world(engine: ReturnType<typeof useEngines>, store: Store): World {
  const clock = settableClock();
  const registry = engine(store, { clock });
  return {
    registry,
    clock,
    async run(name, agent, at, workflowId) {
      clock.at = at;
      const manager = registry.getTaskManager();
      const task = await manager.createTask({ name, ...(workflowId === undefined ? {} : { workflowId }) });
      await registry.getEnhancedExecutor().executeTask(task.id, agent, workflowId ?? null);
      return task.id;
    },
  };
}

/** The expected queue order of `ids` failed at `times`: newest first, then descending id. */
function queueOrder(entries: Array<[id: string, at: number]>): string[] {
  return [...entries]
    .sort((a, b) => (a[1] !== b[1] ? b[1] - a[1] : a[0] < b[0] ? 1 : a[0] > b[0] ? -1 : 0))
    .map(([id]) => id);
}

const ids = (items: readonly DeadLetter[]) => items.map((item) => item.taskId);

describeEveryStore('the dead-letter queue', (backend) => {
  const engine = useEngines();

  it('lists FAILED tasks across workflows, newest failure first, with attempts and error history (last first)', async () => {
    const w = world(engine, backend().store);
    const tracker = w.registry.getWorkflowTracker();
    const one = await tracker.createWorkflow({ name: 'one' });
    const two = await tracker.createWorkflow({ name: 'two' });
    const a = await w.run('a', failing('agent-a', { name: 'TypeError' }), 1_000, one.id);
    const b = await w.run(
      'b',
      failing('agent-b', { name: 'ProviderError', code: 'RATE_LIMITED' }),
      3_000,
      two.id,
    );
    await w.run('ok', succeeding('agent-a'), 4_000, one.id);
    const c = await w.run('c', failing('agent-a', { name: 'TypeError' }), 2_000);

    // A second run of `c` that fails too: two errors, two attempts, the newest first.
    await w.registry.getTaskManager().retryTask(c);
    w.clock.at = 5_000;
    await w.registry
      .getEnhancedExecutor()
      .executeTask(c, failing('agent-b', { name: 'ProviderError', code: 'TIMEOUT', message: 'second' }));

    const page = await w.registry.getTaskManager().listDeadLetters();
    expect(ids(page.items)).toEqual([c, b, a]);
    expect(page.nextCursor).toBeNull();
    const [first] = page.items;
    expect(first).toMatchObject({
      taskId: c,
      name: 'c',
      workflowId: null,
      agentId: 'agent-b',
      attempts: 2,
      failedAt: 5_000,
    });
    expect(first!.errors.map((error) => error.message)).toEqual(['second', 'TypeError happened']);
    expect(first!.lastError).toMatchObject({ name: 'ProviderError', code: 'TIMEOUT', attempt: 2 });
    expect(page.items[1]).toMatchObject({ workflowId: two.id, attempts: 1, failedAt: 3_000 });
  });

  it('filters by workflow, agent config, error code or name, and failure time', async () => {
    const w = world(engine, backend().store);
    const tracker = w.registry.getWorkflowTracker();
    const wf = await tracker.createWorkflow({ name: 'filtered' });
    const a = await w.run('a', failing('agent-a', { name: 'TypeError' }), 1_000, wf.id);
    const b = await w.run(
      'b',
      failing('agent-b', { name: 'ProviderError', code: 'RATE_LIMITED' }),
      2_000,
      wf.id,
    );
    const c = await w.run('c', failing('agent-a', { name: 'ProviderError', code: 'RATE_LIMITED' }), 3_000);
    const manager = w.registry.getTaskManager();
    const list = async (filter: object) => ids((await manager.listDeadLetters(filter)).items);

    expect(await list({ workflowId: wf.id })).toEqual([b, a]);
    expect(await list({ agentId: 'agent-a' })).toEqual([c, a]);
    expect(await list({ error: 'RATE_LIMITED' })).toEqual([c, b]);
    expect(await list({ error: 'TypeError' })).toEqual([a]);
    expect(await list({ failedSince: 2_000 })).toEqual([c, b]);
    expect(await list({ failedBefore: 2_000 })).toEqual([a]);
    expect(await list({ failedSince: 1_500, failedBefore: 3_000 })).toEqual([b]);
    expect(await list({ workflowId: wf.id, agentId: 'agent-a', error: 'RATE_LIMITED' })).toEqual([]);
  });

  it('pages by a cursor: pages cut between equal failure times, and a re-drive between pages shifts nothing', async () => {
    const w = world(engine, backend().store);
    const entries: Array<[string, number]> = [];
    for (const [index, at] of [1_000, 2_000, 2_000, 2_000, 2_000, 3_000, 2_000].entries()) {
      entries.push([await w.run(`t${index}`, failing('agent-a', { name: 'TypeError' }), at), at]);
    }
    const expected = queueOrder(entries);
    const manager = w.registry.getTaskManager();
    const pages: DeadLetter[][] = [];
    let after: string | undefined;
    for (;;) {
      const page = await manager.listDeadLetters({ limit: 2, ...(after === undefined ? {} : { after }) });
      pages.push(page.items);
      if (pages.length === 1) {
        // A task of the first page is re-driven: the next pages neither skip nor repeat any other.
        await manager.redriveDeadLetters({ taskIds: [page.items[0]!.taskId] });
      }
      if (page.nextCursor === null) break;
      after = page.nextCursor;
    }
    expect(pages.map((page) => page.length)).toEqual([2, 2, 2, 1]);
    expect(pages.flatMap(ids)).toEqual(expected);
    // Pages cut inside the run of equal times (2 000 ms): the cursor carries the id too.
    expect(pages[0]!.at(-1)!.failedAt).toBe(2_000);
    expect(pages[1]![0]!.failedAt).toBe(2_000);
    expect(pages[1]!.at(-1)!.failedAt).toBe(2_000);
    expect(pages[2]![0]!.failedAt).toBe(2_000);
  });

  it('rejects a bad cursor, limit, filter, selection or enqueue options with INVALID_ARGUMENT', async () => {
    const w = world(engine, backend().store);
    const manager = w.registry.getTaskManager();
    for (const options of [
      { after: 'not a cursor' },
      { after: Buffer.from('[1]').toString('base64url') },
      { after: '' },
      { limit: 0 },
      { limit: 1.5 },
      { limit: 1001 },
      { failedSince: Number.NaN },
      { workflowId: 7 },
    ]) {
      await expect(manager.listDeadLetters(options as never), JSON.stringify(options)).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
    }
    await expect(manager.redriveDeadLetters({})).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    // Bad enqueue options are refused before any task is re-driven.
    const failed = await w.run('a', failing('agent-a', { name: 'TypeError' }), 1_000);
    await expect(
      manager.redriveDeadLetters({ taskIds: [failed], submit: { retry: { maxAttempts: 0 } } }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(await manager.getTask(failed)).toMatchObject({ status: 'FAILED' });
    await expect(manager.redriveDeadLetters({ taskIds: [], filter: {} })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });

  it('re-drives in bulk and reports each task: re-driven, or refused with a typed code, without stopping', async () => {
    const w = world(engine, backend().store);
    const tracker = w.registry.getWorkflowTracker();
    const manager = w.registry.getTaskManager();
    const live = await tracker.createWorkflow({ name: 'live' });
    const doomed = await tracker.createWorkflow({ name: 'doomed' });
    const a = await w.run('a', failing('agent-a', { name: 'TypeError' }), 1_000, live.id);
    const cancelledTask = await w.run('x', failing('agent-a', { name: 'TypeError' }), 2_000, doomed.id);
    const done = await w.run('ok', succeeding('agent-a'), 3_000, live.id);
    const b = await w.run('b', failing('agent-a', { name: 'TypeError' }), 4_000, live.id);
    await tracker.cancelWorkflow(doomed.id);

    const dry = await manager.redriveDeadLetters({
      taskIds: [a, cancelledTask, done, 'nope', b],
      dryRun: true,
    });
    expect(dry).toMatchObject({ dryRun: true, redriven: 2, refused: 3 });
    expect(ids((await manager.listDeadLetters()).items)).toEqual([b, cancelledTask, a]);

    const report = await manager.redriveDeadLetters({ taskIds: [a, cancelledTask, done, 'nope', b] });
    expect(report).toMatchObject({ dryRun: false, redriven: 2, refused: 3 });
    expect(report.results).toEqual([
      { taskId: a, outcome: 'redriven' },
      {
        taskId: cancelledTask,
        outcome: 'refused',
        error: { code: 'INVALID_STATE', message: expect.stringMatching(/cancelled/) },
      },
      {
        taskId: done,
        outcome: 'refused',
        error: { code: 'INVALID_STATE', message: expect.stringMatching(/COMPLETED/) },
      },
      { taskId: 'nope', outcome: 'refused', error: { code: 'TASK_NOT_FOUND', message: expect.any(String) } },
      { taskId: b, outcome: 'redriven' },
    ]);
    expect(dry.results).toEqual(report.results);
    const tasks = w.registry.getRepository('tasks');
    expect(await tasks.get(a)).toMatchObject({ status: 'PENDING', attempts: 1 });
    expect((await tasks.get(a))!.errors).toHaveLength(1);
    expect(await tasks.get(cancelledTask)).toMatchObject({ status: 'FAILED' });
    expect(ids((await manager.listDeadLetters()).items)).toEqual([cancelledTask]);

    // A re-driven task runs again with a full attempt budget (two attempts here, though it has
    // made one already) and completes; its history stays.
    let calls = 0;
    const flakyOnce: Agent = {
      id: 'agent-a',
      async execute() {
        calls += 1;
        if (calls === 1) throw new Error('still broken');
        return 'fixed';
      },
    };
    const result = await w.registry
      .getEnhancedExecutor()
      .executeTask(a, flakyOnce, live.id, { retry: { maxAttempts: 2, initialDelayMs: 0, jitter: 0 } });
    expect(result.status).toBe('COMPLETED');
    const after = await tasks.get(a);
    expect(after).toMatchObject({ status: 'COMPLETED', attempts: 3 });
    expect(after!.errors.map((error) => error.message)).toEqual(['TypeError happened', 'still broken']);
  });

  it('re-drives everything a filter selects, newest failure first', async () => {
    const w = world(engine, backend().store);
    const manager = w.registry.getTaskManager();
    const a = await w.run('a', failing('agent-a', { name: 'ProviderError', code: 'RATE_LIMITED' }), 1_000);
    const b = await w.run('b', failing('agent-a', { name: 'TypeError' }), 2_000);
    const c = await w.run('c', failing('agent-b', { name: 'ProviderError', code: 'RATE_LIMITED' }), 3_000);
    const report = await manager.redriveDeadLetters({ filter: { error: 'RATE_LIMITED' } });
    expect(report.results).toEqual([
      { taskId: c, outcome: 'redriven' },
      { taskId: a, outcome: 'redriven' },
    ]);
    expect(ids((await manager.listDeadLetters()).items)).toEqual([b]);
    expect(await manager.redriveDeadLetters({ filter: { error: 'RATE_LIMITED' } })).toMatchObject({
      results: [],
      redriven: 0,
    });
  });

  it('with submit, re-drives a task that workers ran back onto the workers, which complete it', async () => {
    const b = backend();
    const submitter = engine(b.store);
    const manager = submitter.getTaskManager();
    const task = await manager.createTask({ name: 'flaky' });
    await submitter.getEnhancedExecutor().enqueueTasks([[task.id, 'worker-agent']]);
    const failingNow = { now: true };
    const runs: string[] = [];
    const worker = await engine(b.reopen(), { engineId: 'dead-letter-worker' }).startWorker({
      resolveAgent: () => ({
        id: 'worker-agent',
        async execute(t) {
          runs.push(t.id);
          if (failingNow.now) throw Object.assign(new Error('provider down'), { code: 'PROVIDER_DOWN' });
          return 'ok';
        },
      }),
      pollMs: 10,
    });
    const tasks = submitter.getRepository('tasks');
    await until('the task FAILED on the worker', async () => (await tasks.get(task.id))?.status === 'FAILED');
    expect(ids((await manager.listDeadLetters({ error: 'PROVIDER_DOWN' })).items)).toEqual([task.id]);

    failingNow.now = false;
    const report = await manager.redriveDeadLetters({
      taskIds: [task.id],
      submit: { retry: { maxAttempts: 2 } },
    });
    expect(report.results).toEqual([{ taskId: task.id, outcome: 'redriven', agentKey: 'worker-agent' }]);
    await until('the worker completed it', async () => (await tasks.get(task.id))?.status === 'COMPLETED');
    const done = await tasks.get(task.id);
    expect(done).toMatchObject({ attempts: 2, execution: null });
    expect(done!.errors).toHaveLength(1);
    expect(runs).toEqual([task.id, task.id]);
    await worker.stop();
  });

  it('without submit, a task a worker ran is PENDING with no plan after its re-drive (no worker takes it)', async () => {
    const b = backend();
    const submitter = engine(b.store);
    const manager = submitter.getTaskManager();
    const task = await manager.createTask({ name: 'once' });
    await submitter.getEnhancedExecutor().enqueueTasks([[task.id, 'worker-agent']]);
    const worker = await engine(b.reopen(), { engineId: 'dead-letter-worker-2' }).startWorker({
      resolveAgent: () => failing('worker-agent', { name: 'TypeError' }),
      pollMs: 10,
    });
    const tasks = submitter.getRepository('tasks');
    await until('the task FAILED on the worker', async () => (await tasks.get(task.id))?.status === 'FAILED');
    await worker.stop();
    const report = await manager.redriveDeadLetters({ taskIds: [task.id] });
    expect(report.results).toEqual([{ taskId: task.id, outcome: 'redriven' }]);
    expect(await tasks.get(task.id)).toMatchObject({ status: 'PENDING', execution: null });
  });
});
