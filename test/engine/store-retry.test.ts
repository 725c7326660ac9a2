// Regression tests for issue 10, item 4 (a transient loss of the store must not strand work) and
// issue 9 (the logger option), on the simulated clock with a store whose commits fail on demand.
// The same behaviour on real stores: test/durability/store-outage.test.ts.
import { describe, expect, it } from 'vitest';
import type { Agent } from '../../src/domain/agent.js';
import { consoleLogger, type Logger } from '../../src/engine/logger.js';
import { InvalidArgumentError, StoreError } from '../../src/errors/errors.js';
import { MemoryStore, ServiceRegistry, type StoreBatch } from '../../src/index.js';
import { advance, createTestClock, flushEngine } from '../../src/testing/clock.js';
import { recordingLogger } from '../support/recording-logger.js';

/** A memory store that can be taken down: commits then fail as a dropped connection does. */
class FlakyStore extends MemoryStore {
  down = false;
  /** Commits that write the batch and then report a lost connection (the COMMIT's reply lost). */
  lostReplies = 0;
  failed = 0;

  closed = false;

  override async close(): Promise<void> {
    this.closed = true;
    await super.close();
  }

  /** The next commit is refused as a bad row would be (not transient). */
  refuseNext = false;

  override async commit(batch: StoreBatch): Promise<void> {
    if (this.refuseNext) {
      this.refuseNext = false;
      throw new InvalidArgumentError('A row was refused (test)');
    }
    if (this.down) {
      this.failed += 1;
      throw new StoreError('STORE_UNAVAILABLE', 'Lost the connection (test)', { retryable: true });
    }
    await super.commit(batch);
    if (this.lostReplies > 0) {
      this.lostReplies -= 1;
      this.failed += 1;
      throw new StoreError('STORE_UNAVAILABLE', 'Connection terminated after COMMIT (test)', {
        retryable: true,
      });
    }
  }
}

const echo: Agent = { id: 'echo', execute: async (task) => ({ echoed: task.name }) };

async function setup(storeRetryMs: number, logger?: Logger) {
  const store = new FlakyStore();
  const clock = createTestClock(1_700_000_000_000);
  const registry = new ServiceRegistry({
    store,
    clock,
    storeRetryMs,
    random: () => 0.5,
    controlPollMs: 0,
    ...(logger ? { logger } : {}),
  });
  const workflow = await registry.getWorkflowTracker().createWorkflow({ name: 'outage' });
  const ids: string[] = [];
  for (let i = 0; i < 12; i += 1) {
    ids.push((await registry.getTaskManager().createTask({ name: `t${i}`, workflowId: workflow.id })).id);
  }
  return { store, clock, registry, workflowId: workflow.id, ids };
}

function track<T>(promise: Promise<T>): { promise: Promise<T>; settled: () => boolean } {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  return { promise, settled: () => settled };
}

