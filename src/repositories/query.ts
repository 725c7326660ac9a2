import { InvalidArgumentError } from '../errors/errors.js';
import type { EntitySpec, FieldSpec } from './entities.js';
import type { Query, Where } from './repository.js';

export type ScalarValue = string | number | boolean | null;

export interface Condition<T> {
  field: FieldSpec<T>;
  value: ScalarValue;
}

/** A query checked against an entity's allow-list, in the form every store executes. */
export interface ResolvedQuery<T> {
  conditions: Condition<T>[];
  orderBy: FieldSpec<T> | undefined;
  descending: boolean;
  limit: number | undefined;
  offset: number;
  /** Keyset start (`Query.after`): only ids after it in the order of `descending`; then `orderBy` is `id`. */
  after: string | undefined;
}

const scalarFields = new WeakMap<object, Map<string, FieldSpec<never>>>();

function scalarField<T extends { id: string }>(spec: EntitySpec<T>, name: string): FieldSpec<T> | undefined {
  let byName = scalarFields.get(spec) as Map<string, FieldSpec<T>> | undefined;
  if (!byName) {
    byName = new Map(spec.fields.filter((f) => f.kind !== 'json').map((f) => [f.field, f]));
    scalarFields.set(spec, byName as Map<string, FieldSpec<never>>);
  }
  return byName.get(name);
}

function allowed<T extends { id: string }>(spec: EntitySpec<T>): string {
  return spec.fields
    .filter((f) => f.kind !== 'json')
    .map((f) => f.field)
    .join(', ');
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}

function checkValue<T>(field: FieldSpec<T>, value: unknown): ScalarValue {
  if (value === null) return null;
  const expected =
    field.kind === 'number' || field.kind === 'integer'
      ? 'number'
      : field.kind === 'boolean'
        ? 'boolean'
        : 'string';
  if (typeof value !== expected) {
    throw new InvalidArgumentError(
      `Expected \`where.${field.field}\` to be a ${expected}${field.nullable ? ' or null' : ''}, got ${describeValue(value)}`,
    );
  }
  return value as ScalarValue;
}

/** Checks `where` against the allow-list; `undefined` values are ignored. */
export function resolveWhere<T extends { id: string }>(
  spec: EntitySpec<T>,
  where: Where<T> | undefined,
): Condition<T>[] {
  if (where === undefined || where === null) return [];
  if (typeof where !== 'object' || Array.isArray(where)) {
    throw new InvalidArgumentError(`Expected \`where\` to be an object, got ${describeValue(where)}`);
  }
  const conditions: Condition<T>[] = [];
  for (const [name, value] of Object.entries(where)) {
    if (value === undefined) continue;
    const field = scalarField(spec, name);
    if (!field) {
      throw new InvalidArgumentError(
        `Expected \`where\` fields of a ${spec.entity} to be among ${allowed(spec)}, got ${JSON.stringify(name)}`,
      );
    }
    conditions.push({ field, value: checkValue(field, value) });
  }
  return conditions;
}

function checkCount(name: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidArgumentError(`Expected \`${name}\` to be an integer >= 0, got ${String(value)}`);
  }
}

/**
 * Checks `limit`, `offset`, `descending` and `after`, the part of a query that needs no allow-list
 * (`after` needs `orderBy: 'id'`).
 */
export function resolvePage<T>(query: Query<T>): {
  descending: boolean;
  limit: number | undefined;
  offset: number;
  after: string | undefined;
} {
  const { descending = false, limit, offset = 0, after } = query;
  if (limit !== undefined) checkCount('limit', limit);
  checkCount('offset', offset);
  if (after !== undefined) {
    if (typeof after !== 'string') {
      throw new InvalidArgumentError(
        `Expected \`after\` to be an id (a string), got ${describeValue(after)}`,
      );
    }
    if (query.orderBy !== 'id') {
      throw new InvalidArgumentError(
        `Expected \`orderBy: 'id'\` with \`after\` (keyset pages follow the id order), got ${query.orderBy === undefined ? 'no orderBy' : JSON.stringify(query.orderBy)}`,
      );
    }
  }
  return { descending: descending === true, limit, offset, after };
}

/** Checks a whole query: filter fields, sort field, limit and offset. */
export function resolveQuery<T extends { id: string }>(
  spec: EntitySpec<T>,
  query: Query<T> = {},
): ResolvedQuery<T> {
  const page = resolvePage(query);
  let orderBy: FieldSpec<T> | undefined;
  if (query.orderBy !== undefined) {
    orderBy = typeof query.orderBy === 'string' ? scalarField(spec, query.orderBy) : undefined;
    if (!orderBy) {
      throw new InvalidArgumentError(
        `Expected \`orderBy\` of a ${spec.entity} to be one of ${allowed(spec)}, got ${JSON.stringify(query.orderBy)}`,
      );
    }
  }
  return { conditions: resolveWhere(spec, query.where), orderBy, ...page };
}
