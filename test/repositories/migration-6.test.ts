import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { LATEST_POSTGRES_VERSION, postgresMigrations } from '../../src/repositories/postgres/migrations.js';
import { PostgresStore } from '../../src/repositories/postgres/postgres-store.js';
import { LATEST_SQLITE_VERSION, sqliteMigrations } from '../../src/repositories/sqlite/migrations.js';
import { SqliteStore } from '../../src/repositories/sqlite/sqlite-store.js';
import type { Store } from '../../src/repositories/store.js';
import { SAMPLE_TIME as T0 } from '../../src/testing/samples.js';
import { PG_URL, describePostgres, dropTestSchemas, nextSchema, withAdmin } from './pg-helpers.js';

// Migration 6 (signals) on files and schemas written by version 5: every table of version 5 kept
// as it was, rows and definitions; the signals table added, empty, and usable at once.

const TASK_COLUMNS = [
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
  'graph',
] as const;

/** Tasks as version 5 wrote them: a SKIPPED one with a graph, NULLs, odd text. */
const V5_TASKS: ReadonlyArray<readonly unknown[]> = [
  [
    't-done',
    "'; DROP TABLE signals; --",
    'Ünïcödé ✓ 🚀',
    '{"a":[1,{"b":null}]}',
    '{"ok":true}',
    '["x"]',
    0.5,
    'COMPLETED',
    1,
    '[]',
    'w1',
    'echo',
    'key-1',
    '{"m":"\\u0000"}',
    1.5,
    2.25,
    2,
    3,
    null,
    null,
    null,
    null,
    'null',
  ],
  [
    't-skipped',
    's',
    '',
    '{}',
    null,
    '[]',
    0,
    'SKIPPED',
    0,
    '[]',
    'w1',
    null,
    null,
    '{}',
    1,
    1,
    null,
    4,
    null,
    null,
    'engine-a',
    1e15,
    '{"dependsOn":["t-done"],"key":"k","when":{"cel":"outputs.k.ok"}}',
  ],
];

/** The other rows of version 5, one statement each (SQLite booleans as 0/1, PostgreSQL as true/false). */
function otherRows(yes: string, no: string): string[] {
  return [
    `INSERT INTO workflows (id, name, description, status, paused, cancelled, metadata, created_at, updated_at) VALUES ('w1', 'w', '', 'RUNNING', ${no}, ${yes}, '{"k":[1]}', 1, 1)`,
    "INSERT INTO agent_configs (id, name, type, description, capabilities, max_concurrency, metadata, created_at, updated_at) VALUES ('a1', 'echo', 'echo', '', '[\"x\"]', 2, '{}', 1, 1)",
    "INSERT INTO task_completions (task_id, execution_id, attempt, completed_at) VALUES ('t-done', 'e1', 1, 3)",
    "INSERT INTO control_commands (id, workflow_id, task_id, type, created_at) VALUES ('c1', 'w1', NULL, 'PAUSE', 5), ('c2', NULL, 't-done', 'CANCEL', 6)",
    `INSERT INTO engine_beats (engine_id, beat_at, expires_at, stopped) VALUES ('engine-a', 7, 8.5, ${yes})`,
    `INSERT INTO command_acks (command_id, engine_id, applied, error, acked_at) VALUES ('c1', 'engine-a', ${no}, 'refused', 9)`,
  ];
}

