/**
 * SQLite migration 14 and PostgreSQL migration 17 (issue 15, storing events cheaply): the events of
 * a commit go in one row. The rows of the earlier tables (one an event) are kept as rows of one
 * event under the same key: every stored event is read back as it was written, and a cursor handed
 * out before the migration goes on where it stood.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { postgresMigrations } from '../../src/repositories/postgres/migrations.js';
import { PostgresStore } from '../../src/repositories/postgres/postgres-store.js';
import { sqliteMigrations } from '../../src/repositories/sqlite/migrations.js';
import { SqliteStore } from '../../src/repositories/sqlite/sqlite-store.js';
import type { StoredEventRecord } from '../../src/repositories/events.js';
import type { Store } from '../../src/repositories/store.js';
import { sampleEvent } from '../../src/testing/store-contract/events.js';
import { describePostgres, dropTestSchemas, nextSchema, PG_URL, withAdmin } from './pg-helpers.js';
import { eventually } from '../support/wait.js';

/** Events as the one-row-an-event tables held them: odd text, NULLs, a nested payload. */
const OLD_EVENTS = [
  {
    name: 'task.created',
    payload: { taskId: 't1', workflowId: 'w1', at: 10, label: "'; DROP TABLE events; --" },
    engineId: 'e1',
    workflowId: 'w1',
    taskId: 't1',
    at: 10,
  },
  {
    name: 'agent.circuit',
    payload: { agentId: 'a', state: 'OPEN', at: 20.5, nested: { list: [1, null, 'Ünïcödé ✓'] } },
    engineId: 'e2',
    workflowId: null,
    taskId: null,
    at: 20.5,
  },
  {
    name: 'task.completed',
    payload: { taskId: 't1', workflowId: 'w1', at: 30, output: null },
    engineId: 'e1',
    workflowId: 'w1',
    taskId: 't1',
    at: 30,
  },
];

const withoutCursor = (events: readonly StoredEventRecord[]) =>
  events.map(({ cursor: _cursor, ...event }) => event);

/** What every migrated store shows, given the cursors the old rows had (`oldCursors`). */
async function checkMigrated(store: Store, oldCursors: readonly string[]): Promise<void> {
  // PostgreSQL hands events out once every older transaction on the server has ended: wait for them.
  const all = await eventually('the old events handed out', async () => {
    const page = await store.readEvents!({ after: null, limit: 100 });
    return page.events.length >= OLD_EVENTS.length ? page : undefined;
  });
  expect(withoutCursor(all.events)).toEqual(OLD_EVENTS);
  // A row of one event: its cursor is the row's, as before the migration.
  expect(all.events.map((event) => event.cursor)).toEqual(oldCursors);
  const after = await store.readEvents!({ after: oldCursors[0]!, limit: 100 });
  expect(withoutCursor(after.events)).toEqual(OLD_EVENTS.slice(1));
  // New commits: one row each, after every old cursor.
  await store.commit({ events: [sampleEvent('t2'), sampleEvent('t3', { engineId: 'other' })] });
  const next = await eventually('the new events handed out', async () => {
    const { events } = await store.readEvents!({ after: oldCursors.at(-1)!, limit: 100 });
    return events.length >= 2 ? events : undefined;
  });
  expect(withoutCursor(next)).toEqual([sampleEvent('t2'), sampleEvent('t3', { engineId: 'other' })]);
  const fromMiddle = await store.readEvents!({ after: oldCursors[1]!, limit: 2 });
  expect(fromMiddle.events.map((event) => event.taskId)).toEqual(['t1', 't2']);
}

const dir = mkdtempSync(join(tmpdir(), 'symphony-migration-event-rows-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('SQLite migration 14', () => {
  it('keeps every event of a version 13 file, and the cursors handed out before go on', async () => {
    const path = join(dir, 'v13.db');
    const db = new Database(path);
    db.exec(
      'CREATE TABLE symphony_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)',
    );
    for (const migration of sqliteMigrations.filter((m) => m.version <= 13)) {
      db.exec(migration.sql);
      db.prepare('INSERT INTO symphony_migrations (version, name) VALUES (?, ?)').run(
        migration.version,
        migration.name,
      );
    }
    const insert = db.prepare(
      'INSERT INTO events (seq, name, payload, engine_id, workflow_id, task_id, at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    // A gap in seq: an event pruned.
    for (const [i, e] of OLD_EVENTS.entries()) {
      insert.run([1, 2, 4][i], e.name, JSON.stringify(e.payload), e.engineId, e.workflowId, e.taskId, e.at);
    }
    db.close();
    const store = new SqliteStore({ path });
    await store.open();
    try {
      await checkMigrated(store, ['1', '2', '4']);
    } finally {
      await store.close();
    }
  });
});

describePostgres('PostgreSQL migration 17', () => {
  afterAll(dropTestSchemas);

  it('keeps every event of a version 16 schema, and the cursors handed out before go on', async () => {
    const schema = nextSchema();
    const s = `"${schema}"`;
    const cursors = await withAdmin(async (client) => {
      await client.query(`CREATE SCHEMA ${s}`);
      await client.query(
        `CREATE TABLE ${s}.symphony_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
      );
      for (const migration of postgresMigrations.filter((m) => m.version <= 16)) {
        await client.query(migration.sql(s));
        await client.query(`INSERT INTO ${s}.symphony_migrations (version, name) VALUES ($1, $2)`, [
          migration.version,
          migration.name,
        ]);
      }
      // Each event in a transaction of its own, as engines wrote them.
      for (const e of OLD_EVENTS) {
        await client.query(
          `INSERT INTO ${s}.events (name, payload, engine_id, workflow_id, task_id, at) VALUES ($1, $2, $3, $4, $5, $6)`,
          [e.name, JSON.stringify(e.payload), e.engineId, e.workflowId, e.taskId, e.at],
        );
      }
      const { rows } = await client.query(
        `SELECT xid::text || ':' || seq AS cursor FROM ${s}.events ORDER BY xid, seq`,
      );
      return rows.map((row: { cursor: string }) => row.cursor);
    });
    const store = new PostgresStore({ connectionString: PG_URL, schema, poolSize: 2 });
    await store.open();
    try {
      await checkMigrated(store, cursors);
    } finally {
      await store.close();
    }
  });
});
