import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import type { Task } from '../../src/domain/task.js';
import { taskSpec } from '../../src/repositories/entities.js';
import { LATEST_POSTGRES_VERSION, postgresMigrations } from '../../src/repositories/postgres/migrations.js';
import { PostgresStore } from '../../src/repositories/postgres/postgres-store.js';
import { LATEST_SQLITE_VERSION, sqliteMigrations } from '../../src/repositories/sqlite/migrations.js';
import { SqliteStore } from '../../src/repositories/sqlite/sqlite-store.js';
import type { Store } from '../../src/repositories/store.js';
import { sampleTask, sampleWorkflow } from '../../src/testing/samples.js';
import { PG_URL, describePostgres, dropTestSchemas, nextSchema, withAdmin } from './pg-helpers.js';

// Migration 5 (SKIPPED task status, task graphs) on files and schemas written by version 4: every
// row and column kept, SKIPPED accepted from then on, graph null for the rows written before.

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** The SQL of the released versions 1-4 (commit 30b8ae7); a released step never changes. */
const RELEASED = {
  sqlite: [
    'b5f2c0ba632293b7eff109dcf280542d8cfe2609d66f6efe6b394386c9fce000',
    'e451818d0d1106d34702b097af8ded997e17a8b066b8247a662a06aef36defac',
    '9c102f7546fc3730510df242b1b0d02714a62e5e598fd66bf137829d8f229953',
    '94e2c7c2ee674f02ad8b2395b5f64bdd1f78b8155eca3bb9ef5cedd9c221bb8b',
  ],
  postgres: [
    '8cd1c4335db1ab478cbc43ece07889aae04fa8dbd01b70c8e4792ea646fabb3b',
    '8939268f95d66497fc7d1c7f04371d9202016a3ce1b44f9c1f1dd90f25c29289',
    '4b91acb3b8816e854752b828197aa0a8fd88ef299646aba9d29c14b6d2ea9bd9',
    '145f26f93a79fda1329525bc578a29b2ae98da34b4327c0d9c1bcdfdf775bbc8',
  ],
};

/** The columns of `tasks` at version 4, in table order. */
const V4_COLUMNS = [
  'seq',
  'id',
  'name',
  'description',
  'input_data',
  'output_data',
  'tags',
  'priority',
  'status',
  'attempts',
  'errors',
  'workflow_id',
  'agent_id',
  'idempotency_key',
  'metadata',
  'created_at',
  'updated_at',
  'started_at',
  'finished_at',
  'run_after',
  'execution',
  'lease_owner',
  'lease_expires_at',
] as const;

const PLAN = '{"agentKey":"echo","attemptLimit":3,"maxAttempts":3,"timeoutMs":0,"metadata":{"k":"\\u0000"}}';

/** Rows as version 4 wrote them (without seq): each status of the time, NULLs, JSON null, odd text. */
const V4_ROWS: ReadonlyArray<readonly unknown[]> = [
  [
    't-pending',
    'p',
    '',
    '{}',
    null,
    '[]',
    0,
    'PENDING',
    0,
    '[]',
    null,
    null,
    null,
    '{}',
    1,
    1,
    null,
    null,
    null,
    null,
    null,
    null,
  ],
  [
    't-running',
    "'; DROP TABLE tasks; --",
    'Ünïcödé ✓ 🚀',
    '{"a":[1,2,{"b":null}]}',
    'null',
    '["x","y"]',
    0.1,
    'RUNNING',
    1,
    '[]',
    'w1',
    'echo',
    'key-1',
    '{"m":1}',
    1.5,
    2.25,
    2,
    null,
    3.75,
    PLAN,
    'engine-a',
    1e15,
  ],
  [
    't-completed',
    'c',
    'd',
    '{}',
    '{"ok":true,"n":1e-7}',
    '[]',
    -3,
    'COMPLETED',
    2,
    '[{"name":"Error","message":"boom","attempt":1,"at":5,"retryable":true}]',
    'w1',
    'echo',
    null,
    '{}',
    1,
    9,
    2,
    9,
    null,
    null,
    null,
    null,
  ],
  [
    't-failed',
    'f',
    '',
    '{}',
    null,
    '[]',
    0,
    'FAILED',
    3,
    '[]',
    null,
    'echo',
    'key-2',
    '{}',
    1,
    1,
    1,
    1,
    null,
    null,
    null,
    null,
  ],
  [
    't-paused',
    'pp',
    '',
    '{}',
    null,
    '[]',
    0,
    'PAUSED',
    0,
    '[]',
    'w2',
    null,
    null,
    '{}',
    1,
    1,
    null,
    null,
    7,
    PLAN,
    null,
    null,
  ],
  [
    't-cancelled',
    'x',
    '',
    '{}',
    null,
    '[]',
    0,
    'CANCELLED',
    0,
    '[]',
    'w2',
    null,
    null,
    '{}',
    1,
    1,
    null,
    4,
    null,
    null,
    null,
    null,
  ],
];

