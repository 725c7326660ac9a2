import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/repositories/memory/memory-store.js';
import { createStore, openStore } from '../../src/repositories/open-store.js';
import { PostgresStore } from '../../src/repositories/postgres/postgres-store.js';
import type { SqliteStore } from '../../src/repositories/sqlite/sqlite-store.js';
import { PG_URL, describePostgres, dropTestSchemas, nextSchema } from './pg-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'symphony-open-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('createStore', () => {
  it('maps memory names to a MemoryStore', () => {
    expect(createStore(':memory:')).toBeInstanceOf(MemoryStore);
    expect(createStore('memory')).toBeInstanceOf(MemoryStore);
    expect(createStore({ kind: 'memory' })).toBeInstanceOf(MemoryStore);
  });

  it('maps paths, sqlite:// and file: specs to a SqliteStore at that path', () => {
    const path = join(dir, 'a.db');
    expect((createStore(path) as SqliteStore).path).toBe(path);
    expect((createStore('relative/b.db') as SqliteStore).path).toBe('relative/b.db');
    expect((createStore(`sqlite://${path}`) as SqliteStore).path).toBe(path);
    expect((createStore(pathToFileURL(path).href) as SqliteStore).path).toBe(path);
    expect((createStore('file:c.db') as SqliteStore).path).toBe('c.db');
    expect((createStore('sqlite:d.db') as SqliteStore).path).toBe('d.db');
    expect((createStore('C:\\data\\e.db') as SqliteStore).path).toBe('C:\\data\\e.db');
    expect((createStore({ kind: 'sqlite', path, synchronous: 'FULL' }) as SqliteStore).path).toBe(path);
  });

  it('maps postgres:// and postgresql:// URLs to a PostgresStore, with ?schema= picking the schema', () => {
    expect(createStore('postgres://db.example/app')).toBeInstanceOf(PostgresStore);
    const store = createStore('postgresql://user:pw@db.example:5433/app?schema=jobs&sslmode=disable');
    expect(store).toBeInstanceOf(PostgresStore);
    expect((store as PostgresStore).schema).toBe('jobs');
    expect(
      (createStore({ kind: 'postgres', connectionString: 'postgres://h/d' }) as PostgresStore).schema,
    ).toBe('public');
  });

  it('returns a Store instance unchanged and rejects what names no store', () => {
    const store = new MemoryStore();
    expect(createStore(store)).toBe(store);
    expect(() => createStore('')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => createStore('sqlite://')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    // Another URL scheme is a mistake, not a file name; a password in it is not repeated.
    expect(() => createStore('mysql://root:secret@db/app')).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.not.stringContaining('secret') }),
    );
    expect(() => createStore('redis:6379')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    // A malformed PostgreSQL URL was a plain TypeError ('Invalid URL'), INTERNAL in the CLI.
    for (const bad of ['postgres://u:secret@bad host/db', 'postgres://u:secret@127.0.0.1:abc/test']) {
      expect(() => createStore(bad)).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.not.stringContaining('secret') }),
      );
      expect(() => createStore({ kind: 'postgres', connectionString: bad })).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.not.stringContaining('secret') }),
      );
    }
    expect(() => createStore({ kind: 'redis' } as never)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
    expect(() => createStore(42 as never)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});

describe('openStore', () => {
  it('opens a SQLite store ready for use', async () => {
    const store = await openStore(join(dir, 'nested', 'open.db'));
    expect(store.kind).toBe('sqlite');
    await expect(store.tasks.count()).resolves.toBe(0);
    await store.close();
  });
});

describePostgres('openStore on PostgreSQL', () => {
  afterAll(dropTestSchemas);

  it('opens a PostgreSQL store in the schema named by the URL', async () => {
    const url = new URL(PG_URL);
    url.searchParams.set('schema', nextSchema());
    const store = await openStore(url.toString());
    expect(store.kind).toBe('postgres');
    await expect(store.tasks.count()).resolves.toBe(0);
    await store.close();
  });
});
