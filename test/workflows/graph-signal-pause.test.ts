import { describe, expect, it } from 'vitest';
import { ServiceRegistry, type Agent, type Store } from '../../src/index.js';
import { localStores } from './local-stores.js';
import { createTestClock, flushEngine, type TestClock } from '../../src/testing/index.js';

// A paused workflow's waits (docs/workflows.md, "Waits and signals"): a signal sent while the
// workflow is paused is kept, and taken by the wait once the workflow resumes, not before; a wait
// whose timeout comes due while paused does not end until the resume either.

const stores = localStores('signal-pause');

const echo: Agent = { id: 'echo', execute: async (task) => ({ ran: task.name }) };

/** A workflow `wait (go) -> after`, run until the wait is under way, then paused. */
async function pausedWait(store: Store, clock: TestClock, timeoutMs: number | null) {
  const registry = new ServiceRegistry({ store, clock, controlPollMs: 0 });
  const tasks = registry.getTaskManager();
  const tracker = registry.getWorkflowTracker();
  const executor = registry.getEnhancedExecutor();
  const wf = await tracker.createWorkflow({ name: 'paused wait' });
  const wait = await tasks.createTask({ name: 'wait' });
  const after = await tasks.createTask({ name: 'after' });
  await tracker.addTasksToWorkflow(wf.id, [
    { taskId: wait.id, key: 'wait', waitFor: timeoutMs === null ? 'go' : { signals: 'go', timeoutMs } },
    { taskId: after.id, dependsOn: [wait.id] },
  ]);
  const run = executor.executeWorkflow(wf.id, { agent: echo });
  await flushEngine(20);
  await tracker.pauseWorkflow(wf.id);
  expect((await run).status).toBe('PAUSED');
  return { registry, tasks, tracker, executor, store, wf, wait, after };
}

describe.each(stores)('a signal sent while the workflow is paused (%s)', (_name, makeStore) => {
  it('is kept, and taken by the wait on resume', async () => {
    const w = await pausedWait(makeStore(), createTestClock(0), null);
    await w.registry.signal(w.wf.id, 'go', { n: 1 });
    await flushEngine(20);
    expect((await w.tasks.getTask(w.wait.id)).status).toBe('PENDING');
    expect(await w.tracker.getWorkflowStatus(w.wf.id)).toBe('PAUSED');
    expect((await w.store.signals(w.wf.id, { pending: true })).map((s) => s.payload)).toEqual([{ n: 1 }]);
    await w.tracker.resumeWorkflow(w.wf.id);
    expect((await w.executor.executeWorkflow(w.wf.id, { agent: echo })).status).toBe('COMPLETED');
    expect((await w.tasks.getTask(w.wait.id)).outputData).toMatchObject({ signal: 'go', payload: { n: 1 } });
    expect(await w.store.signals(w.wf.id, { pending: true })).toEqual([]);
    await w.registry.stop();
  });

  it('is taken on resume although the timeout came due while paused', async () => {
    const clock = createTestClock(0);
    const w = await pausedWait(makeStore(), clock, 60_000);
    await w.registry.signal(w.wf.id, 'go', 'late');
    clock.increment(60_000);
    await flushEngine(20);
    expect((await w.tasks.getTask(w.wait.id)).status).toBe('PENDING');
    await w.tracker.resumeWorkflow(w.wf.id);
    expect((await w.executor.executeWorkflow(w.wf.id, { agent: echo })).status).toBe('COMPLETED');
    expect((await w.tasks.getTask(w.wait.id)).outputData).toMatchObject({ payload: 'late' });
    await w.registry.stop();
  });

  it('without a signal, a wait due while paused times out only on resume', async () => {
    const clock = createTestClock(0);
    const w = await pausedWait(makeStore(), clock, 60_000);
    clock.increment(60_000);
    await flushEngine(20);
    expect((await w.tasks.getTask(w.wait.id)).status).toBe('PENDING');
    await w.tracker.resumeWorkflow(w.wf.id);
    const run = w.executor.executeWorkflow(w.wf.id, { agent: echo });
    // The resume arms its timer again on the stored due time, already passed (the simulated clock
    // fires a timer only when moved).
    await flushEngine(20);
    clock.increment(0);
    expect((await run).status).toBe('FAILED');
    expect((await w.tasks.getTask(w.wait.id)).errors.at(-1)).toMatchObject({ code: 'WAIT_TIMED_OUT' });
    await w.registry.stop();
  });
});
