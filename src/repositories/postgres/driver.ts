import { StoreError } from '../../errors/errors.js';

export interface PgQueryResult {
  rows: unknown[];
  rowCount: number | null;
}

/** The part of a pg pooled client the store uses; pg stays an optional peer. */
export interface PgClient {
  query(text: string, values?: unknown[]): Promise<PgQueryResult>;
  /** `name` makes it a prepared statement, parsed once per connection; see PgQueryConfig for `rowMode`. */
  query(config: {
    name?: string;
    text: string;
    values?: unknown[];
    rowMode?: 'array';
  }): Promise<PgQueryResult>;
  release(destroy?: Error | boolean): void;
  on(event: 'error', listener: (error: Error) => void): unknown;
  removeListener(event: 'error', listener: (error: Error) => void): unknown;
}

/** A query with its options; `rowMode: 'array'` returns each row as an array of column values. */
export interface PgQueryConfig {
  text: string;
  values?: unknown[];
  rowMode?: 'array';
}

/** The part of a pg Pool the store uses. */
export interface PgPool {
  connect(): Promise<PgClient>;
  query(text: string, values?: unknown[]): Promise<PgQueryResult>;
  query(config: PgQueryConfig): Promise<PgQueryResult>;
  end(): Promise<void>;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'connect', listener: () => void): unknown;
}

export interface PgPoolConfig {
  connectionString: string;
  max: number;
  /** Server settings sent in the startup packet (`-c name=value ...`). */
  options?: string;
}

export type PgPoolConstructor = new (config: PgPoolConfig) => PgPool;

/** Loads pg on first use, so that installing it is needed only by PostgreSQL users. */
export async function loadPgDriver(): Promise<PgPoolConstructor> {
  try {
    const module: { default: { Pool: PgPoolConstructor } } = await import('pg');
    return module.default.Pool;
  } catch (error) {
    throw new StoreError(
      'STORE_UNAVAILABLE',
      `PostgresStore needs the optional dependency pg (npm install pg), which could not be loaded: ${(error as Error).message}`,
      { cause: error },
    );
  }
}
