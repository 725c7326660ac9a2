import { StoreError } from '../../errors/errors.js';
import { SymphonyError } from '../../errors/symphony-error.js';
import { rowRejected, statusViolation, uniqueViolation } from '../constraint-errors.js';
import { fieldOfColumn, type EntitySpec } from '../entities.js';

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Turns a better-sqlite3 error into a StoreError naming the file: corrupt, read-only, busy or
 * unavailable. Symphony errors pass through unchanged.
 */
export function toStoreError(error: unknown, path: string): Error {
  if (SymphonyError.isInstance(error)) return error;
  const code = codeOf(error);
  const message = messageOf(error);
  const options = { cause: error, details: { path, sqliteCode: code } };
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) {
    return new StoreError(
      'STORE_CORRUPT',
      `The SQLite file ${path} is not a usable database (${message}); it was left untouched`,
      options,
    );
  }
  if (code.startsWith('SQLITE_READONLY')) {
    return new StoreError(
      'STORE_READ_ONLY',
      `The SQLite file ${path} cannot be written (${message})`,
      options,
    );
  }
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new StoreError(
      'STORE_BUSY',
      `The SQLite file ${path} stayed locked by another connection past the busy timeout (${message})`,
      { ...options, retryable: true },
    );
  }
  if (code === 'SQLITE_FULL') {
    // The transaction was rolled back; once space is freed the same batch can be written.
    return new StoreError(
      'STORE_UNAVAILABLE',
      `The SQLite file ${path} could not grow: the disk (or the database's size limit) is full (${message})`,
      { ...options, retryable: true },
    );
  }
  return new StoreError(
    'STORE_UNAVAILABLE',
    `The SQLite file ${path} could not be used (${message})`,
    options,
  );
}

/**
 * Whether SQLite refused a write because of the values it was given (a constraint, or a value
 * better-sqlite3 cannot bind), as opposed to the file or the connection failing.
 */
export function isRowError(error: unknown): boolean {
  return (
    codeOf(error).startsWith('SQLITE_CONSTRAINT') || error instanceof TypeError || error instanceof RangeError
  );
}

/** Explains why SQLite refused one row: a CHECK, UNIQUE, NOT NULL or type constraint, or a bad value. */
export function toRowError<T extends { id: string }>(
  error: unknown,
  spec: EntitySpec<T>,
  row: T,
  path: string,
): Error {
  const code = codeOf(error);
  const message = messageOf(error);
  if (code === 'SQLITE_CONSTRAINT_CHECK') {
    const constraint = /CHECK constraint failed: (\w+)/.exec(message)?.[1];
    const field = spec.fields.find((f) => `${spec.table}_${f.column}_check` === constraint);
    if (field?.kind === 'status') return statusViolation(spec, field.field, row.id, row[field.field]);
  }
  if (code === 'SQLITE_CONSTRAINT_UNIQUE') {
    const column = new RegExp(`${spec.table}\\.(\\w+)`).exec(message)?.[1];
    const field = column === undefined ? undefined : fieldOfColumn(spec, column);
    if (field && field.field !== 'id') return uniqueViolation(spec, field.field, row[field.field]);
  }
  if (isRowError(error)) {
    return rowRejected(spec, typeof row.id === 'string' ? row.id : undefined, message, error);
  }
  return toStoreError(error, path);
}
