import { describe, expect, it } from 'vitest';
import { MemoryStore, ServiceRegistry } from '../../../src/index.js';
import { createTestClock, flushEngine, manualAgent } from '../../../src/testing/index.js';
import { countsOf, expectConsistent, queueEntries, runtimeOf } from './kit.js';

// Review of 1527540 / 493f51b: an execution is queued exactly while its task actor is in
// PENDING.ready, and the executor's `queued` count follows, whatever the way in or out.

async function engine(maxConcurrency = 1) {
  const clock = createTestClock(1_000_000);
  const store = new MemoryStore();
  const registry = new ServiceRegistry({
    store,
    clock,
    controlPollMs: 0,
    random: () => 0.5,
    retry: { maxAttempts: 3, initialDelayMs: 1_000, backoffFactor: 1, jitter: 0 },
  });
  const executor = registry.getEnhancedExecutor();
  const runtime = await runtimeOf(executor);
  const tasks = registry.getTaskManager();
  const tracker = registry.getWorkflowTracker();
  const agent = manualAgent('one', { maxConcurrency });
  return { clock, store, registry, executor, runtime, tasks, tracker, agent };
}

describe('review: queue membership follows the task machine', () => {
  it('queued, paused, held, resumed, unheld and cancelled in every order: counts stay equal', async () => {
    const { registry, executor, runtime, tasks, tracker, agent } = await engine();
    const workflow = await tracker.createWorkflow({ name: 'w' });
    const ids: string[] = [];
    for (let i = 0; i < 4; i += 1)
      ids.push((await tasks.createTask({ name: `t${i}`, workflowId: workflow.id })).id);
    const results = ids.map((id) => executor.executeTask(id, agent, workflow.id));
    for (const result of results) result.catch(() => {});
    // t0 runs; t1..t3 wait.
    expect((await expectConsistent(runtime)).phases).toEqual({ running: 1, queued: 3 });

    await tasks.pauseTask(ids[1]!);
    expect((await expectConsistent(runtime)).phases).toEqual({ running: 1, queued: 2, paused: 1 });
    await tracker.pauseWorkflow(workflow.id);
    expect((await expectConsistent(runtime)).phases).toEqual({ running: 1, paused: 3 });
    // RESUME of the paused task while its workflow is paused: into PENDING.ready and straight on
    // to PENDING.held (entry then exit in one macrostep).
    await tasks.resumeTask(ids[1]!);
    expect((await expectConsistent(runtime)).phases).toEqual({ running: 1, paused: 3 });
    await tasks.pauseTask(ids[2]!);
    await tracker.resumeWorkflow(workflow.id);
    expect((await expectConsistent(runtime)).phases).toEqual({ running: 1, queued: 2, paused: 1 });
    await tasks.cancelTask(ids[3]!);
    expect((await expectConsistent(runtime)).phases).toEqual({ running: 1, queued: 1, paused: 1 });
    await tasks.resumeTask(ids[2]!);
    expect((await expectConsistent(runtime)).phases).toEqual({ running: 1, queued: 2 });

    agent.resolveNext('a');
    await flushEngine();
    expect((await expectConsistent(runtime)).phases).toEqual({ running: 1, queued: 1 });
    agent.resolveNext('b');
    await flushEngine();
    agent.resolveNext('c');
    const statuses = await Promise.allSettled(results);
    expect(statuses.map((s) => (s.status === 'fulfilled' ? s.value.status : 'rejected'))).toEqual([
      'COMPLETED',
      'COMPLETED',
      'COMPLETED',
      'CANCELLED',
    ]);
    expect(await countsOf(runtime)).toMatchObject({
      executorQueued: 0,
      dispatcherQueued: 0,
      executorInFlight: 0,
    });
    await registry.stop();
  });

  it('a retry due while its workflow is paused waits held, then runs on UNHOLD; counts follow', async () => {
    const { clock, registry, executor, runtime, tasks, tracker, agent } = await engine();
    const workflow = await tracker.createWorkflow({ name: 'w' });
    const task = await tasks.createTask({ name: 't', workflowId: workflow.id });
    const done = executor.executeTask(task.id, agent, workflow.id);
    await flushEngine();
    // Paused while running: the attempt goes on (HOLD is only remembered).
    await tracker.pauseWorkflow(workflow.id);
    expect((await expectConsistent(runtime)).phases).toEqual({ running: 1 });
    agent.rejectNext(new Error('transient'));
    expect((await expectConsistent(runtime)).phases).toEqual({ backoff: 1 });
    clock.increment(1_000);
    // Due: PENDING.ready (queued) and at once PENDING.held (taken out).
    expect((await expectConsistent(runtime)).phases).toEqual({ paused: 1 });
    expect(agent.calls).toHaveLength(1);
    await tracker.resumeWorkflow(workflow.id);
    expect((await expectConsistent(runtime)).phases).toEqual({ running: 1 });
    agent.resolveNext('ok');
    expect((await done).status).toBe('COMPLETED');
    expect(await countsOf(runtime)).toMatchObject({ executorQueued: 0, executorInFlight: 0 });
    await registry.stop();
  });

  it('UNHOLD (workflow resumed) while in backoff waits for the due time; PAUSE in backoff then RESUME queues it', async () => {
    const { clock, registry, executor, runtime, tasks, tracker, agent } = await engine();
    const workflow = await tracker.createWorkflow({ name: 'w' });
    const task = await tasks.createTask({ name: 't', workflowId: workflow.id });
    const done = executor.executeTask(task.id, agent, workflow.id);
    await flushEngine();
    agent.rejectNext(new Error('transient'));
    expect((await expectConsistent(runtime)).phases).toEqual({ backoff: 1 });
    await tracker.pauseWorkflow(workflow.id);
    await tracker.resumeWorkflow(workflow.id);
    expect((await expectConsistent(runtime)).phases).toEqual({ backoff: 1 });
    expect(agent.calls).toHaveLength(1);
    await tasks.pauseTask(task.id);
    expect((await expectConsistent(runtime)).phases).toEqual({ paused: 1 });
    clock.increment(5_000);
    expect((await expectConsistent(runtime)).phases).toEqual({ paused: 1 });
    await tasks.resumeTask(task.id);
    expect((await expectConsistent(runtime)).phases).toEqual({ running: 1 });
    agent.resolveNext('ok');
    expect((await done).status).toBe('COMPLETED');
    await registry.stop();
  });

  it('RESUME of a running task is refused and changes nothing', async () => {
    const { registry, executor, runtime, tasks, agent } = await engine();
    const task = await tasks.createTask({ name: 't' });
    const done = executor.executeTask(task.id, agent);
    await flushEngine();
    await expect(tasks.resumeTask(task.id)).rejects.toMatchObject({ code: 'INVALID_STATE' });
    expect((await expectConsistent(runtime)).phases).toEqual({ running: 1 });
    agent.resolveNext('ok');
    expect((await done).status).toBe('COMPLETED');
    await registry.stop();
  });

  it('stop() with executions queued, held, paused, in backoff and reserved: all let go, counts back to 0', async () => {
    const { registry, executor, runtime, tasks, tracker, agent } = await engine(2);
    const held = await tracker.createWorkflow({ name: 'held' });
    const ids: string[] = [];
    for (let i = 0; i < 4; i += 1) ids.push((await tasks.createTask({ name: `t${i}` })).id);
    const heldTask = await tasks.createTask({ name: 'h', workflowId: held.id });
    const results = [
      executor.executeTask(ids[0]!, agent), // runs, then fails: backoff
      executor.executeTask(ids[1]!, agent), // runs
      executor.executeTask(ids[2]!, agent), // queued
    ];
    await flushEngine();
    agent.rejectNext(new Error('transient'));
    results.push(executor.executeTask(heldTask.id, agent, held.id));
    await tracker.pauseWorkflow(held.id);
    await tasks.pauseTask(ids[3]!);
    results.push(executor.executeTask(ids[3]!, agent)); // PAUSED
    for (const result of results) result.catch(() => {});
    const counts = await expectConsistent(runtime);
    expect(counts.phases).toEqual({ running: 2, backoff: 1, paused: 2 });
    const stopping = registry.stop({ graceMs: Infinity });
    await flushEngine();
    expect(await countsOf(runtime)).toMatchObject({
      phases: { running: 2 },
      executorQueued: 0,
      dispatcherQueued: 0,
    });
    agent.resolveNext('a');
    agent.resolveNext('b');
    await stopping;
    const statuses = await Promise.allSettled(results);
    expect(statuses.map((s) => s.status)).toEqual([
      'rejected',
      'fulfilled',
      'fulfilled',
      'rejected',
      'rejected',
    ]);
  });

  async function backlogCycled(cycles: number) {
    const { registry, executor, runtime, tasks, tracker, agent } = await engine();
    const workflow = await tracker.createWorkflow({ name: 'w' });
    const ids: string[] = [];
    for (let i = 0; i < 11; i += 1)
      ids.push((await tasks.createTask({ name: `t${i}`, workflowId: workflow.id })).id);
    const results = ids.map((id) => executor.executeTask(id, agent, workflow.id));
    for (const result of results) result.catch(() => {});
    await flushEngine();
    const before = queueEntries(runtime);
    for (let cycle = 0; cycle < cycles; cycle += 1) {
      await tracker.pauseWorkflow(workflow.id);
      await tracker.resumeWorkflow(workflow.id);
    }
    await flushEngine();
    return { registry, runtime, agent, before, after: queueEntries(runtime) };
  }

  it('pausing and resuming a workflow with a backlog keeps queue and counts in step', async () => {
    const { registry, runtime, agent } = await backlogCycled(5);
    expect((await expectConsistent(runtime)).phases).toEqual({ running: 1, queued: 10 });
    // The slot frees: the oldest waiting one takes it, once.
    agent.resolveNext('a');
    await flushEngine();
    expect((await expectConsistent(runtime)).phases).toEqual({ running: 1, queued: 9 });
    expect(agent.calls).toHaveLength(2);
    await registry.stop({ graceMs: 0 });
  });

  // Found by review (a regression of 1527540, fixed): every pause/resume cycle of a workflow left
  // one stale heap entry per queued execution. HOLD takes the execution out of the dispatcher's
  // `queued` set (exit action `unready`) but leaves its entry in the agent's PriorityQueue (lazy
  // deletion); UNHOLD's entry action `ready` -> `enqueue` pushed a second entry (10 -> 60 entries
  // after 5 cycles). The dispatcher now keeps at most one entry per execution (`entered`): one
  // queued again before its entry came up keeps that entry.
  it('pausing and resuming a workflow with a backlog does not grow the queues', async () => {
    const { registry, before, after } = await backlogCycled(5);
    await registry.stop({ graceMs: 0 });
    expect(before).toBe(10);
    expect(after).toBe(10);
  });
});
