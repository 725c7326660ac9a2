import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ExecutionPlan, Task } from '../../src/domain/task.js';
import type { HeldLoad } from '../../src/repositories/held-load.js';
import { MemoryStore } from '../../src/repositories/memory/memory-store.js';
import { heldLoadStatement } from '../../src/repositories/postgres/held-load.js';
import { PostgresStore } from '../../src/repositories/postgres/postgres-store.js';
import { SqliteStore } from '../../src/repositories/sqlite/sqlite-store.js';
import type { EngineBeat, Store } from '../../src/repositories/store.js';
import { SAMPLE_TIME as T0, sampleTask } from '../../src/testing/samples.js';
import { PG_URL, describePostgres, dropTestSchemas, nextSchema, withAdmin } from './pg-helpers.js';

// Store.heldLoad (issue 13, cluster-wide limits): the load engines hold per agent key, counted in the
// store. One contract, run against every store.

function plan(agentKey: string): ExecutionPlan {
  return {
    agentKey,
    attemptLimit: 3,
    maxAttempts: 3,
    initialDelayMs: 10,
    backoffFactor: 2,
    maxDelayMs: 1_000,
    jitter: 0,
    nonRetryableErrors: [],
    maxInterruptions: 3,
    timeoutMs: 0,
    priority: 0,
    metadata: {},
  };
}

/** A beat in whichever shape the store takes (engine-clock times or a time to live). */
function beat(engineId: string, alive: boolean): EngineBeat {
  const now = Date.now();
  return {
    engineId,
    beatAt: now,
    expiresAt: alive ? now + 600_000 : now - 1,
    ttlMs: 600_000,
    stopped: !alive,
  } as unknown as EngineBeat;
}

const held = (
  agentKey: string,
  holder: string,
  counts: Partial<Pick<HeldLoad, 'running' | 'pending' | 'paused'>>,
): HeldLoad => ({ agentKey, holder, running: 0, pending: 0, paused: 0, ...counts });

function describeHeldLoad(name: string, open: () => Promise<Store>): void {
  describe(`Store contract: ${name} heldLoad`, () => {
    let store: Store;

    beforeEach(async () => {
      store = await open();
    });

    afterEach(async () => {
      await store.close();
    });

    it('is empty on an empty store', async () => {
      await expect(store.heldLoad!({ now: Date.now() })).resolves.toEqual([]);
    });

    it('counts the unfinished planned tasks of live holders per agent key and holder, by status', async () => {
      const now = Date.now();
      await store.commit({ beats: [beat('live', true), beat('other', true), beat('dead', false)] });
      const rows: Task[] = [
        sampleTask('a-run-1', { execution: plan('a'), status: 'RUNNING', leaseOwner: 'live' }),
        sampleTask('a-run-2', { execution: plan('a'), status: 'RUNNING', leaseOwner: 'live' }),
        sampleTask('a-wait', { execution: plan('a'), leaseOwner: 'live' }),
        sampleTask('a-retry', { execution: plan('a'), leaseOwner: 'live', runAfter: now + 60_000 }),
        sampleTask('b-paused', { execution: plan('b'), status: 'PAUSED', leaseOwner: 'live' }),
        sampleTask('a-other', { execution: plan('a'), status: 'RUNNING', leaseOwner: 'other' }),
        // Not held, finished, without a plan, or held by an engine that is gone: not counted.
        sampleTask('a-free', { execution: plan('a') }),
        sampleTask('a-free-running', { execution: plan('a'), status: 'RUNNING' }),
        sampleTask('a-done', { execution: plan('a'), status: 'COMPLETED', leaseOwner: 'live' }),
        sampleTask('a-failed', { execution: plan('a'), status: 'FAILED', leaseOwner: 'live' }),
        sampleTask('a-cancelled', { execution: plan('a'), status: 'CANCELLED', leaseOwner: 'live' }),
        sampleTask('no-plan', { status: 'RUNNING', leaseOwner: 'live' }),
        sampleTask('a-dead', { execution: plan('a'), status: 'RUNNING', leaseOwner: 'dead' }),
        // Engines that never beat hold their tasks until their lease (if any) expires.
        sampleTask('a-ghost-leased', {
          execution: plan('a'),
          status: 'RUNNING',
          leaseOwner: 'ghost',
          leaseExpiresAt: now + 600_000,
        }),
        sampleTask('a-ghost-unleased', { execution: plan('a'), leaseOwner: 'ghost' }),
        sampleTask('a-expired', {
          execution: plan('a'),
          status: 'RUNNING',
          leaseOwner: 'expired',
          leaseExpiresAt: now - 1,
        }),
      ];
      await store.commit({ tasks: rows });
      await expect(store.heldLoad!({ now })).resolves.toEqual([
        held('a', 'ghost', { running: 1, pending: 1 }),
        held('a', 'live', { running: 2, pending: 2 }),
        held('a', 'other', { running: 1 }),
        held('b', 'live', { paused: 1 }),
      ]);
    });

    it('follows the store: a task that ends or is let go leaves the load', async () => {
      const now = Date.now();
      await store.commit({ beats: [beat('w1', true)] });
      const running = sampleTask('t1', { execution: plan('k'), status: 'RUNNING', leaseOwner: 'w1' });
      const other = sampleTask('t2', { execution: plan('k'), status: 'RUNNING', leaseOwner: 'w1' });
      await store.commit({ tasks: [running, other] });
      await expect(store.heldLoad!({ now })).resolves.toEqual([held('k', 'w1', { running: 2 })]);
      await store.commit({
        taskStates: [
          { ...running, status: 'COMPLETED', updatedAt: T0 + 1 },
          { ...other, status: 'PENDING', leaseOwner: null, updatedAt: T0 + 1 },
        ],
      });
      await expect(store.heldLoad!({ now })).resolves.toEqual([]);
      // The holder's last beat a stop: what it still holds is nobody's load.
      await store.commit({ tasks: [sampleTask('t3', { execution: plan('k'), leaseOwner: 'w1' })] });
      await expect(store.heldLoad!({ now })).resolves.toEqual([held('k', 'w1', { pending: 1 })]);
      await store.commit({ beats: [beat('w1', false)] });
      await expect(store.heldLoad!({ now })).resolves.toEqual([]);
    });
  });
}

