import { InvalidArgumentError, StoreError } from '../../errors/errors.js';
import { SymphonyError } from '../../errors/symphony-error.js';
import { rowRejected, statusViolation, uniqueViolation } from '../constraint-errors.js';
import { statusValues, type EntitySpec } from '../entities.js';

interface PgErrorFields {
  code?: unknown;
  constraint?: unknown;
  detail?: unknown;
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EPIPE',
  'EHOSTUNREACH',
]);

function fieldsOf(error: unknown): PgErrorFields {
  return typeof error === 'object' && error !== null ? (error as PgErrorFields) : {};
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** True when the connection itself failed (the server went away, the socket closed). */
export function isConnectionError(error: unknown): boolean {
  const code = String(fieldsOf(error).code ?? '');
  if (code.startsWith('08') || code.startsWith('57P') || CONNECTION_CODES.has(code)) return true;
  return /Connection terminated|not queryable|connection error/i.test(messageOf(error));
}

/**
 * Turns a pg error into a StoreError naming the server (never its password): unavailable (retryable
 * when the connection dropped), busy, read-only or corrupt. Symphony errors pass through unchanged.
 */
export function toStoreError(error: unknown, target: string): Error {
  if (SymphonyError.isInstance(error)) return error;
  const code = String(fieldsOf(error).code ?? '');
  const message = messageOf(error);
  const options = { cause: error, details: { target, sqlState: code } };
  if (isConnectionError(error)) {
    return new StoreError(
      'STORE_UNAVAILABLE',
      `Lost or could not open the connection to ${target} (${message})`,
      {
        ...options,
        retryable: true,
      },
    );
  }
  if (code === '40001' || code === '40P01' || code === '55P03' || code === '57014') {
    return new StoreError('STORE_BUSY', `${target} could not finish the transaction (${message})`, {
      ...options,
      retryable: true,
    });
  }
  if (code === '25006') {
    return new StoreError('STORE_READ_ONLY', `${target} accepts no writes (${message})`, options);
  }
  if (code.startsWith('22')) {
    return new InvalidArgumentError(`${target} rejected a value (${message})`, options);
  }
  if (code === 'XX001' || code === 'XX002') {
    return new StoreError('STORE_CORRUPT', `${target} reports damaged data (${message})`, options);
  }
  return new StoreError('STORE_UNAVAILABLE', `${target} could not be used (${message})`, {
    ...options,
    retryable: code.startsWith('53'),
  });
}

/** Explains why PostgreSQL refused a statement writing `rows`: which constraint, and which row when known. */
export function toRowError<T extends { id: string }>(
  error: unknown,
  spec: EntitySpec<T>,
  rows: readonly T[],
  target: string,
): Error {
  const { code, constraint, detail } = fieldsOf(error);
  const message = messageOf(error);
  if (code === '23514') {
    const field = spec.fields.find((f) => `${spec.table}_${f.column}_check` === constraint);
    if (field?.kind === 'status') {
      const row = rows.find((r) => !statusValues(spec).includes(r[field.field] as string));
      return statusViolation(spec, field.field, row?.id, row?.[field.field]);
    }
  }
  if (code === '23505') {
    const field = spec.fields.find((f) => `${spec.table}_${f.column}_unique` === constraint);
    if (field && field.field !== 'id') {
      const value = /\)=\((.*)\) already exists/s.exec(String(detail ?? ''))?.[1];
      return uniqueViolation(spec, field.field, value);
    }
  }
  if (typeof code === 'string' && (code.startsWith('23') || code.startsWith('22'))) {
    return rowRejected(spec, rows.length === 1 ? rows[0]?.id : undefined, message, error);
  }
  return toStoreError(error, target);
}
