/**
 * The committer's two lanes when commits fail (found by an independent review of the lanes): an
 * outage is one batch at a time, callers of everything hear of writes that were given up, a split
 * batch's callers hear a failure of any part, and events reach listeners in the order batches were
 * taken. Each case failed before its fix; the single-lane runs pin the behaviour that was kept.
 */
import { describe, expect, it } from 'vitest';
import { Committer } from '../../src/engine/committer.js';
import type { EngineClock } from '../../src/engine/clock.js';
import { EventOutlet } from '../../src/engine/engine-events.js';
import { StoreError } from '../../src/errors/errors.js';
import type { CommitResult, Store, StoreBatch } from '../../src/repositories/store.js';
import { flushEngine } from '../../src/testing/index.js';
import { sampleTask } from '../../src/testing/samples.js';

interface Pending {
  ids: string[];
  resolve(): void;
  fail(error: Error): void;
}

/** A store whose commits end when the test says, with one or two lanes. */
class GatedStore {
  readonly pending: Pending[] = [];
  tries = 0;
  constructor(readonly commitLanes: number | undefined = 2) {}

  commit(batch: StoreBatch): Promise<CommitResult> {
    this.tries += 1;
    const ids = [...(batch.tasks ?? []), ...(batch.taskStates ?? [])].map((task) => task.id);
    return new Promise((resolve, reject) => {
      this.pending.push({ ids, resolve: () => resolve({ fenced: [] }), fail: reject });
    });
  }

  end(index: number, error?: Error): void {
    const [entry] = this.pending.splice(index, 1);
    if (error) entry!.fail(error);
    else entry!.resolve();
  }
}

let now = 0;
const clock: EngineClock = { now: () => now, setTimeout: (fn) => setImmediate(fn), clearTimeout: () => {} };
const down = () => new StoreError('STORE_UNAVAILABLE', 'connection lost', { retryable: true });

function committerOn(store: GatedStore, events: EventOutlet | null = null, retryMs = 100): Committer {
  now = 0;
  return new Committer(store as unknown as Store, {
    clock,
    retryMs,
    random: () => 0.5,
    partRows: 20,
    events,
  });
}

describe('Committer lanes when commits fail', () => {
  for (const lanes of [undefined, 2]) {
    it(`gives up past storeRetryMs although callers keep settling (${lanes ?? 1} lane(s))`, async () => {
      const store = new GatedStore(lanes);
      const committer = committerOn(store);
      committer.stageTaskState(sampleTask('t1'));
      let heard: unknown = 'pending';
      committer.afterCommit((error) => (heard = error));
      await flushEngine();
      for (let tries = 0; tries < 10 && store.pending.length > 0; tries += 1) {
        // A caller settles while the retry is in flight: its empty batch proves nothing of the store.
        committer.settle().catch(() => {});
        await flushEngine();
        now += 60;
        store.end(0, down());
        await flushEngine();
      }
      expect(heard).toBeInstanceOf(StoreError);
      expect(store.tries).toBeLessThanOrEqual(3);
    });

    it(`settleTasks of a task whose write is given up rejects (${lanes ?? 1} lane(s))`, async () => {
      const store = new GatedStore(lanes);
      const committer = committerOn(store);
      committer.stageTaskState(sampleTask('t1'));
      await flushEngine();
      store.end(0, down());
      await flushEngine();
      committer.stageTaskState(sampleTask('t2'));
      let heard: unknown = 'pending';
      committer.settleTasks(['t1']).then(
        () => (heard = null),
        (error: unknown) => (heard = error),
      );
      await flushEngine();
      // While the store is unreachable, one batch at a time: t2 waits behind t1's retry.
      expect(store.pending.map((p) => p.ids)).toEqual([['t1']]);
      now = 1_000;
      store.end(0, down());
      await flushEngine();
      while (store.pending.length > 0) {
        store.end(0);
        await flushEngine();
      }
      expect(heard).toBeInstanceOf(StoreError);
    });
  }

  it('a caller waiting behind a batch that went back hears when the engine gives up on it', async () => {
    const store = new GatedStore();
    const committer = committerOn(store);
    for (let i = 0; i < 40; i += 1) committer.stageTaskState(sampleTask(`t${i}`));
    let heard: unknown = 'pending';
    committer.afterCommit((error) => (heard = error));
    await flushEngine();
    expect(store.pending).toHaveLength(2);
    store.end(0, down());
    await flushEngine();
    // The retry of the first half waits: the second half is still in flight.
    expect(store.pending).toHaveLength(1);
    store.end(0);
    await flushEngine();
    expect(heard).toBe('pending');
    // The second half committed, so the outage starts again: the retry fails until past the window.
    for (let tries = 0; tries < 5 && store.pending.length > 0; tries += 1) {
      now += 60;
      store.end(0, down());
      await flushEngine();
    }
    expect(heard).toBeInstanceOf(StoreError);
    expect(store.pending).toHaveLength(0);
  });

  it('a part committed after the engine gave up on an earlier part: its callers hear the give-up', async () => {
    const store = new GatedStore();
    const committer = committerOn(store);
    for (let i = 0; i < 50; i += 1) committer.stageTaskState(sampleTask(`t${i}`));
    let heard: unknown = 'pending';
    committer.afterCommit((error) => (heard = error));
    await flushEngine();
    expect(store.pending.map((p) => p.ids.length)).toEqual([20, 20]);
    store.end(0, down());
    await flushEngine();
    // The third part takes the free lane; the first waits to be tried again.
    expect(store.pending.map((p) => p.ids.length)).toEqual([20, 10]);
    now = 1_000;
    store.end(0, down());
    await flushEngine();
    store.end(0);
    await flushEngine();
    expect(heard).toBeInstanceOf(StoreError);
    expect(store.pending).toHaveLength(0);
  });

  it('a split batch whose first half failed for good and second half was retried: its caller hears the failure', async () => {
    const store = new GatedStore();
    const committer = committerOn(store, null, 60_000);
    for (let i = 0; i < 40; i += 1) committer.stageTaskState(sampleTask(`t${i}`));
    let heard: unknown = 'pending';
    committer.afterCommit((error) => (heard = error));
    await flushEngine();
    expect(store.pending).toHaveLength(2);
    store.end(0, new StoreError('STORE_CORRUPT', 'row refused', { retryable: false }));
    await flushEngine();
    store.end(0, down());
    await flushEngine();
    store.end(0);
    await flushEngine();
    expect((heard as StoreError).code).toBe('STORE_CORRUPT');
  });

  it('tells listeners the events of batches in the order they were taken, not the order they ended', async () => {
    const store = new GatedStore();
    const published: unknown[] = [];
    const hub = { wants: () => true, publish: (_name: string, payload: unknown) => published.push(payload) };
    const committer = committerOn(store, new EventOutlet(hub as never, false));
    committer.stageTaskState(sampleTask('a'));
    committer.announce(null, () => [{ name: 'agent.load', payload: { agentId: 'x', inFlight: 3 } } as never]);
    await flushEngine();
    committer.stageTaskState(sampleTask('b'));
    committer.announce(null, () => [{ name: 'agent.load', payload: { agentId: 'x', inFlight: 2 } } as never]);
    await flushEngine();
    expect(store.pending).toHaveLength(2);
    store.end(1);
    await flushEngine();
    expect(published).toEqual([]);
    store.end(0);
    await flushEngine();
    expect(published).toEqual([
      { agentId: 'x', inFlight: 3 },
      { agentId: 'x', inFlight: 2 },
    ]);
  });
});