/** What every migrated store must show: its version 5 rows, and signals working from now on. */
async function checkMigratedStore(store: Store): Promise<void> {
  expect((await store.tasks.find()).map((t) => t.id)).toEqual(['t-done', 't-skipped']);
  expect((await store.tasks.get('t-skipped'))?.graph).toEqual({
    dependsOn: ['t-done'],
    key: 'k',
    when: { cel: 'outputs.k.ok' },
  });
  await expect(store.completions('t-done')).resolves.toEqual([
    { taskId: 't-done', executionId: 'e1', attempt: 1, completedAt: 3 },
  ]);
  expect((await store.commandsAfter(0)).map((c) => c.id)).toEqual(['c1', 'c2']);
  await expect(store.signals('w1')).resolves.toEqual([]);
  await store.commit({
    signals: [
      { id: 's1', workflowId: 'w1', name: 'approve', payload: { by: 'ann' }, sentAt: T0 },
      { id: 's2', workflowId: 'w1', name: 'approve', payload: null, sentAt: T0 + 1 },
    ],
  });
  await store.commit({ signalTakes: [{ signalId: 's1', taskId: 't-wait', at: T0 + 2 }] });
  const pending = await store.signals('w1', { pending: true });
  expect(pending.map((s) => [s.id, s.payload, s.takenBy])).toEqual([['s2', null, null]]);
  expect((await store.signals('w1'))[0]).toMatchObject({ id: 's1', takenBy: 't-wait', takenAt: T0 + 2 });
}

