import { describe, expect, it } from 'vitest';
import type { HeldLoad } from '../../src/repositories/held-load.js';
import { ClusterLoad, othersLoad } from '../../src/routing/cluster-load.js';
import { createLoadTable, loadWithQueued } from '../../src/routing/load-table.js';

const row = (agentKey: string, holder: string, running: number, pending = 0, paused = 0): HeldLoad => ({
  agentKey,
  holder,
  running,
  pending,
  paused,
});

/** A ClusterLoad over a store that answers `rows` and counts its reads, on a clock the test moves. */
function fixture(rows: HeldLoad[], maxAgeMs = 100) {
  const clock = { time: 1_000, now: () => clock.time };
  const table = createLoadTable();
  const reads: number[] = [];
  let answer: Promise<void> = Promise.resolve();
  const store = {
    heldLoad: async ({ now }: { now: number }) => {
      reads.push(now);
      await answer;
      return rows;
    },
  };
  const cluster = new ClusterLoad(
    { engineId: 'me', store, clock, table, maxAgeMs: () => maxAgeMs },
    undefined,
  );
  const hold = () => {
    let release!: () => void;
    answer = new Promise<void>((resolve) => (release = resolve));
    return () => release();
  };
  return { clock, table, reads, cluster, hold };
}

describe('othersLoad', () => {
  it('sums the other holders per agent key: RUNNING in flight, PENDING queued, PAUSED neither', () => {
    const loads = othersLoad(
      [row('a', 'w1', 2, 1, 4), row('a', 'w2', 1, 0), row('a', 'me', 5, 5), row('b', 'me', 1)],
      'me',
    );
    expect([...loads]).toEqual([['a', { inFlight: 3, queued: 1 }]]);
  });
});

describe('ClusterLoad', () => {
  it('reads the store at most once per maxAgeMs and feeds the load table through its event', async () => {
    const f = fixture([row('a', 'w1', 2, 1)]);
    await f.cluster.refresh();
    await f.cluster.refresh();
    expect(f.reads).toEqual([1_000]);
    expect(f.table.getSnapshot().context.others.get('a')).toEqual({ inFlight: 2, queued: 1 });
    f.clock.time += 99;
    await f.cluster.refresh();
    expect(f.reads).toHaveLength(1);
    f.clock.time += 1;
    await f.cluster.refresh();
    expect(f.reads).toEqual([1_000, 1_100]);
  });

  it('shares one read between refreshes at once', async () => {
    const f = fixture([row('a', 'w1', 1)]);
    const release = f.hold();
    const both = Promise.all([f.cluster.refresh(), f.cluster.refresh()]);
    release();
    await both;
    expect(f.reads).toHaveLength(1);
  });

  it('reads on every refresh when the engine does not poll (maxAgeMs 0)', async () => {
    const f = fixture([], 0);
    await f.cluster.refresh();
    await f.cluster.refresh();
    expect(f.reads).toHaveLength(2);
  });

  it('is on for a worker unless the option says otherwise', () => {
    const table = createLoadTable();
    const deps = { engineId: 'me', store: {}, clock: { now: () => 0 }, table, maxAgeMs: () => 0 };
    const plain = new ClusterLoad(deps, undefined);
    expect(plain.enabled).toBe(false);
    plain.workerStarted();
    expect(plain.enabled).toBe(true);
    const off = new ClusterLoad(deps, false);
    off.workerStarted();
    expect(off.enabled).toBe(false);
    expect(new ClusterLoad(deps, true).enabled).toBe(true);
  });

  it('leaves the view empty on a store without heldLoad', async () => {
    const table = createLoadTable();
    const cluster = new ClusterLoad(
      { engineId: 'me', store: {}, clock: { now: () => 0 }, table, maxAgeMs: () => 0 },
      true,
    );
    await cluster.refresh();
    expect(table.getSnapshot().context.others.size).toBe(0);
  });
});

describe('load table: other engines', () => {
  it('adds the last read to this engine’s figures only for cluster routing', () => {
    const table = createLoadTable();
    table.trigger.observed({ agentId: 'a', inFlight: 1, completed: 4, failed: 1 });
    table.trigger.othersObserved({
      loads: new Map([
        ['a', { inFlight: 2, queued: 3 }],
        ['b', { inFlight: 1, queued: 0 }],
        ['c', { inFlight: 0, queued: 0 }],
      ]),
    });
    const queued = new Map([['a', 1]]);
    expect(loadWithQueued(table, queued).get('a')).toEqual({
      inFlight: 1,
      queued: 1,
      completed: 4,
      failed: 1,
    });
    expect(loadWithQueued(table, queued).has('b')).toBe(false);
    const cluster = loadWithQueued(table, queued, true);
    expect(cluster.get('a')).toEqual({ inFlight: 3, queued: 4, completed: 4, failed: 1 });
    expect(cluster.get('b')).toEqual({ inFlight: 1, queued: 0, completed: 0, failed: 0 });
    expect(cluster.has('c')).toBe(false);
    // Each read replaces the previous one.
    table.trigger.othersObserved({ loads: new Map() });
    expect(loadWithQueued(table, queued, true).get('a')).toEqual(loadWithQueued(table, queued).get('a'));
  });

  it('refuses counts that are not integers >= 0', () => {
    const table = createLoadTable();
    expect(() =>
      table.trigger.othersObserved({ loads: new Map([['a', { inFlight: -1, queued: 0 }]]) }),
    ).toThrow(/inFlight/);
    expect(table.getSnapshot().context.others.size).toBe(0);
  });
});
