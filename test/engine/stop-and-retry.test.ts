import { describe, expect, it } from 'vitest';
import { MemoryStore, ServiceRegistry, type RetryPolicy } from '../../src/index.js';
import { createTestClock, flushEngine, manualAgent, stopNow } from '../../src/testing/index.js';

// stop(graceMs) lets go of waiting executions, then waits for the running attempts. An attempt that
// fails during the grace period with a retry left is waiting again afterwards: it must be let go
// too (its promise rejects ENGINE_STOPPED, its lease is released), not left hanging (found by
// review; failed before the fix).

/** An engine on a memory store and a simulated clock, random() = 0.5, with the given retry policy. */
function engine(retry: Partial<RetryPolicy>) {
  const store = new MemoryStore();
  const clock = createTestClock();
  const registry = new ServiceRegistry({ store, clock, random: () => 0.5, retry, controlPollMs: 0 });
  return { store, clock, registry };
}

describe('stop() while a running attempt fails with a retry left', () => {
  it('rejects the execution with ENGINE_STOPPED and releases its lease', async () => {
    const { store, clock, registry } = engine({ maxAttempts: 3, initialDelayMs: 1_000 });
    const taskManager = registry.getTaskManager();
    const executor = registry.getEnhancedExecutor();
    const task = await taskManager.createTask({ name: 't' });
    const agent = manualAgent('a');
    let outcome: string = 'unsettled';
    const done = executor.executeTask(task.id, agent).then(
      (result) => (outcome = `resolved ${result.status}`),
      (error: { code?: string }) => (outcome = `rejected ${error.code}`),
    );
    await flushEngine();
    expect(agent.waiting).toHaveLength(1);

    const stopped = registry.stop({ graceMs: 60_000 });
    await flushEngine();
    agent.rejectNext(new Error('transient')); // fails within the grace period; 2 attempts left
    await stopped;
    await flushEngine();
    clock.increment(5_000); // the retry's due time passes: still nothing settles it
    await flushEngine();

    expect(outcome).toBe('rejected ENGINE_STOPPED');
    const row = await store.tasks.get(task.id);
    expect(row).toMatchObject({ status: 'PENDING', attempts: 1, leaseOwner: null });
    void done;
  });
});

describe('retry backoff across runs', () => {
  it('a manual retry starts its backoff afresh: the first retry of the new run waits initialDelayMs', async () => {
    const { store, clock, registry } = engine({
      maxAttempts: 2,
      initialDelayMs: 1_000,
      backoffFactor: 4,
      jitter: 0,
    });
    const taskManager = registry.getTaskManager();
    const executor = registry.getEnhancedExecutor();
    const task = await taskManager.createTask({ name: 't' });
    const agent = manualAgent('a');
    /** Fails the running attempt and returns the wait the stored row then shows. */
    const failAndReadWait = async () => {
      await flushEngine();
      agent.rejectNext(new Error('transient'));
      await flushEngine();
      const row = (await store.tasks.get(task.id))!;
      return row.runAfter! - clock.now();
    };
    const first = executor.executeTask(task.id, agent);
    expect(await failAndReadWait()).toBe(1_000);
    clock.increment(1_000);
    await flushEngine();
    agent.rejectNext(new Error('transient'));
    expect((await first).status).toBe('FAILED');

    await taskManager.retryTask(task.id);
    const second = executor.executeTask(task.id, agent);
    // Attempt 3 overall, but the first of this run: 1,000 ms again, not 1,000 * 4^2.
    expect(await failAndReadWait()).toBe(1_000);
    clock.increment(1_000);
    await flushEngine();
    agent.resolveNext('done');
    expect(await second).toMatchObject({ status: 'COMPLETED', attempts: 4 });
    await registry.stop();
  });

  it('a manual retry starts the interruption count afresh too', async () => {
    const { store, clock, registry } = engine({ maxAttempts: 1, maxInterruptions: 1 });
    const task = await registry.getTaskManager().createTask({ name: 't' });
    const hanging = manualAgent('a');
    const first = registry
      .getEnhancedExecutor()
      .executeTask(task.id, hanging)
      .catch((error: unknown) => error);
    await flushEngine();
    await stopNow(registry, clock); // interrupted once, no attempt left: the task FAILED
    expect(await first).toMatchObject({ code: 'ENGINE_STOPPED' });
    expect(await store.tasks.get(task.id)).toMatchObject({ status: 'FAILED', attempts: 1 });

    // A new engine on the same store; the retried run allows one interruption.
    const next = new ServiceRegistry({ store, clock, random: () => 0.5, controlPollMs: 0 });
    await next.getTaskManager().retryTask(task.id);
    const second = next
      .getEnhancedExecutor()
      .executeTask(task.id, manualAgent('b'), null, { retry: { maxAttempts: 2, maxInterruptions: 1 } })
      .catch((error: unknown) => error);
    await flushEngine();
    await stopNow(next, clock);
    expect(await second).toMatchObject({ code: 'ENGINE_STOPPED' });
    // This run's first interruption is within its limit: the task waits for the next engine.
    const row = await store.tasks.get(task.id);
    expect(row).toMatchObject({ status: 'PENDING', attempts: 2 });
    expect(row!.errors.map((error) => error.code)).toEqual(['ATTEMPT_INTERRUPTED', 'ATTEMPT_INTERRUPTED']);
  });
});
