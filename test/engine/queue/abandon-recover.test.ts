import { describe, expect, it } from 'vitest';
import { MemoryStore, ServiceRegistry, type StoreBatch } from '../../../src/index.js';
import { StoreError } from '../../../src/errors/errors.js';
import { advance, createTestClock, flushEngine, manualAgent } from '../../../src/testing/index.js';
import { countsOf, expectConsistent, runtimeOf } from './kit.js';

/** A memory store whose commits fail while `down`. */
class FlakyStore extends MemoryStore {
  down = false;
  override async commit(batch: StoreBatch): Promise<void> {
    if (this.down) throw new StoreError('STORE_UNAVAILABLE', 'down (test)', { retryable: true });
    await super.commit(batch);
  }
}

describe('review: the store lost (abandon) and recover() with executions in every phase', () => {
  it('lets go of queued, held, paused, backoff and reserved executions, counts back to 0; recover() queues them again', async () => {
    const store = new FlakyStore();
    const clock = createTestClock(1_000_000);
    const registry = new ServiceRegistry({
      store,
      clock,
      controlPollMs: 0,
      storeRetryMs: 4_000,
      random: () => 0.5,
      retry: { maxAttempts: 3, initialDelayMs: 60_000, backoffFactor: 1, jitter: 0 },
    });
    const executor = registry.getEnhancedExecutor();
    const runtime = await runtimeOf(executor);
    const tasks = registry.getTaskManager();
    const tracker = registry.getWorkflowTracker();
    const agent = manualAgent('one', { maxConcurrency: 2 });
    const held = await tracker.createWorkflow({ name: 'held' });
    const ids: string[] = [];
    for (let i = 0; i < 6; i += 1) ids.push((await tasks.createTask({ name: `t${i}` })).id);
    const heldTask = await tasks.createTask({ name: 'h', workflowId: held.id });
    const results: Promise<unknown>[] = [
      executor.executeTask(ids[0]!, agent), // runs, then fails: backoff
      executor.executeTask(ids[1]!, agent), // runs
      executor.executeTask(ids[2]!, agent), // queued
    ];
    await flushEngine();
    agent.rejectNext(new Error('transient'));
    await flushEngine();
    results.push(executor.executeTask(heldTask.id, agent, held.id));
    await tracker.pauseWorkflow(held.id);
    await tasks.pauseTask(ids[3]!);
    results.push(executor.executeTask(ids[3]!, agent)); // PAUSED
    // A batch whose second execution waits for its lane (reserved).
    results.push(
      executor.batchExecute(
        [
          [ids[4]!, agent],
          [ids[5]!, agent],
        ],
        { maxConcurrent: 1 },
      ),
    );
    for (const result of results) result.catch(() => {});
    await flushEngine();
    expect((await expectConsistent(runtime)).phases).toEqual({
      running: 2,
      backoff: 1,
      paused: 2,
      queued: 1,
      reserved: 1,
    });

    store.down = true;
    // Something to commit, so the committer notices the outage.
    void tasks.createTask({ name: 'during the outage' }).catch(() => {});
    await advance(clock, 5_000);
    await flushEngine();
    expect(await countsOf(runtime)).toEqual({
      phases: {},
      executorQueued: 0,
      dispatcherQueued: 0,
      executorInFlight: 0,
    });
    const settled = await Promise.allSettled(results);
    expect(settled.every((s) => s.status === 'rejected')).toBe(true);

    store.down = false;
    const report = await registry.recover({ resolveAgent: () => agent });
    expect(report.recovered).toHaveLength(7);
    report.results.catch(() => {});
    const counts = await expectConsistent(runtime);
    // t0's retry was on record (backoff); t1 and t2 were RUNNING: interrupted, backoff too; t4 and
    // t5 (the batch) take the two slots; the paused task and the held one wait.
    expect(counts.phases).toEqual({ backoff: 3, running: 2, paused: 2 });
    await registry.stop({ graceMs: 0 }).catch(() => {});
  });
});
