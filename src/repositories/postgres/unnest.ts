import type { EntitySpec, FieldKind } from '../entities.js';
import { encodeRowInto, type ValueCodec } from '../sql/rows.js';

/** The PostgreSQL array type each field kind travels as; JSON goes as text and is cast back. */
const ARRAY_TYPE: Record<FieldKind, string> = {
  text: 'text[]',
  status: 'text[]',
  number: 'float8[]',
  integer: 'int4[]',
  boolean: 'bool[]',
  json: 'text[]',
};

const quote = (identifier: string) => `"${identifier.replace(/"/g, '""')}"`;

/**
 * An upsert of any number of rows in one statement of fixed text: each column travels as one
 * array parameter and `unnest` turns them back into rows. The text never changes with the row
 * count, so the server parses and plans it once per connection (a named prepared statement),
 * where a `VALUES` list of N rows would be a new statement for every N.
 */
export function unnestUpsert<T extends { id: string }>(table: string, spec: EntitySpec<T>): string {
  const columns = spec.fields.map((f) => quote(f.column)).join(', ');
  const params = spec.fields.map((f, i) => `$${i + 1}::${ARRAY_TYPE[f.kind]}`).join(', ');
  const names = spec.fields.map((_, i) => `c${i}`).join(', ');
  const projection = spec.fields.map((f, i) => (f.kind === 'json' ? `c${i}::json` : `c${i}`)).join(', ');
  const updates = spec.fields
    .filter((f) => f.field !== 'id')
    .map((f) => `${quote(f.column)} = excluded.${quote(f.column)}`)
    .join(', ');
  return (
    `INSERT INTO ${table} (${columns}) SELECT ${projection} FROM unnest(${params}) AS u(${names})` +
    ` ON CONFLICT ("id") DO UPDATE SET ${updates}`
  );
}

/**
 * Writes the fields of `stateSpec` into existing rows, any number of rows in one statement of fixed
 * text (ids as $1, then one array per field, then the fences: holder, whether the write takes the
 * task, the owner taken from; see `StoreBatch.fences`): a row that is COMPLETED is left as it is
 * unless its new status is COMPLETED too, and a fenced row whose owner the fence does not name is
 * left as it is. Returns the ids of the rows written.
 */
export function unnestUpdateState<T extends { id: string }>(table: string, stateSpec: EntitySpec<T>): string {
  const fields = stateSpec.fields;
  const n = fields.length;
  const fence = [`$${n + 2}::text[]`, `$${n + 3}::bool[]`, `$${n + 4}::text[]`];
  const params = ['$1::text[]', ...fields.map((f, i) => `$${i + 2}::${ARRAY_TYPE[f.kind]}`), ...fence].join(
    ', ',
  );
  const names = ['id', ...fields.map((_, i) => `c${i}`), 'holder', 'takes', 'taken_from'].join(', ');
  const sets = fields
    .map((f, i) => `${quote(f.column)} = ${f.kind === 'json' ? `u.c${i}::json` : `u.c${i}`}`)
    .join(', ');
  const status = fields.findIndex((f) => f.column === 'status');
  return (
    `UPDATE ${table} AS t SET ${sets} FROM unnest(${params}) AS u(${names})` +
    ` WHERE t."id" = u.id AND (t."status" <> 'COMPLETED' OR u.c${status} = 'COMPLETED')` +
    ` AND (u.holder IS NULL OR t."lease_owner" = u.holder OR (u.takes AND t."lease_owner" IS NOT DISTINCT FROM u.taken_from))` +
    ` RETURNING t."id", t."status"`
  );
}

/** The rows' values as one array per column, in the order of `spec.fields`. */
export function columnArrays<T extends { id: string }>(
  spec: EntitySpec<T>,
  rows: readonly T[],
  codec: ValueCodec,
): unknown[][] {
  const width = spec.fields.length;
  const columns: unknown[][] = Array.from({ length: width }, () => new Array<unknown>(rows.length));
  const values: unknown[] = new Array<unknown>(width);
  for (let j = 0; j < rows.length; j += 1) {
    encodeRowInto(spec, rows[j]!, codec, values, 0);
    for (let i = 0; i < width; i += 1) columns[i]![j] = values[i];
  }
  return columns;
}

/** A short stable name for a prepared statement, from its text (FNV-1a). */
export function statementName(prefix: string, text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return `${prefix}_${(hash >>> 0).toString(36)}`;
}

/** Escapes of JSON (control characters, lone surrogates) that PostgreSQL's array syntax reads otherwise. */
const OTHER_ESCAPES = /\\[bfnrtu]/;

/**
 * An array parameter as PostgreSQL's array literal, built by `JSON.stringify` (native, one pass, where
 * pg quotes and escapes each element in JavaScript) wherever the two syntaxes agree: strings whose
 * only escapes are `\"` and `\\`, finite numbers, booleans and nulls (an unquoted null is NULL).
 * Anything else goes to pg as the array it is. The statement casts the parameter (`$1::text[]`).
 */
export function arrayLiteral(values: readonly unknown[]): unknown {
  for (const value of values) {
    if (value === null || typeof value === 'string' || typeof value === 'boolean') continue;
    if (typeof value === 'number' && Number.isFinite(value)) continue;
    return values;
  }
  const json = JSON.stringify(values);
  if (OTHER_ESCAPES.test(json)) return values;
  return `{${json.slice(1, -1)}}`;
}

/** A statement's parameters with each array as its literal (see `arrayLiteral`). */
export function literalArrays(values: readonly unknown[]): unknown[] {
  return values.map((value) => (Array.isArray(value) ? arrayLiteral(value) : value));
}