const dir = mkdtempSync(join(tmpdir(), 'symphony-migration-6-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A SQLite file at version 5 with rows in every table (and a gap in the tasks' seq). */
function sqliteV5(path: string): void {
  const db = new Database(path);
  db.exec(
    'CREATE TABLE symphony_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)',
  );
  for (const migration of sqliteMigrations.filter((m) => m.version <= 5)) {
    db.exec(migration.sql);
    db.prepare('INSERT INTO symphony_migrations (version, name) VALUES (?, ?)').run(
      migration.version,
      migration.name,
    );
  }
  const insert = db.prepare(
    `INSERT INTO tasks (${TASK_COLUMNS.join(', ')}) VALUES (${TASK_COLUMNS.map(() => '?').join(', ')})`,
  );
  const [first, second] = V5_TASKS;
  insert.run(...first!);
  insert.run('t-deleted', ...first!.slice(1, 12), 'key-2', ...first!.slice(13));
  insert.run(...second!);
  db.prepare("DELETE FROM tasks WHERE id = 't-deleted'").run();
  for (const statement of otherRows('1', '0')) db.prepare(statement).run();
  db.close();
}

/**
 * The dumps after the migrations keep only the tables version 5 had (`only`, read off the dump made
 * before): later migrations' tables are checked by their own tests, and a new one needs no entry here.
 */
const V5_ONLY = (dump: Record<string, unknown>): ReadonlySet<string> =>
  new Set([...Object.keys(dump.rows as Record<string, unknown>), 'symphony_migrations']);
/** Columns later migrations add to version 5's tables (NULL in old rows), left out of the dumps. */
const LATER_COLUMNS = ['circuit_breaker', 'rate_limits', 'quota'];

/** A version-5 table's definition as it was: without the columns later migrations added to it. */
function withoutLaterColumns(sql: string | null): string | null {
  return sql === null
    ? null
    : LATER_COLUMNS.reduce((text, column) => text.replace(`, ${column} TEXT`, ''), sql);
}

/** Every table but the migrations' record and the later ones: its definition and its rows, by rowid. */
function sqliteDump(path: string, only?: ReadonlySet<string>): Record<string, unknown> {
  const db = new Database(path, { readonly: true });
  try {
    const schema = db
      .prepare(
        "SELECT type, name, tbl_name, sql FROM sqlite_schema WHERE tbl_name <> 'symphony_migrations' ORDER BY name",
      )
      .all()
      .filter((entry) => only === undefined || only.has((entry as { tbl_name: string }).tbl_name))
      .map((entry) => {
        const row = entry as { type: string; name: string; sql: string | null };
        return { ...row, sql: withoutLaterColumns(row.sql) };
      });
    const rows: Record<string, unknown> = {};
    for (const { name } of schema.filter((entry) => entry.type === 'table')) {
      rows[name] = (
        db.prepare(`SELECT rowid AS "rowid", * FROM "${name}" ORDER BY rowid`).all() as object[]
      ).map((row) =>
        Object.fromEntries(Object.entries(row).filter(([column]) => !LATER_COLUMNS.includes(column))),
      );
    }
    return { schema, rows };
  } finally {
    db.close();
  }
}

describe('SQLite migration 6', () => {
  it('keeps every table of a version 5 file as it was, and adds an empty signals table that works', async () => {
    const path = join(dir, 'v5.db');
    sqliteV5(path);
    const before = sqliteDump(path);
    expect((before.rows as Record<string, unknown[]>).tasks).toHaveLength(2);
    const store = new SqliteStore({ path });
    await store.open();
    try {
      expect(sqliteDump(path, V5_ONLY(before))).toEqual(before);
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
      expect(db.prepare("SELECT name FROM pragma_table_info('signals')").pluck().all()).toEqual([
        'seq',
        'id',
        'workflow_id',
        'name',
        'payload',
        'sent_at',
        'taken_by',
        'taken_at',
      ]);
      expect(
        db
          .prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'signals' ORDER BY name",
          )
          .pluck()
          .all(),
      ).toEqual(['signals_pending', 'signals_workflow_id_seq', 'sqlite_autoindex_signals_1']);
      // The pending signals of a workflow are read through the partial index, in seq order.
      const plan = db
        .prepare(
          "EXPLAIN QUERY PLAN SELECT seq FROM signals WHERE workflow_id = 'w1' AND taken_by IS NULL ORDER BY seq",
        )
        .all() as Array<{ detail: string }>;
      expect(plan.map((step) => step.detail).join('\n')).toMatch(/USING (COVERING )?INDEX signals_pending/);
    } finally {
      db.close();
    }
  });

  it('refuses a signal marked taken without a time (or the reverse), or without a workflow', () => {
    const path = join(dir, 'checks.db');
    const db = new Database(path);
    try {
      for (const migration of sqliteMigrations) db.exec(migration.sql);
      const insert = db.prepare(
        'INSERT INTO signals (id, workflow_id, name, payload, sent_at, taken_by, taken_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      );
      expect(() => insert.run('s1', 'w1', 'n', 'null', 1, 't1', null)).toThrow(/signals_taken_check/);
      expect(() => insert.run('s2', 'w1', 'n', 'null', 1, null, 5)).toThrow(/signals_taken_check/);
      expect(() => insert.run('s4', null, 'n', 'null', 1, null, null)).toThrow(/NOT NULL/);
    } finally {
      db.close();
    }
  });
});

describePostgres('PostgreSQL migration 6', () => {
  afterAll(dropTestSchemas);

  /** Every table but the migrations' record, signals and workflow_runs: its columns and constraints, and its rows. */
  async function pgDump(schema: string, only?: ReadonlySet<string>): Promise<Record<string, unknown>> {
    return withAdmin(async (client) => {
      const kept = (table: string) => only === undefined || only.has(table);
      const { rows: allColumns } = await client.query(
        `SELECT table_name, column_name, data_type, is_nullable, column_default, collation_name FROM information_schema.columns WHERE table_schema = $1 AND table_name <> 'symphony_migrations' AND NOT column_name = ANY($2) ORDER BY table_name, ordinal_position`,
        [schema, LATER_COLUMNS],
      );
      const columns = allColumns.filter((c: { table_name: string }) => kept(c.table_name));
      const { rows: constraints } = await client.query(
        `SELECT c.conrelid::regclass::text AS "table", c.conname, pg_get_constraintdef(c.oid) AS def FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = $1 ORDER BY 1, 2`,
        [schema],
      );
      const { rows: allIndexes } = await client.query(
        // Migration 7 adds the claim indexes of tasks (checked in migration-7.test.ts), migration 8
        // the table workflow_runs (workers-graphs.test.ts).
        `SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = $1 AND indexname NOT IN ('tasks_unheld', 'tasks_unheld_agent', 'tasks_held', 'tasks_unheld_keyed') ORDER BY indexname`,
        [schema],
      );
      const indexes = allIndexes.filter((i: { tablename: string }) => kept(i.tablename));
      const tables = [...new Set(columns.map((c: { table_name: string }) => c.table_name))];
      const rows: Record<string, unknown> = {};
      for (const table of tables) {
        const names = columns
          .filter((c: { table_name: string }) => c.table_name === table)
          .map((c: { column_name: string }) => `t."${c.column_name}"`);
        const { rows: data } = await client.query(
          `SELECT ROW(${names.join(', ')})::text AS row FROM "${schema}"."${table}" t ORDER BY 1`,
        );
        rows[table] = data;
      }
      return {
        columns,
        constraints: constraints.filter((c: { table: string }) =>
          kept(c.table.slice(c.table.lastIndexOf('.') + 1).replace(/"/g, '')),
        ),
        indexes,
        rows,
      };
    });
  }

  it('keeps every table of a version 5 schema as it was, and adds an empty signals table that works', async () => {
    const schema = nextSchema();
    const s = `"${schema}"`;
    await withAdmin(async (client) => {
      await client.query(`CREATE SCHEMA ${s}`);
      await client.query(
        `CREATE TABLE ${s}.symphony_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
      );
      for (const migration of postgresMigrations.filter((m) => m.version <= 5)) {
        await client.query(migration.sql(s));
        await client.query(`INSERT INTO ${s}.symphony_migrations (version, name) VALUES ($1, $2)`, [
          migration.version,
          migration.name,
        ]);
      }
      const insert = `INSERT INTO ${s}.tasks (${TASK_COLUMNS.join(', ')}) VALUES (${TASK_COLUMNS.map((_, i) => `$${i + 1}`).join(', ')})`;
      for (const row of V5_TASKS) await client.query(insert, [...row]);
      await client.query(`SET search_path TO ${s}`);
      for (const statement of otherRows('true', 'false')) await client.query(statement);
    });
    const before = await pgDump(schema);
    expect((before.rows as Record<string, unknown[]>).tasks).toHaveLength(2);
    const store = new PostgresStore({ connectionString: PG_URL, schema, poolSize: 2 });
    await store.open();
    try {
      expect(await pgDump(schema, V5_ONLY(before))).toEqual(before);
      await checkMigratedStore(store);
    } finally {
      await store.close();
    }
    await withAdmin(async (client) => {
      const { rows: versions } = await client.query(`SELECT MAX(version) AS v FROM ${s}.symphony_migrations`);
      expect(versions[0]).toEqual({ v: LATEST_POSTGRES_VERSION });
      const { rows: columns } = await client.query(
        `SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'signals' ORDER BY ordinal_position`,
        [schema],
      );
      expect(
        columns.map((c: { column_name: string; data_type: string; is_nullable: string }) => Object.values(c)),
      ).toEqual([
        ['seq', 'bigint', 'NO'],
        ['id', 'text', 'NO'],
        ['workflow_id', 'text', 'NO'],
        ['name', 'text', 'NO'],
        ['payload', 'json', 'NO'],
        ['sent_at', 'double precision', 'NO'],
        ['taken_by', 'text', 'YES'],
        ['taken_at', 'double precision', 'YES'],
      ]);
      const { rows: indexes } = await client.query(
        `SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = 'signals' ORDER BY indexname`,
        [schema],
      );
      expect(indexes.map((i: { indexname: string }) => i.indexname)).toEqual([
        'signals_id_unique',
        'signals_pending',
        'signals_pkey',
        'signals_workflow_id_seq',
      ]);
      await expect(
        client.query(
          `INSERT INTO ${s}.signals (id, workflow_id, name, payload, sent_at, taken_by) VALUES ('bad', 'w1', 'n', 'null', 1, 't1')`,
        ),
      ).rejects.toMatchObject({ constraint: 'signals_taken_check' });
    });
  });
});
