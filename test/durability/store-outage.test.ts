// Regression tests for issue 10, item 4: a transient loss of the store must not strand work. On
// 3ca777e the batch rejected with STORE_UNAVAILABLE while its tasks ran on, and tasks stayed
// RUNNING in the store. Here the batch promise stays pending through the outage and resolves
// with every task COMPLETED, none RUNNING, one completion record each.
// The same rules on the simulated clock: test/engine/store-retry.test.ts.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../src/domain/agent.js';
import { ServiceRegistry, type Store } from '../../src/index.js';
import { PostgresStore } from '../../src/postgres.js';
import { SqliteStore } from '../../src/sqlite.js';
import {
  describePostgres,
  dropTestSchemas,
  nextSchema,
  PG_URL,
  withUser,
} from '../repositories/pg-helpers.js';
import { postgresBinDir, startPrivateCluster, waitFor } from '../repositories/pg-cluster.js';
import { recordingLogger } from '../support/recording-logger.js';

/** Gates the agent opens one round at a time, so the test decides when work completes. */
function rounds(count: number) {
  const opens: Array<() => void> = [];
  const gates = Array.from({ length: count }, () => new Promise<void>((resolve) => opens.push(resolve)));
  return { wait: (round: number) => gates[round]!, open: (round: number) => opens[round]!() };
}

/** An agent whose task `i` completes once round `floor(i / perRound)` is open. */
function gatedAgent(gate: ReturnType<typeof rounds>, roundOf: Map<string, number>): Agent {
  return {
    id: 'gated',
    execute: async (task) => {
      await gate.wait(roundOf.get(task.id)!);
      return { echoed: task.name };
    },
  };
}

async function createWork(registry: ServiceRegistry, count: number, perRound: number) {
  const workflow = await registry.getWorkflowTracker().createWorkflow({ name: 'outage' });
  const tasks = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      registry.getTaskManager().createTask({ name: `t${i}`, workflowId: workflow.id }),
    ),
  );
  const roundOf = new Map(tasks.map((task, i) => [task.id, Math.floor(i / perRound)]));
  return { workflowId: workflow.id, ids: tasks.map((t) => t.id), roundOf };
}

/** Every task COMPLETED with its own output, none RUNNING, exactly one completion record each. */
async function expectAllCompleted(store: Store, workflowId: string, ids: readonly string[]): Promise<void> {
  const rows = await store.tasks.find({ where: { workflowId } });
  expect(rows.filter((t) => t.status !== 'COMPLETED').map((t) => `${t.id}:${t.status}`)).toEqual([]);
  for (const row of rows) expect(row.outputData).toEqual({ echoed: row.name });
  expect(rows.every((t) => t.leaseOwner === null)).toBe(true);
  const completions = await store.completions();
  expect(completions.map((c) => c.taskId).sort()).toEqual([...ids].sort());
}

describePostgres('PostgreSQL backends terminated while a batch runs (issue 10, item 4)', () => {
  afterAll(dropTestSchemas);

  it('retries the commits: the batch resolves with every task COMPLETED, none RUNNING, one completion each', async () => {
    const app = `symphony_outage_${process.pid}`;
    const { logger, count } = recordingLogger();
    const schema = nextSchema();
    const store = new PostgresStore({
      connectionString: withUser(PG_URL, { application_name: app }),
      schema,
      logger,
    });
    const registry = new ServiceRegistry({ store, storeRetryMs: 20_000, logger });
    const ROUNDS = 6;
    const PER_ROUND = 30;
    const { workflowId, ids, roundOf } = await createWork(registry, ROUNDS * PER_ROUND, PER_ROUND);
    const gate = rounds(ROUNDS);
    const batch = registry.getEnhancedExecutor().batchExecute(
      ids.map((id) => [id, gatedAgent(gate, roundOf)] as const),
      { workflowId, maxConcurrent: 8 },
    );
    const locker = new pg.Client({ connectionString: withUser(PG_URL) });
    const watcher = new pg.Client({ connectionString: withUser(PG_URL) });
    await locker.connect();
    await watcher.connect();
    let terminated = 0;
    try {
      for (let round = 0; round < ROUNDS; round += 1) {
        // Writes to the tasks table wait behind this lock, so the engine's commit of this round's
        // completions is in flight when its connections are terminated.
        await locker.query('BEGIN');
        await locker.query(`LOCK TABLE "${schema}"."tasks" IN EXCLUSIVE MODE`);
        gate.open(round);
        await waitFor('a commit waiting on the lock', async () => {
          const { rowCount } = await watcher.query(
            "SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
            [app],
          );
          return (rowCount ?? 0) > 0;
        });
        const { rows } = await watcher.query<{ ok: boolean }>(
          'SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1',
          [app],
        );
        terminated += rows.filter((r) => r.ok).length;
        await locker.query('COMMIT');
        // The outage of this round is over once a commit went through again.
        await waitFor(
          'the commit retried on a new connection',
          () => count('info', /reachable again/) > round,
        );
      }
      const results = await batch;
      expect(results.map((r) => r.status)).toEqual(ids.map(() => 'COMPLETED'));
    } finally {
      await locker.end();
      await watcher.end();
    }
    expect(terminated).toBeGreaterThanOrEqual(ROUNDS);
    expect(count('warn', /retrying the commit/)).toBe(ROUNDS);
    expect(count('error', /Lost a connection in a transaction/)).toBeGreaterThanOrEqual(ROUNDS);
    await expectAllCompleted(store, workflowId, ids);
    expect((await registry.getWorkflowTracker().getWorkflow(workflowId)).status).toBe('COMPLETED');
    await registry.stop();
  });
});