describe('a store that is unreachable for a while (issue 10, item 4)', () => {
  it('keeps the batch pending while commits fail, then commits the state the engine holds', async () => {
    const { logger, entries } = recordingLogger();
    const { store, clock, registry, workflowId, ids } = await setup(10_000, logger);
    store.down = true;
    const batch = track(
      registry.getEnhancedExecutor().batchExecute(
        ids.map((id) => [id, echo] as const),
        { workflowId, maxConcurrent: 3 },
      ),
    );
    await advance(clock, 5_000);
    expect(batch.settled()).toBe(false);
    expect(store.failed).toBeGreaterThan(3);
    expect(entries.filter((e) => e.level === 'warn')).toHaveLength(1);
    // Nothing reached the store yet: every task is still as it was created.
    expect((await store.tasks.find({ where: { workflowId } })).map((t) => t.status)).toEqual(
      ids.map(() => 'PENDING'),
    );
    store.down = false;
    await advance(clock, 3_000);
    const results = await batch.promise;
    expect(results.map((r) => r.status)).toEqual(ids.map(() => 'COMPLETED'));
    const rows = await store.tasks.find({ where: { workflowId } });
    expect(rows.map((t) => t.status)).toEqual(ids.map(() => 'COMPLETED'));
    expect(rows.map((t) => t.outputData)).toEqual(ids.map((_, i) => ({ echoed: `t${i}` })));
    const completions = await store.completions();
    expect(completions.map((c) => c.taskId).sort()).toEqual([...ids].sort());
    expect((await registry.getWorkflowTracker().getWorkflow(workflowId)).status).toBe('COMPLETED');
    expect(entries.some((e) => e.level === 'info' && /reachable again/.test(e.message))).toBe(true);
    await registry.stop();
  });

  it('writes a batch again to the same rows when its commit landed but the reply was lost', async () => {
    const { store, clock, registry, workflowId, ids } = await setup(10_000, {
      // A logger that throws loses its entry, never the work.
      error: () => {
        throw new Error('broken logger');
      },
      warn: () => {
        throw new Error('broken logger');
      },
      info: () => {},
      debug: () => {},
    });
    store.lostReplies = 3;
    const batch = registry.getEnhancedExecutor().batchExecute(
      ids.map((id) => [id, echo] as const),
      { workflowId, maxConcurrent: 4 },
    );
    await advance(clock, 5_000);
    const results = await batch;
    expect(store.failed).toBe(3);
    expect(results.map((r) => r.status)).toEqual(ids.map(() => 'COMPLETED'));
    const rows = await store.tasks.find({ where: { workflowId } });
    expect(rows.map((t) => [t.status, t.attempts, t.leaseOwner])).toEqual(
      ids.map(() => ['COMPLETED', 1, null]),
    );
    const completions = await store.completions();
    expect(completions).toHaveLength(ids.length);
    for (const record of completions) {
      expect(results.find((r) => r.taskId === record.taskId)?.executionId).toBe(record.executionId);
    }
    // Each event stored once, though three commits that wrote them were sent again (issue 15).
    const { events } = await registry.readEvents({ names: ['task.started', 'task.completed'] });
    const told = events.map((event) => `${event.name} ${event.taskId}`);
    expect(new Set(told).size).toBe(told.length);
    expect(told.sort()).toEqual(ids.flatMap((id) => [`task.completed ${id}`, `task.started ${id}`]).sort());
    await registry.stop();
  });

  it('past storeRetryMs rejects every pending promise with STORE_UNAVAILABLE and starts nothing new; recover() continues', async () => {
    const { logger, entries } = recordingLogger();
    const { store, clock, registry, workflowId, ids } = await setup(4_000, logger);
    const started: string[] = [];
    const aborted: unknown[] = [];
    // Runs until aborted: the attempts in flight when the store is lost.
    const hanging: Agent = {
      id: 'hanging',
      execute: (task, context) =>
        new Promise((_, reject) => {
          started.push(task.id);
          context.signal.addEventListener('abort', () => {
            aborted.push(context.signal.reason);
            reject(context.signal.reason);
          });
        }),
    };
    const executor = registry.getEnhancedExecutor();
    const batch = track(
      executor.batchExecute(
        ids.map((id) => [id, hanging] as const),
        { workflowId, maxConcurrent: 2 },
      ),
    );
    const single = track(registry.getTaskManager().createTask({ name: 'late' }));
    await flushEngine();
    await single.promise;
    // The first two attempts started and their RUNNING rows committed; then the store goes away.
    expect((await store.tasks.find({ where: { status: 'RUNNING' } })).map((t) => t.id)).toEqual(
      ids.slice(0, 2),
    );
    store.down = true;
    const created = track(registry.getTaskManager().createTask({ name: 'during the outage' }));
    await advance(clock, 3_999);
    expect(batch.settled()).toBe(false);
    expect(created.settled()).toBe(false);
    await advance(clock, 1);
    await flushEngine();
    const failure = await batch.promise.then(
      () => null,
      (error: unknown) => error,
    );
    expect(StoreError.isInstance(failure) && (failure as StoreError).code).toBe('STORE_UNAVAILABLE');
    await expect(created.promise).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    // Running attempts were aborted with that error, and no new attempt started since.
    expect(aborted).toHaveLength(2);
    expect(aborted.every((reason) => (reason as StoreError).code === 'STORE_UNAVAILABLE')).toBe(true);
    await advance(clock, 10_000);
    expect(started).toEqual(ids.slice(0, 2));
    expect((await executor.getStats()).inFlight).toBe(0);
    expect(entries.some((e) => e.level === 'error' && /giving up/.test(e.message))).toBe(true);
    // The store keeps its last committed rows: two RUNNING (held by this engine), the rest PENDING.
    const rows = await store.tasks.find({ where: { workflowId } });
    expect(rows.filter((t) => t.status === 'RUNNING').map((t) => t.id)).toEqual(ids.slice(0, 2));
    expect(rows.filter((t) => t.status === 'PENDING')).toHaveLength(ids.length - 2);
    // Once the store is back, recover() in the same engine finishes the work: the RUNNING ones
    // count as interrupted attempts.
    store.down = false;
    const report = await registry.recover({ workflowId, resolveAgent: () => echo });
    expect(report.recovered).toHaveLength(ids.length);
    await advance(clock, 60_000);
    const results = await report.results;
    expect(results.map((r) => r.status)).toEqual(ids.map(() => 'COMPLETED'));
    const after = await store.tasks.find({ where: { workflowId } });
    expect(after.every((t) => t.status === 'COMPLETED')).toBe(true);
    expect(after.filter((t) => t.errors.some((e) => e.code === 'ATTEMPT_INTERRUPTED'))).toHaveLength(2);
    expect(await store.completions()).toHaveLength(ids.length);
    await registry.stop();
  });

  it('a store that answers with a refusal ends the outage: that error, no give-up', async () => {
    const { logger, count } = recordingLogger();
    const { store, clock, registry } = await setup(10_000, logger);
    store.down = true;
    const created = track(registry.getTaskManager().createTask({ name: 'refused' }));
    await advance(clock, 1_000);
    expect(created.settled()).toBe(false);
    store.down = false;
    store.refuseNext = true;
    await advance(clock, 3_000);
    await expect(created.promise).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(count('error', /giving up/)).toBe(0);
    expect(count('error', /A commit failed/)).toBe(1);
    expect((await registry.getTaskManager().createTask({ name: 'next' })).name).toBe('next');
    await registry.stop();
  });

  it('stop() while the store is unreachable waits storeRetryMs, then rejects with STORE_UNAVAILABLE and closes the store', async () => {
    const { store, clock, registry } = await setup(2_000);
    store.down = true;
    const created = track(registry.getTaskManager().createTask({ name: 'unrecorded' }));
    await flushEngine();
    const stopping = track(registry.stop());
    await advance(clock, 1_999);
    expect(stopping.settled()).toBe(false);
    await advance(clock, 1);
    await flushEngine();
    await expect(created.promise).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    await expect(stopping.promise).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    expect(store.closed).toBe(true);
  });
});

describe('engine options storeRetryMs and logger', () => {
  it('refuses a negative storeRetryMs and a logger without the four methods', () => {
    expect(() => new ServiceRegistry({ store: ':memory:', storeRetryMs: -1 })).toThrow(InvalidArgumentError);
    expect(
      () => new ServiceRegistry({ store: ':memory:', logger: { error: () => {} } as unknown as Logger }),
    ).toThrow(/error, warn, info and debug/);
  });

  it('defaults to 30 s of retries and a silent logger; consoleLogger writes from its level up', () => {
    const registry = new ServiceRegistry({ store: ':memory:' });
    expect(registry.options.storeRetryMs).toBe(30_000);
    const lines: string[] = [];
    const original = console.error;
    console.error = (line: string) => lines.push(line);
    try {
      const logger = consoleLogger('warn');
      logger.info({}, 'not shown');
      logger.warn({ err: new Error('boom'), n: 1 }, 'shown');
    } finally {
      console.error = original;
    }
    expect(lines).toEqual(['symphony: warn: shown {"err":{"name":"Error","message":"boom"},"n":1}']);
  });
});