describeHeldLoad('MemoryStore', async () => new MemoryStore());

const dir = mkdtempSync(join(tmpdir(), 'symphony-held-load-'));
let files = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeHeldLoad('SqliteStore', async () => {
  const store = new SqliteStore({ path: join(dir, `held-${++files}.db`) });
  await store.open();
  return store;
});

describePostgres('PostgresStore heldLoad', () => {
  afterAll(dropTestSchemas);
  describeHeldLoad('PostgresStore', async () => {
    const store = new PostgresStore({ connectionString: PG_URL, schema: nextSchema(), poolSize: 2 });
    await store.open();
    return store;
  });

  it('reads the held tasks through the index tasks_held, not the table', async () => {
    const schema = nextSchema();
    const store = new PostgresStore({ connectionString: PG_URL, schema, poolSize: 2 });
    await store.open();
    try {
      const finished = Array.from({ length: 3_000 }, (_, i) =>
        sampleTask(`done-${i}`, { execution: plan('k'), status: 'COMPLETED', leaseOwner: 'w1' }),
      );
      const unheld = Array.from({ length: 2_000 }, (_, i) =>
        sampleTask(`free-${i}`, { execution: plan('k') }),
      );
      const heldTasks = Array.from({ length: 20 }, (_, i) =>
        sampleTask(`held-${i}`, { execution: plan('k'), status: 'RUNNING', leaseOwner: `w${i % 2}` }),
      );
      await store.commit({ tasks: [...finished, ...unheld, ...heldTasks], beats: [beat('w0', true)] });
      const plan_ = await withAdmin(async (client) => {
        await client.query(`ANALYZE "${schema}".tasks`);
        const { rows } = await client.query(`EXPLAIN ${heldLoadStatement(`"${schema}"`)}`, [Date.now()]);
        return rows.map((row: Record<string, string>) => row['QUERY PLAN']).join('\n');
      });
      expect(plan_).toMatch(/Index( Only)? Scan using tasks_held on tasks|Bitmap Index Scan on tasks_held/);
      expect(plan_).not.toContain('Seq Scan on tasks');
      await expect(store.heldLoad!({ now: Date.now() })).resolves.toEqual([
        held('k', 'w0', { running: 10 }),
        held('k', 'w1', { running: 10 }),
      ]);
    } finally {
      await store.close();
    }
  });
});
