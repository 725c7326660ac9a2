import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ExecutionPlan, Task } from '../../src/domain/task.js';
import { MemoryStore } from '../../src/repositories/memory/memory-store.js';
import { PostgresStore } from '../../src/repositories/postgres/postgres-store.js';
import { SqliteStore } from '../../src/repositories/sqlite/sqlite-store.js';
import type { EngineBeat, Store } from '../../src/repositories/store.js';
import {
  SAMPLE_TIME as T0,
  sampleAgentConfig,
  sampleTask,
  sampleWorkflow,
} from '../../src/testing/samples.js';
import { PG_URL, describePostgres, dropTestSchemas, nextSchema } from './pg-helpers.js';

// Store.claimRunnable (issue 13, workers): one contract, run against every store.

function plan(priority = 0, agentKey = 'worker-agent'): ExecutionPlan {
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

    it('skips the agent keys it is told to, and the tasks of a workflow submitted as a whole', async () => {
      await store.commit({ workflows: [sampleWorkflow('w-graph'), sampleWorkflow('w-plain')] });
      await store.commit({
        tasks: [
          sampleTask('alpha-1', { execution: plan(0, 'alpha') }),
          sampleTask('beta-1', { execution: plan(0, 'beta') }),
          sampleTask('graph-node', { execution: plan(), workflowId: 'w-graph' }),
          sampleTask('plain-task', { execution: plan(), workflowId: 'w-plain' }),
        ],
      });
      const submitted = { ...plan(), agentKeys: {}, retry: plan(), maxConcurrent: null, agentKey: null };
      await store.submitWorkflow!('w-graph', submitted as never, Date.now());
      const taken = await store.claimRunnable!({
        engineId: 'e1',
        limit: 10,
        now: Date.now(),
        skipAgentKeys: ['alpha'],
      });
      expect(taken.map((t) => t.id).sort()).toEqual(['beta-1', 'plain-task']);
      expect((await store.tasks.get('alpha-1'))!.leaseOwner).toBeNull();
      expect((await store.tasks.get('graph-node'))!.leaseOwner).toBeNull();
      expect((await claim(store, 'e2', 10)).map((t) => t.id)).toEqual(['alpha-1']);
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

    // Cluster-wide limits (issue 13): a stored agent config's maxConcurrency bounds the tasks of its
    // key held in the store, whoever holds them.
    it('claims no task of an agent key whose limit is held elsewhere, and still claims other keys', async () => {
      const now = Date.now();
      await store.commit({
        agentConfigs: [
          sampleAgentConfig('full', { maxConcurrency: 2 }),
          sampleAgentConfig('roomy', { maxConcurrency: 5 }),
        ],
        beats: [beat('live', true), beat('dead', false)],
      });
      await store.commit({
        tasks: [
          sampleTask('full-running', { execution: plan(0, 'full'), status: 'RUNNING', leaseOwner: 'live' }),
          sampleTask('full-queued', { execution: plan(0, 'full'), leaseOwner: 'live' }),
          sampleTask('full-done', { execution: plan(0, 'full'), status: 'COMPLETED', leaseOwner: 'live' }),
          sampleTask('full-1', { execution: plan(9, 'full'), createdAt: T0 }),
          sampleTask('full-2', { execution: plan(9, 'full'), createdAt: T0 + 1 }),
          sampleTask('roomy-1', { execution: plan(0, 'roomy'), createdAt: T0 + 2 }),
          sampleTask('free-1', { execution: plan(0, 'no-config'), createdAt: T0 + 3 }),
        ],
      });
      const taken = await claim(store, 'me', 10, now);
      expect(taken.map((t) => t.id)).toEqual(['roomy-1', 'free-1']);
      expect((await store.tasks.get('full-1'))!.leaseOwner).toBeNull();

      // A dead engine's tasks are not held: they free their room (and are claimable themselves).
      await store.commit({
        tasks: [
          sampleTask('full-running', { execution: plan(0, 'full'), status: 'RUNNING', leaseOwner: 'dead' }),
        ],
      });
      const next = await claim(store, 'me', 10, now);
      expect(next.map((t) => t.id)).toEqual(['full-1']);
    });

    it('claims up to the room left: a limit of 3 with 1 held (by the claimer itself) claims 2', async () => {
      await store.commit({ agentConfigs: [sampleAgentConfig('three', { maxConcurrency: 3 })] });
      await store.commit({
        tasks: [
          sampleTask('held', { execution: plan(0, 'three'), status: 'RUNNING', leaseOwner: 'me' }),
          ...[0, 1, 2, 3, 4].map((i) =>
            sampleTask(`three-${i}`, { execution: plan(0, 'three'), createdAt: T0 + i }),
          ),
          sampleTask('free', { execution: plan(0, 'other'), createdAt: T0 + 9 }),
        ],
      });
      const taken = await claim(store, 'me', 10);
      expect(taken.map((t) => t.id)).toEqual(['three-0', 'three-1', 'free']);
      await expect(claim(store, 'e2', 10)).resolves.toEqual([]);
      const held = (await store.tasks.find({})).filter(
        (t) => t.execution?.agentKey === 'three' && t.leaseOwner !== null,
      );
      expect(held).toHaveLength(3);
    });

    it('never lets claimers at once hold more than the limit together', async () => {
      const others = [await f.other(store), await f.other(store), await f.other(store)];
      for (const other of others) if (other !== store) opened.push(other);
      const claimers = [store, ...others];
      const rounds = name === 'PostgresStore' ? 40 : 10;
      for (let round = 0; round < rounds; round += 1) {
        const key = `agent-${round}`;
        const limit = 1 + (round % 3);
        await store.commit({ agentConfigs: [sampleAgentConfig(key, { maxConcurrency: limit })] });
        await store.commit({
          tasks: Array.from({ length: 8 }, (_, i) =>
            sampleTask(`${key}-${i}`, { execution: plan(0, key), createdAt: T0 + i }),
          ),
        });
        // Tasks of the key committed meanwhile, each ahead of the others in claim order: claimers
        // that counted without serialising would each see another first task.
        const [got] = await Promise.all([
          Promise.all(claimers.map((s, i) => claim(s, `c${i}`, 2 + (i % 2)))),
          ...[1, 2, 3].map((j) =>
            claimers[j]!.commit({ tasks: [sampleTask(`${key}-urgent-${j}`, { execution: plan(j, key) })] }),
          ),
        ]);
        const claimed = got.flat();
        expect(
          claimed.length,
          `round ${round}: ${claimed.map((t) => `${t.id}@${t.leaseOwner}`).join(' ')}`,
        ).toBe(limit);
        const held = (await store.tasks.find({})).filter(
          (t) => t.execution?.agentKey === key && t.leaseOwner !== null,
        );
        expect(held).toHaveLength(limit);
      }
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

  it('with releaseGone: false leaves a gone engine its tasks (the next claim that lets go takes them)', async () => {
    const store = new PostgresStore({ connectionString: PG_URL, schema: nextSchema(), poolSize: 2 });
    await store.open();
    try {
      await store.commit({ beats: [beat('dead', false)] });
      await store.commit({
        tasks: [sampleTask('held-dead', { execution: plan(), status: 'RUNNING', leaseOwner: 'dead' })],
      });
      const now = Date.now();
      expect(await store.claimRunnable({ engineId: 'me', limit: 10, now, releaseGone: false })).toEqual([]);
      expect((await store.tasks.get('held-dead'))!.leaseOwner).toBe('dead');
      const taken = await store.claimRunnable({ engineId: 'me', limit: 10, now });
      expect(taken.map((t) => t.id)).toEqual(['held-dead']);
    } finally {
      await store.close();
    }
  });
});
