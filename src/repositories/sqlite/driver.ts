import { StoreError } from '../../errors/errors.js';

/** The part of a better-sqlite3 statement the store uses. */
export interface SqliteStatement {
  run(...params: unknown[]): { changes: number };
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
  /** With `true`, rows come back as arrays of column values instead of objects. */
  raw(toggle?: boolean): SqliteStatement;
}

/** The part of a better-sqlite3 database the store uses; better-sqlite3 stays an optional peer. */
export interface SqliteDatabase {
  readonly inTransaction: boolean;
  prepare(sql: string): SqliteStatement;
  exec(sql: string): unknown;
  pragma(source: string, options?: { simple?: boolean }): unknown;
  close(): unknown;
}

export interface SqliteDatabaseOptions {
  readonly?: boolean;
  fileMustExist?: boolean;
  /** better-sqlite3's busy timeout, in milliseconds. */
  timeout?: number;
}

export type SqliteDatabaseConstructor = new (
  filename: string,
  options?: SqliteDatabaseOptions,
) => SqliteDatabase;

/** Loads better-sqlite3 on first use, so that installing it is needed only by SQLite users. */
export async function loadSqliteDriver(): Promise<SqliteDatabaseConstructor> {
  try {
    const module: { default: SqliteDatabaseConstructor } = await import('better-sqlite3');
    return module.default;
  } catch (error) {
    throw new StoreError(
      'STORE_UNAVAILABLE',
      `SqliteStore needs the optional dependency better-sqlite3 (npm install better-sqlite3@12), which could not be loaded: ${(error as Error).message}`,
      { cause: error },
    );
  }
}