/** The stored rows, their columns in table order, as text (SQL NULL as null). */
type Dump = Array<Record<string, string | null>>;

const dir = mkdtempSync(join(tmpdir(), 'symphony-migration-5-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A SQLite file at version 4 with V4_ROWS (and a gap in seq: a deleted row). */
function sqliteV4(path: string): void {
  const db = new Database(path);
  db.exec(
    'CREATE TABLE symphony_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)',
  );
  for (const migration of sqliteMigrations.filter((m) => m.version <= 4)) {
    db.exec(migration.sql);
    db.prepare('INSERT INTO symphony_migrations (version, name) VALUES (?, ?)').run(
      migration.version,
      migration.name,
    );
  }
  const columns = V4_COLUMNS.slice(1);
  const insert = db.prepare(
    `INSERT INTO tasks (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`,
  );
  const [first, ...rest] = V4_ROWS;
  insert.run(...first!);
  insert.run('t-deleted', ...first!.slice(1));
  for (const row of rest) insert.run(...row);
  db.prepare("DELETE FROM tasks WHERE id = 't-deleted'").run();
  db.prepare(
    "INSERT INTO workflows (id, name, description, status, paused, cancelled, metadata, created_at, updated_at) VALUES ('w1', 'w', '', 'RUNNING', 0, 0, '{}', 1, 1)",
  ).run();
  db.prepare(
    "INSERT INTO task_completions (task_id, execution_id, attempt, completed_at) VALUES ('t-completed', 'e1', 2, 9)",
  ).run();
  db.close();
}

function sqliteDump(path: string): { rows: Dump; graphs: unknown[]; indexes: unknown[] } {
  const db = new Database(path, { readonly: true });
  try {
    const select = V4_COLUMNS.map(
      (c) => `CASE WHEN ${c} IS NULL THEN NULL ELSE CAST(${c} AS TEXT) END AS ${c}`,
    );
    const rows = db.prepare(`SELECT ${select.join(', ')} FROM tasks ORDER BY seq`).all() as Dump;
    const hasGraph = (
      db.prepare("SELECT COUNT(*) AS n FROM pragma_table_info('tasks') WHERE name = 'graph'").get() as {
        n: number;
      }
    ).n;
    const graphs = hasGraph ? db.prepare('SELECT graph FROM tasks ORDER BY seq').pluck().all() : [];
    const indexes = db
      .prepare(
        "SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'tasks' ORDER BY name",
      )
      .all();
    return { rows, graphs, indexes };
  } finally {
    db.close();
  }
}

/** What every migrated store must show: the rows of version 4, graph null, SKIPPED accepted. */
async function checkMigratedStore(store: Store): Promise<void> {
  const tasks = await store.tasks.find();
  expect(tasks.map((t) => t.id)).toEqual(V4_ROWS.map((row) => row[0]));
  for (const task of tasks) expect(task.graph).toBeNull();
  expect(await store.tasks.get('t-running')).toEqual({
    id: 't-running',
    name: "'; DROP TABLE tasks; --",
    description: 'Ünïcödé ✓ 🚀',
    inputData: { a: [1, 2, { b: null }] },
    outputData: null,
    tags: ['x', 'y'],
    priority: 0.1,
    status: 'RUNNING',
    attempts: 1,
    errors: [],
    workflowId: 'w1',
    agentId: 'echo',
    idempotencyKey: 'key-1',
    metadata: { m: 1 },
    createdAt: 1.5,
    updatedAt: 2.25,
    startedAt: 2,
    finishedAt: null,
    runAfter: 3.75,
    execution: JSON.parse(PLAN) as Task['execution'],
    leaseOwner: 'engine-a',
    leaseExpiresAt: 1e15,
    graph: null,
  } satisfies Task);
  // SKIPPED is accepted from now on, whole rows and state writes; graphs are written with the row.
  const graph: Task['graph'] = { dependsOn: ['t-completed'], key: 'k', when: { cel: 'outputs.a.ok' } };
  await store.commit({
    tasks: [sampleTask('t-new', { status: 'SKIPPED', graph })],
    taskStates: [sampleTask('t-pending', { status: 'SKIPPED', finishedAt: 10 })],
  });
  expect(await store.tasks.get('t-new')).toEqual(sampleTask('t-new', { status: 'SKIPPED', graph }));
  expect((await store.tasks.find({ where: { status: 'SKIPPED' } })).map((t) => t.id)).toEqual([
    't-pending',
    't-new',
  ]);
  // The CHECK keeps its name, so a bad status is still reported as such; workflows keep six statuses.
  await expect(
    store.tasks.create(sampleTask('t-bad', { status: 'BOGUS' as Task['status'] })),
  ).rejects.toMatchObject({
    code: 'INVALID_ARGUMENT',
    details: { entity: 'task', field: 'status' },
  });
  await expect(
    store.workflows.create(sampleWorkflow('w-bad', { status: 'SKIPPED' as never })),
  ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', details: { entity: 'workflow', field: 'status' } });
  // The idempotency key stays unique.
  await expect(store.tasks.create(sampleTask('t-dup', { idempotencyKey: 'key-1' }))).rejects.toMatchObject({
    code: 'INVALID_STATE',
  });
  await expect(store.workflows.get('w1')).resolves.toMatchObject({ status: 'RUNNING' });
  await expect(store.completions('t-completed')).resolves.toEqual([
    { taskId: 't-completed', executionId: 'e1', attempt: 2, completedAt: 9 },
  ]);
}

describe('migrations 1-4', () => {
  it('produce the SQL they were released with (the six statuses, frozen)', () => {
    expect(sqliteMigrations.filter((m) => m.version <= 4).map((m) => sha256(m.sql))).toEqual(RELEASED.sqlite);
    expect(postgresMigrations.filter((m) => m.version <= 4).map((m) => sha256(m.sql('"s"')))).toEqual(
      RELEASED.postgres,
    );
  });
});

describe('SQLite migration 5', () => {
  it('keeps every row and column of a version 4 file, its seq and its indexes, and accepts SKIPPED', async () => {
    const path = join(dir, 'v4.db');
    sqliteV4(path);
    const before = sqliteDump(path);
    expect(before.rows.map((r) => r.seq)).toEqual(['1', '3', '4', '5', '6', '7']);
    const store = new SqliteStore({ path });
    await store.open();
    try {
      const after = sqliteDump(path);
      expect(after.rows).toEqual(before.rows);
      expect(after.graphs).toEqual(V4_ROWS.map(() => 'null'));
      expect(after.indexes).toEqual(before.indexes);
      await checkMigratedStore(store);
    } finally {
      await store.close();
    }
    const db = new Database(path, { readonly: true });
    try {
      expect(db.prepare('PRAGMA integrity_check').pluck().all()).toEqual(['ok']);
      expect(db.prepare('SELECT MAX(version) FROM symphony_migrations').pluck().get()).toBe(
        LATEST_SQLITE_VERSION,
      );
      // New rows are numbered after the kept ones.
      expect(db.prepare("SELECT seq FROM tasks WHERE id = 't-new'").pluck().get()).toBeGreaterThan(7);
      expect(
        db.prepare("SELECT COUNT(*) FROM sqlite_schema WHERE name LIKE '%tasks_v5%'").pluck().get(),
      ).toBe(0);
    } finally {
      db.close();
    }
  });

  it('leaves the tasks table with exactly the columns of taskSpec (after seq), in order', async () => {
    const path = join(dir, 'columns.db');
    const store = new SqliteStore({ path });
    await store.open();
    await store.close();
    const db = new Database(path, { readonly: true });
    try {
      const columns = db.prepare("SELECT name FROM pragma_table_info('tasks')").pluck().all();
      expect(columns).toEqual(['seq', ...taskSpec.fields.map((f) => f.column)]);
    } finally {
      db.close();
    }
  });
});

describePostgres('PostgreSQL migration 5', () => {
  afterAll(dropTestSchemas);

  const textColumns = V4_COLUMNS.map((c) => `${c}::text AS ${c}`).join(', ');

  it('keeps every row and column of a version 4 schema, its seq and constraints, and accepts SKIPPED', async () => {
    const schema = nextSchema();
    const s = `"${schema}"`;
    const before = await withAdmin(async (client) => {
      await client.query(`CREATE SCHEMA ${s}`);
      await client.query(
        `CREATE TABLE ${s}.symphony_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
      );
      for (const migration of postgresMigrations.filter((m) => m.version <= 4)) {
        await client.query(migration.sql(s));
        await client.query(`INSERT INTO ${s}.symphony_migrations (version, name) VALUES ($1, $2)`, [
          migration.version,
          migration.name,
        ]);
      }
      const columns = V4_COLUMNS.slice(1);
      const insert = `INSERT INTO ${s}.tasks (${columns.join(', ')}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')})`;
      const [first, ...rest] = V4_ROWS;
      await client.query(insert, [...first!]);
      await client.query(insert, ['t-deleted', ...first!.slice(1)]);
      for (const row of rest) await client.query(insert, [...row]);
      await client.query(`DELETE FROM ${s}.tasks WHERE id = 't-deleted'`);
      await client.query(
        `INSERT INTO ${s}.workflows (id, name, description, status, paused, cancelled, metadata, created_at, updated_at) VALUES ('w1', 'w', '', 'RUNNING', false, false, '{}', 1, 1)`,
      );
      await client.query(
        `INSERT INTO ${s}.task_completions (task_id, execution_id, attempt, completed_at) VALUES ('t-completed', 'e1', 2, 9)`,
      );
      const { rows } = await client.query(`SELECT ${textColumns} FROM ${s}.tasks ORDER BY seq`);
      return rows as Dump;
    });
    expect(before.map((r) => r.seq)).toEqual(['1', '3', '4', '5', '6', '7']);
    const store = new PostgresStore({ connectionString: PG_URL, schema, poolSize: 2 });
    await store.open();
    try {
      const after = await withAdmin(async (client) => {
        const { rows } = await client.query(
          `SELECT ${textColumns}, graph::text AS graph FROM ${s}.tasks ORDER BY seq`,
        );
        const { rows: columns } = await client.query(
          `SELECT data_type, is_nullable, column_default FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'tasks' AND column_name = 'graph'`,
          [schema],
        );
        return { rows: rows as Dump, graph: columns[0] as unknown };
      });
      expect(after.rows.map(({ graph: _graph, ...row }) => row)).toEqual(before);
      expect(after.rows.map((row) => row.graph)).toEqual(V4_ROWS.map(() => 'null'));
      expect(after.graph).toEqual({ data_type: 'json', is_nullable: 'YES', column_default: null });
      await checkMigratedStore(store);
    } finally {
      await store.close();
    }
    await withAdmin(async (client) => {
      const { rows } = await client.query(`SELECT seq::int AS seq FROM ${s}.tasks WHERE id = 't-new'`);
      expect((rows[0] as { seq: number }).seq).toBeGreaterThan(7);
      const { rows: versions } = await client.query(`SELECT MAX(version) AS v FROM ${s}.symphony_migrations`);
      expect(versions[0]).toEqual({ v: LATEST_POSTGRES_VERSION });
    });
  });

  it('leaves the tasks table with exactly the columns of taskSpec (after seq), in order', async () => {
    const schema = nextSchema();
    const store = new PostgresStore({ connectionString: PG_URL, schema, poolSize: 1 });
    await store.open();
    await store.close();
    const columns = await withAdmin(async (client) => {
      const { rows } = await client.query(
        `SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'tasks' ORDER BY ordinal_position`,
        [schema],
      );
      return rows.map((row: { column_name: string }) => row.column_name);
    });
    expect(columns).toEqual(['seq', ...taskSpec.fields.map((f) => f.column)]);
  });
});
