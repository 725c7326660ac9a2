import { InvalidArgumentError } from '../../errors/errors.js';
import type { EntitySpec, FieldSpec } from '../entities.js';

/** A row as a driver returns it: column name -> value. */
export type SqlRow = Record<string, unknown>;

/** How a backend represents booleans in parameters and results. */
export interface ValueCodec {
  boolean(value: boolean): unknown;
}

function encodeJson<T>(
  spec: EntitySpec<T & { id: string }>,
  field: FieldSpec<T>,
  value: unknown,
): string | null {
  if (value === undefined && field.nullable) return null;
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (error) {
    throw new InvalidArgumentError(
      `Expected \`${spec.entity}.${field.field}\` to be JSON-serializable, got an error: ${(error as Error).message}`,
      { cause: error },
    );
  }
  if (json === undefined) {
    if (field.nullable) return null;
    throw new InvalidArgumentError(
      `Expected \`${spec.entity}.${field.field}\` to be a JSON value, got ${typeof value}`,
    );
  }
  return json;
}

/** The values of `entity` in the order of `spec.fields`, ready to bind. */
export function encodeRow<T extends { id: string }>(
  spec: EntitySpec<T>,
  entity: T,
  codec: ValueCodec,
): unknown[] {
  const values: unknown[] = new Array(spec.fields.length);
  for (let i = 0; i < spec.fields.length; i += 1) {
    const field = spec.fields[i] as FieldSpec<T>;
    const value: unknown = entity[field.field];
    if (field.kind === 'json') values[i] = encodeJson(spec, field, value);
    else if (field.kind === 'boolean' && typeof value === 'boolean') values[i] = codec.boolean(value);
    else values[i] = value === undefined ? null : value;
  }
  return values;
}

/**
 * Parses a stored JSON column. `JSON.parse` defines every key, `__proto__` included, as an own data
 * property (it never calls the `__proto__` setter), so reloaded data cannot reach any prototype.
 */
export function decodeJson(text: string): unknown {
  return JSON.parse(text);
}

/** Builds an entity from a driver row; only the spec's fields are read. */
export function decodeRow<T extends { id: string }>(spec: EntitySpec<T>, row: SqlRow): T {
  const entity: Record<string, unknown> = {};
  for (const field of spec.fields) {
    const raw = row[field.column];
    let value: unknown;
    if (field.kind === 'json')
      value = raw === null || raw === undefined ? undefined : decodeJson(String(raw));
    else if (field.kind === 'boolean') value = raw === 1 || raw === true;
    else if ((field.kind === 'number' || field.kind === 'integer') && typeof raw === 'string')
      value = Number(raw);
    else value = raw === undefined ? null : raw;
    entity[field.field] = value;
  }
  return entity as T;
}

/** What a row reads back as, without a round trip: JSON fields re-parsed, undefined as null. */
export function normalizeEntity<T extends { id: string }>(spec: EntitySpec<T>, entity: T): T {
  const values = encodeRow(spec, entity, identity);
  const row: SqlRow = {};
  spec.fields.forEach((field, i) => (row[field.column] = values[i]));
  return decodeRow(spec, row);
}

const identity: ValueCodec = { boolean: (value) => value };
