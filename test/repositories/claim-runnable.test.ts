import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ExecutionPlan, Task } from '../../src/domain/task.js';
import { MemoryStore } from '../../src/repositories/memory/memory-store.js';
import { PostgresStore } from '../../src/repositories/postgres/postgres-store.js';
import { SqliteStore } from '../../src/repositories/sqlite/sqlite-store.js';
import type { EngineBeat, Store } from '../../src/repositories/store.js';
import { SAMPLE_TIME as T0, sampleTask, sampleWorkflow } from '../../src/testing/samples.js';
import { PG_URL, describePostgres, dropTestSchemas, nextSchema } from './pg-helpers.js';

// Store.claimRunnable (issue 13, workers): one contract, run against every store.

function plan(priority = 0): ExecutionPlan {
  return {
    agentKey: 'worker-agent',
    attemptLimit: 3,
    maxAttempts: 3,
    initialDelayMs: 10,
    backoffFactor: 2,
    maxDelayMs: 1_000,
    jitter: 0,
    nonRetryableErrors: [],
    maxInterruptions: 3,
    timeoutMs: 0,
    priority,
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

interface Fixture {
  /** A store on the data (opened). */
  open(): Promise<Store>;
  /** A second store on the same data (another process's), or the same one where there is no other. */
  other(store: Store): Promise<Store>;
}

function describeClaims(name: string, fixture: () => Fixture): void {
  describe(`Store contract: ${name} claimRunnable`, () => {
    let f: Fixture;
    let store: Store;
    const opened: Store[] = [];

    beforeEach(async () => {
      f = fixture();
      store = await f.open();
      opened.push(store);
    });

    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close();
    });

    const claim = (s: Store, engineId: string, limit: number, now = Date.now()) =>
      s.claimRunnable!({ engineId, limit, now });

    it('takes runnable tasks, higher plan priority first, then oldest, and marks them held', async () => {
      await store.commit({
        tasks: [
          sampleTask('old', { execution: plan(), createdAt: T0 }),
          sampleTask('new', { execution: plan(), createdAt: T0 + 5 }),
          sampleTask('urgent', { execution: plan(9), createdAt: T0 + 9 }),
          sampleTask('mid', { execution: plan(), createdAt: T0 + 2 }),
        ],
      });
      const first = await claim(store, 'e1', 3);
      expect(first.map((t) => t.id)).toEqual(['urgent', 'old', 'mid']);
      expect(first.every((t) => t.leaseOwner === 'e1' && t.status === 'PENDING')).toBe(true);
      expect(first[0]!.execution).toEqual(plan(9));
      expect((await store.tasks.get('old'))!.leaseOwner).toBe('e1');
      expect((await claim(store, 'e2', 10)).map((t) => t.id)).toEqual(['new']);
      await expect(claim(store, 'e3', 10)).resolves.toEqual([]);
    });

    it('leaves what is not runnable and takes what a gone engine held', async () => {
      const now = Date.now();
      await store.commit({
        workflows: [
          sampleWorkflow('w-paused', { paused: true }),
          sampleWorkflow('w-cancelled', { cancelled: true }),
          sampleWorkflow('w-open'),
        ],
        beats: [beat('live', true), beat('dead', false)],
      });
      const rows: Task[] = [
        sampleTask('no-plan'),
        sampleTask('done', { execution: plan(), status: 'COMPLETED' }),
        sampleTask('failed', { execution: plan(), status: 'FAILED' }),
        sampleTask('paused', { execution: plan(), status: 'PAUSED' }),
        sampleTask('later', { execution: plan(), runAfter: now + 600_000 }),
        sampleTask('due', { execution: plan(), runAfter: now - 1 }),
        sampleTask('in-paused', { execution: plan(), workflowId: 'w-paused' }),
        sampleTask('in-cancelled', { execution: plan(), workflowId: 'w-cancelled' }),
        sampleTask('in-open', { execution: plan(), workflowId: 'w-open' }),
        sampleTask('held-live', { execution: plan(), leaseOwner: 'live' }),
        sampleTask('held-dead', { execution: plan(), status: 'RUNNING', leaseOwner: 'dead' }),
        sampleTask('mine', { execution: plan(), leaseOwner: 'me' }),
        sampleTask('ghost-leased', { execution: plan(), leaseOwner: 'ghost', leaseExpiresAt: now + 600_000 }),
        sampleTask('ghost-expired', { execution: plan(), leaseOwner: 'ghost', leaseExpiresAt: now - 1 }),
        sampleTask('ghost-queued', { execution: plan(), leaseOwner: 'ghost' }),
      ];
      await store.commit({ tasks: rows });
      const taken = await claim(store, 'me', 100, now);
      expect(taken.map((t) => t.id).sort()).toEqual(['due', 'ghost-expired', 'held-dead', 'in-open']);
      expect(taken.find((t) => t.id === 'held-dead')!.status).toBe('RUNNING');
      expect((await store.tasks.get('held-live'))!.leaseOwner).toBe('live');
      expect((await store.tasks.get('held-dead'))!.leaseOwner).toBe('me');
    });

    it('gives each task to one of two engines claiming at once', async () => {
      const ids = Array.from({ length: 120 }, (_, i) => `t${String(i).padStart(3, '0')}`);
      await store.commit({
        tasks: ids.map((id, i) => sampleTask(id, { execution: plan(), createdAt: T0 + i })),
      });
      const other = await f.other(store);
      if (other !== store) opened.push(other);
      const drain = async (s: Store, engineId: string): Promise<string[]> => {
        const got: string[] = [];
        for (;;) {
          const batch = await claim(s, engineId, 7);
          if (batch.length === 0) return got;
          for (const task of batch) expect(task.leaseOwner).toBe(engineId);
          got.push(...batch.map((t) => t.id));
        }
      };
      const [a, b] = await Promise.all([drain(store, 'a'), drain(other, 'b')]);
      expect([...a, ...b].sort()).toEqual(ids);
      expect(a.filter((id) => b.includes(id))).toEqual([]);
      const rows = await store.tasks.getMany(ids);
      for (const row of rows) expect(row.leaseOwner).toBe(a.includes(row.id) ? 'a' : 'b');
    });
  });
}

describeClaims('MemoryStore', () => ({
  open: async () => new MemoryStore(),
  other: async (store) => store,
}));

const dir = mkdtempSync(join(tmpdir(), 'symphony-claim-'));
let files = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeClaims('SqliteStore', () => {
  const path = join(dir, `claim-${++files}.db`);
  return {
    open: async () => {
      const store = new SqliteStore({ path });
      await store.open();
      return store;
    },
    other: async () => {
      const store = new SqliteStore({ path });
      await store.open();
      return store;
    },
  };
});

describePostgres('PostgresStore claims', () => {
  afterAll(dropTestSchemas);
  describeClaims('PostgresStore', () => {
    const schema = nextSchema();
    const open = async () => {
      const store = new PostgresStore({ connectionString: PG_URL, schema, poolSize: 2 });
      await store.open();
      return store;
    };
    return { open, other: open };
  });
});
