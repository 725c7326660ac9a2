import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  MemoryStore,
  ServiceRegistry,
  type EngineClock,
  type StoredBeat,
  type Store,
} from '../../src/index.js';
import { PostgresStore } from '../../src/repositories/postgres/postgres-store.js';
import { SqliteStore } from '../../src/repositories/sqlite/sqlite-store.js';
import { createTestClock, manualAgent, recordingAgent } from '../../src/testing/index.js';
import { describePostgres, dropTestSchemas, nextSchema, PG_URL, withUser } from './pg-helpers.js';

/**
 * Issue 13: engine liveness is judged by the store's clock (the database's now(), or the memory
 * store's own clock), never by comparing one engine's clock with another's. Two engines whose
 * clocks are 30 s fast and 30 s slow share one store: neither takes the other for dead while both
 * beat, and the one that stops beating is taken over once its window has passed by the store's
 * clock, not earlier (the fast engine would have taken the slow one's task at once when each
 * engine stamped its own beats) and not 60 s later (the slow engine would have waited for the
 * fast one's future stamps).
 */

const SKEW_MS = 30_000;
const POLL_MS = 50;
/** Generous for a loaded machine: a beating engine must never look dead between its beats. */
const LIVENESS_MS = 4_000;
/** Bounded wait for the takeover: well under the 60 s an engine-clock verdict would need. */
const TAKEOVER_DEADLINE_MS = 40_000;

/** The wall clock moved by `skewMs`; once frozen, no timer set from then on fires (a hung process). */
function skewedClock(skewMs: number): EngineClock & { freeze(): void; thaw(): void } {
  let frozen = false;
  return {
    now: () => Date.now() + skewMs,
    setTimeout: (fn, ms) => (frozen ? null : setTimeout(fn, ms)),
    clearTimeout: (handle) => {
      if (handle !== null) clearTimeout(handle as ReturnType<typeof setTimeout>);
    },
    freeze: () => (frozen = true),
    thaw: () => (frozen = false),
  };
}

describe('MemoryStore clock', () => {
  it('stamps beats with its own clock and judges them alive by it', async () => {
    const clock = createTestClock(5_000_000);
    const store = new MemoryStore({ clock });
    await store.commit({ beats: [{ engineId: 'e1', ttlMs: 1_000, stopped: false }] });
    const beat = { engineId: 'e1', beatAt: 5_000_000, expiresAt: 5_001_000, stopped: false };
    await expect(store.engineBeats()).resolves.toEqual([{ ...beat, alive: true }]);
    clock.increment(999);
    await expect(store.engineBeats()).resolves.toEqual([{ ...beat, alive: true }]);
    clock.increment(1);
    await expect(store.engineBeats()).resolves.toEqual([{ ...beat, alive: false }]);
  });
});

/** Two store objects over one database, as two processes would have. */
type StorePair = () => [Store, Store];

