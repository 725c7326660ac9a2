/**
 * `Store.open({ readOnly: true })` (StoreOpenOptions): a store is read as it is, nothing created or
 * migrated, and a place holding no Symphony store is refused with STORE_NOT_FOUND. Regression: the
 * CLI's read commands (`list`, `show`, ...) created 19 tables in a mistyped PostgreSQL schema and in
 * another application's SQLite file.
 */
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { SymphonyError } from '../../src/errors/symphony-error.js';
import { sampleWorkflow } from '../../src/testing/samples.js';
import { PostgresStore } from '../../src/repositories/postgres/postgres-store.js';
import { SqliteStore } from '../../src/repositories/sqlite/sqlite-store.js';
import type { Store } from '../../src/repositories/store.js';
import { tempDir } from '../cli/helpers.js';
import { describePostgres, dropTestSchemas, nextSchema, PG_URL, withAdmin, withUser } from './pg-helpers.js';

/** The code `open` rejects with (or 'opened'), the store closed either way. */
async function openCode(store: Store): Promise<string> {
  try {
    await store.open({ readOnly: true });
    return 'opened';
  } catch (error) {
    return SymphonyError.isInstance(error) ? error.code : String(error);
  } finally {
    await store.close();
  }
}

const workflow = () => sampleWorkflow('wf-1', { name: 'kept' });

describe('SqliteStore.open({ readOnly: true })', () => {
  const made = tempDir();
  afterAll(() => made.cleanup());

  it('refuses a missing file and creates neither it nor its folder', async () => {
    const path = join(made.dir, 'missing', 'symphony.db');
    expect(await openCode(new SqliteStore({ path }))).toBe('STORE_NOT_FOUND');
    expect(existsSync(join(made.dir, 'missing'))).toBe(false);
  });

  it("refuses another application's file and leaves it byte for byte as it was", async () => {
    const path = join(made.dir, 'foreign.db');
    const db = new Database(path);
    db.exec(
      "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers (name) VALUES ('alice')",
    );
    db.close();
    const before = readFileSync(path);
    expect(await openCode(new SqliteStore({ path }))).toBe('STORE_NOT_FOUND');
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  it('refuses an empty (0-byte) file and leaves it empty', async () => {
    const path = join(made.dir, 'empty.db');
    writeFileSync(path, '');
    expect(await openCode(new SqliteStore({ path }))).toBe('STORE_NOT_FOUND');
    expect(statSync(path).size).toBe(0);
  });

  it('refuses a store of an older schema version (only an open to write migrates it)', async () => {
    const path = join(made.dir, 'old.db');
    const db = new Database(path);
    db.exec('CREATE TABLE symphony_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)');
    db.prepare('INSERT INTO symphony_migrations (version, name) VALUES (1, ?)').run('initial');
    db.close();
    expect(await openCode(new SqliteStore({ path }))).toBe('STORE_UNAVAILABLE');
  });

  it('reads a store as it is, and refuses writes with STORE_READ_ONLY', async () => {
    const path = join(made.dir, 'store.db');
    const writer = new SqliteStore({ path });
    await writer.open();
    await writer.commit({ workflows: [workflow()] });
    await writer.close();
    const reader = new SqliteStore({ path });
    await reader.open({ readOnly: true });
    try {
      expect((await reader.workflows.get('wf-1'))?.name).toBe('kept');
      await expect(reader.commit({ workflows: [{ ...workflow(), name: 'changed' }] })).rejects.toMatchObject({
        code: 'STORE_READ_ONLY',
      });
    } finally {
      await reader.close();
    }
  });
});

describePostgres('PostgresStore.open({ readOnly: true })', () => {
  const stores: Store[] = [];
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
  });
  afterAll(() => dropTestSchemas());
  const storeIn = (schema: string) => {
    const store = new PostgresStore({ connectionString: withUser(PG_URL), schema });
    stores.push(store);
    return store;
  };

  it('refuses a schema without Symphony tables and creates nothing', async () => {
    const schema = nextSchema();
    expect(await openCode(storeIn(schema))).toBe('STORE_NOT_FOUND');
    const { rows } = await withAdmin((client) =>
      client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]),
    );
    expect(rows).toEqual([]);
  });

  it('reads a store as it is, and refuses writes with STORE_READ_ONLY', async () => {
    const schema = nextSchema();
    const writer = storeIn(schema);
    await writer.open();
    await writer.commit({ workflows: [workflow()] });
    const reader = storeIn(schema);
    await reader.open({ readOnly: true });
    expect((await reader.workflows.get('wf-1'))?.name).toBe('kept');
    await expect(reader.commit({ workflows: [{ ...workflow(), name: 'changed' }] })).rejects.toMatchObject({
      code: 'STORE_READ_ONLY',
    });
  });
});