const binDir = postgresBinDir();
const inCi = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';
// Under CI the server programs must be there: the test fails rather than skips.
const describeCluster = binDir !== null || inCi ? describe : describe.skip;
if (binDir === null && !inCi) {
  console.warn(
    '[symphony tests] SKIPPING the server restart test: no initdb/pg_ctl (set SYMPHONY_TEST_PG_BIN)',
  );
}

describeCluster('a PostgreSQL server restarted under load (issue 10, item 4)', () => {
  it('holds the work while the server is down and commits it once the server is back', async () => {
    const cluster = await startPrivateCluster();
    const { logger, count } = recordingLogger();
    const store = new PostgresStore({ connectionString: cluster.url, logger });
    const registry = new ServiceRegistry({ store, storeRetryMs: 25_000, logger });
    try {
      const PER_ROUND = 60;
      const { workflowId, ids, roundOf } = await createWork(registry, 3 * PER_ROUND, PER_ROUND);
      const gate = rounds(3);
      const batch = registry.getEnhancedExecutor().batchExecute(
        ids.map((id) => [id, gatedAgent(gate, roundOf)] as const),
        { workflowId, maxConcurrent: 8 },
      );
      gate.open(0);
      await waitFor(
        'the first round committed',
        async () => (await store.completions()).length === PER_ROUND,
      );
      await cluster.stop();
      // The work goes on while the server is down; its commits fail and are retried.
      gate.open(1);
      await waitFor('several failed commits', () => count('debug', /still unreachable/) >= 2);
      await cluster.start();
      gate.open(2);
      const results = await batch;
      expect(results.map((r) => r.status)).toEqual(ids.map(() => 'COMPLETED'));
      expect(count('warn', /retrying the commit/)).toBeGreaterThanOrEqual(1);
      expect(count('info', /Reconnected/)).toBeGreaterThanOrEqual(1);
      expect(count('info', /reachable again/)).toBeGreaterThanOrEqual(1);
      await expectAllCompleted(store, workflowId, ids);
      await registry.stop();
    } finally {
      await registry.stop().catch(() => {});
      await cluster.destroy();
    }
  });
});

describe('a SQLite file locked by another process for a while (issue 10, item 4)', () => {
  it('retries STORE_BUSY commits until the lock is gone; nothing is lost', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'symphony-busy-'));
    const path = join(dir, 'busy.db');
    const { logger, count } = recordingLogger();
    const store = new SqliteStore({ path, busyTimeoutMs: 0 });
    const registry = new ServiceRegistry({ store, storeRetryMs: 20_000, logger, controlPollMs: 0 });
    const other = new Database(path);
    try {
      const PER_ROUND = 40;
      const { workflowId, ids, roundOf } = await createWork(registry, 2 * PER_ROUND, PER_ROUND);
      const gate = rounds(2);
      const batch = registry.getEnhancedExecutor().batchExecute(
        ids.map((id) => [id, gatedAgent(gate, roundOf)] as const),
        { workflowId, maxConcurrent: 8 },
      );
      // Another connection takes the write lock and keeps it while the first round completes.
      other.prepare('BEGIN IMMEDIATE').run();
      gate.open(0);
      await waitFor('a commit refused as busy and retried', () => count('debug', /still unreachable/) >= 2);
      expect(count('warn', /retrying the commit/)).toBe(1);
      other.prepare('COMMIT').run();
      gate.open(1);
      const results = await batch;
      expect(results.map((r) => r.status)).toEqual(ids.map(() => 'COMPLETED'));
      await expectAllCompleted(store, workflowId, ids);
      await registry.stop();
    } finally {
      other.close();
      await registry.stop().catch(() => {});
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('treats a full disk (SQLITE_FULL) as transient: STORE_UNAVAILABLE, retryable', async () => {
    const { toStoreError } = await import('../../src/repositories/sqlite/sqlite-errors.js');
    // A real SQLITE_FULL from the driver: a database capped at its current size.
    const db = new Database(':memory:');
    db.exec('CREATE TABLE t (v TEXT)');
    const pages = db.pragma('page_count', { simple: true }) as number;
    db.pragma(`max_page_count = ${pages}`);
    let full: unknown;
    try {
      db.prepare('INSERT INTO t VALUES (?)').run('x'.repeat(100_000));
    } catch (error) {
      full = error;
    }
    db.close();
    expect((full as { code?: string }).code).toBe('SQLITE_FULL');
    expect(toStoreError(full, 'x.db')).toMatchObject({ code: 'STORE_UNAVAILABLE', retryable: true });
  });
});