function describeSkewedEngines(title: string, pair: StorePair): void {
  describe(title, () => {
    const cleanups: Array<() => Promise<void>> = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0)) await cleanup().catch(() => {});
    });

    /** An engine on `store` whose clock is `skewMs` off, beating every POLL_MS. */
    function engine(store: Store, engineId: string, skewMs: number) {
      const clock = skewedClock(skewMs);
      const registry = new ServiceRegistry({
        store,
        clock,
        engineId,
        controlPollMs: POLL_MS,
        livenessMs: LIVENESS_MS,
        // An interrupted attempt is run again at once by the engine that takes it over.
        retry: { maxAttempts: 2, initialDelayMs: 0, jitter: 0 },
      });
      cleanups.push(async () => {
        clock.thaw();
        await registry.stop({ graceMs: 0 });
      });
      return { registry, clock, engineId };
    }

    /** Starts one task on a manual agent that never answers; the engine holds it while it beats. */
    async function holding(registry: ServiceRegistry): Promise<string> {
      const task = await registry.getTaskManager().createTask({ name: 'held' });
      registry
        .getEnhancedExecutor()
        .executeTask(task.id, manualAgent('manual'))
        .catch(() => {});
      return task.id;
    }

    /** The engine's last beat as the store has it (and judges it). */
    async function beatOf(store: Store, engineId: string): Promise<StoredBeat | undefined> {
      return (await store.engineBeats()).find((beat) => beat.engineId === engineId);
    }

    /** Polls the store until `check` holds, or fails after `deadlineMs`. */
    async function until(what: string, check: () => Promise<boolean>, deadlineMs = 20_000): Promise<void> {
      const deadline = Date.now() + deadlineMs;
      while (!(await check())) {
        if (Date.now() > deadline) throw new Error(`Timed out waiting until ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }

    async function bothBeatingAndHolding() {
      const [storeA, storeB] = pair();
      const slow = engine(storeA, 'slow-clock', -SKEW_MS);
      const fast = engine(storeB, 'fast-clock', +SKEW_MS);
      const slowTask = await holding(slow.registry);
      const fastTask = await holding(fast.registry);
      const observer = storeA;
      await until('both engines hold their task and beat', async () => {
        const tasks = await observer.tasks.getMany([slowTask, fastTask]);
        const beats = await Promise.all([beatOf(observer, 'slow-clock'), beatOf(observer, 'fast-clock')]);
        return (
          tasks[0]?.status === 'RUNNING' &&
          tasks[0].leaseOwner === 'slow-clock' &&
          tasks[1]?.status === 'RUNNING' &&
          tasks[1].leaseOwner === 'fast-clock' &&
          beats.every((beat) => beat?.alive === true)
        );
      });
      return { slow, fast, slowTask, fastTask, observer };
    }

    it('neither engine takes the other for dead while both beat, whichever clock runs ahead', async () => {
      const { slow, fast, slowTask, fastTask, observer } = await bothBeatingAndHolding();
      // Each beat lasts the declared window by the store's clock, whatever the engine's clock says.
      const beat = (await beatOf(observer, 'slow-clock'))!;
      expect(beat.expiresAt - beat.beatAt).toBe(LIVENESS_MS);
      expect(Math.abs(beat.beatAt - Date.now())).toBeLessThan(SKEW_MS / 2);
      const idle = recordingAgent('manual');
      const byFast = await fast.registry.recover({ resolveAgent: () => idle });
      const bySlow = await slow.registry.recover({ resolveAgent: () => idle });
      expect(byFast).toMatchObject({ recovered: [], leasedElsewhere: [slowTask] });
      expect(bySlow).toMatchObject({ recovered: [], leasedElsewhere: [fastTask] });
      expect(idle.calls).toHaveLength(0);
      const stored = await observer.tasks.getMany([slowTask, fastTask]);
      expect(stored.map((task) => task?.leaseOwner)).toEqual(['slow-clock', 'fast-clock']);
    });

    for (const direction of ['slow', 'fast'] as const) {
      it(`takes over the ${direction}-clock engine's task once its beats stop, only after its window by the store's clock`, async () => {
        const engines = await bothBeatingAndHolding();
        const [holder, taker, task] =
          direction === 'slow'
            ? [engines.slow, engines.fast, engines.slowTask]
            : [engines.fast, engines.slow, engines.fastTask];
        const store = engines.observer;
        holder.clock.freeze();
        const ran = recordingAgent('manual');
        let takenOver = false;
        await until(
          `${taker.engineId} takes over ${holder.engineId}'s task`,
          async () => {
            const before = (await beatOf(store, holder.engineId))!;
            const report = await taker.registry.recover({ resolveAgent: () => ran });
            const after = (await beatOf(store, holder.engineId))!;
            takenOver = report.recovered.includes(task);
            if (takenOver) {
              // The store's clock has passed the holder's last beat's window.
              expect(after.alive).toBe(false);
              expect(report.leasedElsewhere).toEqual([]);
            } else {
              expect(report.leasedElsewhere).toEqual([task]);
            }
            // While the store judged the holder alive before and after the call, nothing was taken.
            if (before.alive && after.alive && before.beatAt === after.beatAt) expect(takenOver).toBe(false);
            return takenOver;
          },
          TAKEOVER_DEADLINE_MS,
        );
        const last = (await beatOf(store, holder.engineId))!;
        expect(last).toMatchObject({ stopped: false, alive: false, expiresAt: last.beatAt + LIVENESS_MS });
        // The taker ran the attempt to its end; the frozen holder's agent never answered.
        await until('the taker completes the task it took over', async () => {
          return (await store.tasks.get(task))?.status === 'COMPLETED';
        });
        expect(ran.calls.map((call) => call.task.id)).toEqual([task]);
      });
    }
  });
}

describeSkewedEngines('engines with skewed clocks (sqlite store)', () => {
  const path = join(mkdtempSync(join(tmpdir(), 'symphony-beat-clock-')), 'beats.db');
  return [new SqliteStore({ path }), new SqliteStore({ path })];
});

describePostgres('engines with skewed clocks (postgres store)', () => {
  afterAll(() => dropTestSchemas());
  describeSkewedEngines('on one schema', () => {
    const schema = nextSchema();
    const connectionString = withUser(PG_URL);
    return [new PostgresStore({ connectionString, schema }), new PostgresStore({ connectionString, schema })];
  });
});
