/**
 * Delays, deadlines and timeouts (issue 14; docs/policies.md "Delays, deadlines and timeouts"), on
 * every store, on the simulated clock: a delayed task starts at its time (also after a restart); a
 * deadline passed while queued ends it DEADLINE_EXCEEDED unrun; schedule-to-close ends a retrying
 * task; a silent agent is aborted by its heartbeat timeout and retried, a heartbeating one is not;
 * a worker claiming a task past its deadline fails it instead of running it.
 */
import { expect, it } from 'vitest';
import type { Store } from '../../src/index.js';
import { advance, createTestClock, manualAgent } from '../../src/testing/index.js';
import { describeEveryStore, useEngines } from '../durability/backends.js';
import { advanceUntil, until } from '../support/wait.js';

/** Waits (bounded) until the agent has `n` calls waiting: on PostgreSQL a start's commit takes real I/O. */
const calls = (agent: { waiting: readonly unknown[] }, n = 1) =>
  until(`${n} waiting call(s)`, () => agent.waiting.length === n, { timeoutMs: 20_000 });

describeEveryStore('time limits', (backend) => {
  const engine = useEngines();
  const setup = (store?: Store) => {
    const b = backend();
    const clock = createTestClock(1_000_000);
    const registry = engine(store ?? b.store, { clock, random: () => 0.5 });
    return { b, clock, registry, tasks: registry.getTaskManager(), executor: registry.getEnhancedExecutor() };
  };

  it('a delayed task starts at its time, not before; its row waits with runAfter', async () => {
    const { clock, tasks, executor, registry } = setup();
    const task = await tasks.createTask({ name: 'later' });
    const agent = manualAgent('a');
    const done = executor.executeTask(task.id, agent, undefined, { delayMs: 500 });
    await advance(clock, 499);
    expect(agent.waiting).toHaveLength(0);
    // The plan's commit is real I/O on PostgreSQL: wait (bounded) for the stored row.
    const stored = () => registry.getRepository('tasks').get(task.id);
    await until('the row to wait with runAfter', async () => (await stored())?.runAfter === 1_000_500);
    expect(await stored()).toMatchObject({ status: 'PENDING', runAfter: 1_000_500 });
    expect(agent.waiting).toHaveLength(0);
    await advance(clock, 1);
    await calls(agent);
    agent.resolveNext('ok');
    expect((await done).status).toBe('COMPLETED');
  });

  it('a deadline passed while queued behind a busy agent ends the task DEADLINE_EXCEEDED, unrun, not retried', async () => {
    const { clock, tasks, executor } = setup();
    const agent = manualAgent('busy', { maxConcurrency: 1 });
    const first = await tasks.createTask({ name: 'first' });
    const second = await tasks.createTask({ name: 'second' });
    const running = executor.executeTask(first.id, agent);
    await calls(agent);
    const late = executor.executeTask(second.id, agent, undefined, {
      scheduleToStartMs: 100,
      retry: { maxAttempts: 3 },
    });
    await advance(clock, 100);
    const result = await late;
    expect(result.status).toBe('FAILED');
    expect(result.attempts).toBe(0);
    expect(result.error).toMatchObject({ code: 'DEADLINE_EXCEEDED', retryable: false });
    agent.resolveNext('first');
    expect((await running).status).toBe('COMPLETED');
    expect(agent.calls.map((c) => c.task.id)).toEqual([first.id]);
  });

  it('schedule-to-close aborts a retrying task and ends it SCHEDULE_TO_CLOSE_TIMEOUT', async () => {
    const { clock, tasks, executor } = setup();
    const agent = manualAgent('flaky');
    const task = await tasks.createTask({ name: 'flaky' });
    const done = executor.executeTask(task.id, agent, undefined, {
      scheduleToCloseMs: 250,
      retry: { maxAttempts: 10, initialDelayMs: 100, backoffFactor: 1, maxDelayMs: 100, jitter: 0 },
    });
    await calls(agent);
    agent.rejectNext(new Error('transient')); // attempt 1 fails at 0; attempt 2 at 100
    await calls(agent, 0);
    await advance(clock, 100);
    await calls(agent);
    agent.rejectNext(new Error('transient')); // attempt 2 fails at 100; attempt 3 at 200
    await calls(agent, 0);
    await advance(clock, 100);
    await calls(agent); // attempt 3 runs when the limit passes
    await advance(clock, 50);
    const result = await done;
    expect(result.status).toBe('FAILED');
    expect(result.attempts).toBe(3);
    expect(result.error).toMatchObject({ code: 'SCHEDULE_TO_CLOSE_TIMEOUT', retryable: false });
    expect(result.finishedAt).toBe(1_000_250);
  });

  it('a silent agent is aborted by the heartbeat timeout and retried; a heartbeating one is not', async () => {
    const { clock, tasks, executor } = setup();
    const agent = manualAgent('long');
    const task = await tasks.createTask({ name: 'long' });
    const done = executor.executeTask(task.id, agent, undefined, {
      heartbeatTimeoutMs: 100,
      retry: { maxAttempts: 2, initialDelayMs: 0, maxDelayMs: 0 },
    });
    await calls(agent);
    await advance(clock, 100); // attempt 1 stays silent
    await advanceUntil('the agent to be called', clock, 0, () => agent.waiting[0]?.context.attempt === 2);
    const second = agent.waiting[0]!.context;
    expect(second.attempt).toBe(2);
    for (let i = 0; i < 5; i += 1) {
      second.heartbeat({ step: i });
      await advance(clock, 60);
    }
    agent.resolveNext('done');
    const result = await done;
    expect(result.status).toBe('COMPLETED');
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toMatchObject({ code: 'HEARTBEAT_TIMEOUT', retryable: true, attempt: 1 });
  });

  it('the last heartbeat details reach the next attempt as context.lastHeartbeat', async () => {
    const { clock, tasks, executor } = setup();
    const agent = manualAgent('resumable');
    const task = await tasks.createTask({ name: 'resumable' });
    const done = executor.executeTask(task.id, agent, undefined, {
      heartbeatTimeoutMs: 100,
      retry: { maxAttempts: 2, initialDelayMs: 0, maxDelayMs: 0 },
    });
    await calls(agent);
    agent.waiting[0]!.context.heartbeat({ page: 7 });
    await advance(clock, 100);
    await advanceUntil('the agent to be called', clock, 0, () => agent.waiting[0]?.context.attempt === 2);
    expect(agent.waiting[0]!.context.lastHeartbeat).toEqual({ page: 7 });
    agent.resolveNext('ok');
    expect((await done).status).toBe('COMPLETED');
  });

  it('a worker claiming a task past its deadline fails it instead of running it; a delayed one waits for its time', async () => {
    const { b, clock, tasks, executor } = setup();
    const late = await tasks.createTask({ name: 'late' });
    const delayed = await tasks.createTask({ name: 'delayed' });
    await executor.enqueueTasks([[late.id, 'w']], { scheduleToStartMs: 100 });
    await executor.enqueueTasks([[delayed.id, 'w']], { delayMs: 1_000 });
    await advance(clock, 200);
    const agent = manualAgent('w');
    const worker = engine(b.reopen(), { clock, engineId: 'worker-1' });
    const handle = await worker.startWorker({ resolveAgent: () => agent, pollMs: 10 });
    const repo = worker.getRepository('tasks');
    // Bounded by real time, not by a count of clock steps: on PostgreSQL each claim is real I/O.
    const statusReaches = (id: string, status: string) =>
      advanceUntil(`${id} ${status}`, clock, 10, async () => (await repo.get(id))?.status === status);
    await statusReaches(late.id, 'FAILED');
    expect(await repo.get(late.id)).toMatchObject({ status: 'FAILED', attempts: 0 });
    expect((await repo.get(late.id))!.errors[0]).toMatchObject({ code: 'DEADLINE_EXCEEDED' });
    expect(agent.calls).toHaveLength(0);
    await advanceUntil('the agent to be called', clock, 10, () => agent.waiting.length > 0);
    expect(clock.now()).toBeGreaterThanOrEqual(1_001_000);
    agent.resolveNext('ok');
    await statusReaches(delayed.id, 'COMPLETED');
    expect((await repo.get(delayed.id))?.status).toBe('COMPLETED');
    await handle.stop();
  });
});
