import { fileURLToPath } from 'node:url';
import type { Logger } from '../engine/logger.js';
import { InvalidArgumentError } from '../errors/errors.js';
import { MemoryStore } from './memory/memory-store.js';
import { PostgresStore } from './postgres/postgres-store.js';
import { parsePostgresUrl, type PostgresStoreOptions } from './postgres/postgres-connection.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { SqliteStoreOptions } from './sqlite/sqlite-connection.js';
import type { Store } from './store.js';

/** Where the CLI and examples keep a SQLite store unless told otherwise (git-ignored). */
export const DEFAULT_SQLITE_PATH = '.symphony/symphony.db';

/**
 * A store, or how to make one:
 * - `':memory:'` or `'memory'`: a MemoryStore;
 * - `postgres://...` or `postgresql://...`: a PostgresStore (`?schema=name` picks the schema);
 * - `sqlite://path`, `sqlite:path`, `file:path`, `file:///absolute/path` or a plain path: a
 *   SqliteStore at that path; a string with any other URL scheme is refused (INVALID_ARGUMENT);
 * - `{ kind, ...options }` with the options of that store;
 * - a Store instance, used as it is.
 */
export type StoreSpec =
  | string
  | Store
  | { kind: 'memory' }
  | ({ kind: 'sqlite' } & SqliteStoreOptions)
  | ({ kind: 'postgres' } & PostgresStoreOptions);

function isStore(value: object): value is Store {
  const candidate = value as Partial<Store>;
  return typeof candidate.commit === 'function' && typeof candidate.open === 'function';
}

/** What a store built from a spec gets besides the spec (from the engine's options). */
export interface StoreDefaults {
  /** Given to a PostgresStore whose spec names no logger. */
  logger?: Logger;
}

function fromString(spec: string, defaults: StoreDefaults): Store {
  if (spec === ':memory:' || spec === 'memory') return new MemoryStore();
  if (/^postgres(ql)?:\/\//i.test(spec)) {
    const url = parsePostgresUrl('store', spec);
    const schema = url.searchParams.get('schema') ?? undefined;
    url.searchParams.delete('schema');
    return new PostgresStore({
      connectionString: url.toString(),
      ...(schema === undefined ? {} : { schema }),
      ...(defaults.logger === undefined ? {} : { logger: defaults.logger }),
    });
  }
  let path = spec;
  if (/^sqlite:\/\//i.test(spec)) path = spec.slice('sqlite://'.length);
  else if (/^sqlite:/i.test(spec)) path = spec.slice('sqlite:'.length);
  else if (/^file:\/\//i.test(spec)) path = fileURLToPath(spec);
  else if (/^file:/i.test(spec)) path = spec.slice('file:'.length);
  else if (/^[a-z][a-z0-9+.-]+:/i.test(spec)) {
    // A URL of another kind (mysql:, redis:, ...) is a mistake, not a file name. (`C:\...` has a
    // one-letter scheme and stays a path.)
    throw new InvalidArgumentError(
      `Expected a store spec: a file path, sqlite:path, file:path, :memory: or a postgres:// URL; got ${JSON.stringify(spec.replace(/:\/\/[^@/]*@/, '://***@'))}`,
    );
  }
  if (path === '')
    throw new InvalidArgumentError(`Expected a store spec to name a file, got ${JSON.stringify(spec)}`);
  return new SqliteStore({ path });
}

/**
 * Builds the store a spec names, without opening it (no I/O).
 * @example
 * const store = createStore(process.env.SYMPHONY_STORE ?? DEFAULT_SQLITE_PATH);
 */
export function createStore(spec: StoreSpec, defaults: StoreDefaults = {}): Store {
  if (typeof spec === 'string') return fromString(spec, defaults);
  if (typeof spec !== 'object' || spec === null) {
    throw new InvalidArgumentError(
      `Expected a store spec (a string, a Store or { kind }), got ${String(spec)}`,
    );
  }
  if (isStore(spec)) return spec;
  switch (spec.kind) {
    case 'memory':
      return new MemoryStore();
    case 'sqlite': {
      const { kind: _kind, ...options } = spec;
      return new SqliteStore(options);
    }
    case 'postgres': {
      const { kind: _kind, ...options } = spec;
      return new PostgresStore({ logger: defaults.logger, ...options });
    }
    default:
      throw new InvalidArgumentError(
        `Expected \`kind\` to be memory, sqlite or postgres, got ${JSON.stringify((spec as { kind?: unknown }).kind)}`,
      );
  }
}

/**
 * Builds the store a spec names and opens it (connects, checks, migrates). A Store instance is
 * opened too; Symphony's own stores treat a second `open()` as a no-op.
 * @example
 * const store = await openStore('postgres://app@db.internal/app?schema=symphony');
 * const local = await openStore('.symphony/symphony.db');
 */
export async function openStore(spec: StoreSpec): Promise<Store> {
  const store = createStore(spec);
  await store.open();
  return store;
}
