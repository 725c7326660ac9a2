import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe } from 'vitest';
import { MemoryStore, ServiceRegistry, type Store } from '../../src/index.js';
import { PostgresStore } from '../../src/repositories/postgres/postgres-store.js';
import { SqliteStore } from '../../src/repositories/sqlite/sqlite-store.js';
import {
  describePostgres,
  dropTestSchemas,
  nextSchema,
  PG_URL,
  withUser,
} from '../repositories/pg-helpers.js';

/** A store for one test, and a second handle on the same data (a new connection or file handle). */
export interface Backend {
  store: Store;
  /** Another store object over the same data; for memory, the same store. Opened by the caller. */
  reopen(): Store;
}

export type BackendFactory = () => Backend;

const memory: BackendFactory = () => {
  const store = new MemoryStore();
  return { store, reopen: () => store };
};

const sqlite: BackendFactory = () => {
  const path = join(mkdtempSync(join(tmpdir(), 'symphony-hostile-')), 'h.db');
  return { store: new SqliteStore({ path }), reopen: () => new SqliteStore({ path }) };
};

const postgres: BackendFactory = () => {
  const schema = nextSchema();
  const connectionString = withUser(PG_URL);
  return {
    store: new PostgresStore({ connectionString, schema }),
    reopen: () => new PostgresStore({ connectionString, schema }),
  };
};

/**
 * Runs `suite` once per store: memory, SQLite and PostgreSQL (the last skipped with a message
 * when the server is unreachable outside CI).
 */
export function describeEveryStore(title: string, suite: (backend: BackendFactory) => void): void {
  describe(`${title} (memory store)`, () => suite(memory));
  describe(`${title} (sqlite store)`, () => suite(sqlite));
  describePostgres(`${title} (postgres store)`, () => {
    afterAll(() => dropTestSchemas());
    suite(postgres);
  });
}

/**
 * Runs `suite` once per store that several processes can share: SQLite and PostgreSQL (the last
 * skipped with a message when the server is unreachable outside CI).
 */
export function describeSharedStores(title: string, suite: (backend: BackendFactory) => void): void {
  describe(`${title} (sqlite store)`, () => suite(sqlite));
  describePostgres(`${title} (postgres store)`, () => {
    afterAll(() => dropTestSchemas());
    suite(postgres);
  });
}

/**
 * A factory of engines for the tests of one file, each stopped after its test: no retries and no
 * control polling unless `options` say otherwise.
 */
export function useEngines(): (
  store: Store,
  options?: ConstructorParameters<typeof ServiceRegistry>[0],
) => ServiceRegistry {
  let registries: ServiceRegistry[] = [];
  afterEach(async () => {
    await Promise.all(registries.map((registry) => registry.stop()));
    registries = [];
  });
  return (store, options = {}) => {
    const registry = new ServiceRegistry({ store, retry: { maxAttempts: 1 }, controlPollMs: 0, ...options });
    registries.push(registry);
    return registry;
  };
}
