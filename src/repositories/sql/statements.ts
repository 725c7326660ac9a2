import type { EntitySpec } from '../entities.js';
import type { Condition, ResolvedQuery } from '../query.js';
import type { ValueCodec } from './rows.js';

/** The differences between SQLite and PostgreSQL that the statement builders need. */
export interface SqlDialect extends ValueCodec {
  /** The placeholder of the `n`th bound value, counting from 1: `?` or `$n`. */
  param(n: number): string;
  /** The qualified, quoted name of an allow-listed table. */
  table(name: string): string;
  /** Written when OFFSET comes without LIMIT (`LIMIT -1` in SQLite, nothing in PostgreSQL). */
  unlimited: string;
  /** Whether JSON columns must be cast to text when read, so the driver does not parse them. */
  jsonAsText: boolean;
}

export interface SqlStatement {
  sql: string;
  params: unknown[];
}

/** Quotes an identifier that comes from an entity spec (never from a caller). */
export function quote(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}

function columnList<T extends { id: string }>(spec: EntitySpec<T>): string {
  return spec.fields.map((f) => quote(f.column)).join(', ');
}

function selectList<T extends { id: string }>(dialect: SqlDialect, spec: EntitySpec<T>): string {
  return spec.fields
    .map((f) =>
      dialect.jsonAsText && f.kind === 'json'
        ? `${quote(f.column)}::text AS ${quote(f.column)}`
        : quote(f.column),
    )
    .join(', ');
}

function whereClause<T extends { id: string }>(
  dialect: SqlDialect,
  conditions: readonly Condition<T>[],
  params: unknown[],
): string {
  if (conditions.length === 0) return '';
  const terms = conditions.map(({ field, value }) => {
    if (value === null) return `${quote(field.column)} IS NULL`;
    params.push(typeof value === 'boolean' ? dialect.boolean(value) : value);
    return `${quote(field.column)} = ${dialect.param(params.length)}`;
  });
  return ` WHERE ${terms.join(' AND ')}`;
}

export function selectById<T extends { id: string }>(dialect: SqlDialect, spec: EntitySpec<T>): string {
  return `SELECT ${selectList(dialect, spec)} FROM ${dialect.table(spec.table)} WHERE "id" = ${dialect.param(1)}`;
}

/** Rows whose id is one of `count` bound values (`WHERE "id" IN (?, ?, ...)`), in no set order. */
export function selectByIds<T extends { id: string }>(
  dialect: SqlDialect,
  spec: EntitySpec<T>,
  count: number,
): string {
  const slots: string[] = [];
  for (let n = 1; n <= count; n += 1) slots.push(dialect.param(n));
  return `SELECT ${selectList(dialect, spec)} FROM ${dialect.table(spec.table)} WHERE "id" IN (${slots.join(', ')})`;
}

/** Rows whose id is in one bound text array (PostgreSQL: `WHERE "id" = ANY($1::text[])`), in no set order. */
export function selectByIdArray<T extends { id: string }>(dialect: SqlDialect, spec: EntitySpec<T>): string {
  return `SELECT ${selectList(dialect, spec)} FROM ${dialect.table(spec.table)} WHERE "id" = ANY(${dialect.param(1)}::text[])`;
}

export function deleteById<T extends { id: string }>(dialect: SqlDialect, spec: EntitySpec<T>): string {
  return `DELETE FROM ${dialect.table(spec.table)} WHERE "id" = ${dialect.param(1)}`;
}

/** Rows in creation order (`seq`) unless sorted; ties keep creation order; NULLs sort lowest. */
export function select<T extends { id: string }>(
  dialect: SqlDialect,
  spec: EntitySpec<T>,
  query: ResolvedQuery<T>,
): SqlStatement {
  const params: unknown[] = [];
  let sql = `SELECT ${selectList(dialect, spec)} FROM ${dialect.table(spec.table)}`;
  sql += whereClause(dialect, query.conditions, params);
  if (query.after !== undefined) {
    params.push(query.after);
    const term = `"id" ${query.descending ? '<' : '>'} ${dialect.param(params.length)}`;
    sql += query.conditions.length === 0 ? ` WHERE ${term}` : ` AND ${term}`;
  }
  if (query.orderBy) {
    const direction = query.descending ? 'DESC NULLS LAST' : 'ASC NULLS FIRST';
    sql += ` ORDER BY ${quote(query.orderBy.column)} ${direction}, "seq" ASC`;
  } else {
    sql += ` ORDER BY "seq" ${query.descending ? 'DESC' : 'ASC'}`;
  }
  if (query.limit !== undefined) {
    params.push(query.limit);
    sql += ` LIMIT ${dialect.param(params.length)}`;
  } else if (query.offset > 0) {
    sql += ` ${dialect.unlimited}`;
  }
  if (query.offset > 0) {
    params.push(query.offset);
    sql += ` OFFSET ${dialect.param(params.length)}`;
  }
  return { sql, params };
}

export function count<T extends { id: string }>(
  dialect: SqlDialect,
  spec: EntitySpec<T>,
  conditions: readonly Condition<T>[],
): SqlStatement {
  const params: unknown[] = [];
  const sql = `SELECT COUNT(*) AS "n" FROM ${dialect.table(spec.table)}${whereClause(dialect, conditions, params)}`;
  return { sql, params };
}

function valuesList(dialect: SqlDialect, width: number, rows: number): string {
  const tuples: string[] = [];
  for (let r = 0; r < rows; r += 1) {
    const slots: string[] = [];
    for (let c = 1; c <= width; c += 1) slots.push(dialect.param(r * width + c));
    tuples.push(`(${slots.join(', ')})`);
  }
  return tuples.join(', ');
}

/** Inserts `rows` rows, skipping any whose id exists (the caller reports DUPLICATE_ID). */
export function insertNew<T extends { id: string }>(
  dialect: SqlDialect,
  spec: EntitySpec<T>,
  rows = 1,
): string {
  return (
    `INSERT INTO ${dialect.table(spec.table)} (${columnList(spec)}) VALUES ${valuesList(dialect, spec.fields.length, rows)}` +
    ` ON CONFLICT ("id") DO NOTHING`
  );
}

/** Inserts `rows` rows or replaces the fields of existing ones; a replaced row keeps its `seq`. */
export function upsert<T extends { id: string }>(dialect: SqlDialect, spec: EntitySpec<T>, rows = 1): string {
  const updates = spec.fields
    .filter((f) => f.field !== 'id')
    .map((f) => `${quote(f.column)} = excluded.${quote(f.column)}`)
    .join(', ');
  return (
    `INSERT INTO ${dialect.table(spec.table)} (${columnList(spec)}) VALUES ${valuesList(dialect, spec.fields.length, rows)}` +
    ` ON CONFLICT ("id") DO UPDATE SET ${updates}`
  );
}

/**
 * Writes the state fields of one existing task (`stateSpec`, bound first, then the id, the status
 * again, then the fence: holder, holder, 1 when the write takes the task, the owner taken from); a
 * row that is COMPLETED is left as it is unless the new status is COMPLETED too, and a fenced row
 * whose owner the fence does not name is left as it is.
 */
export function updateTaskState<T extends { id: string }>(
  dialect: SqlDialect,
  stateSpec: EntitySpec<T>,
): string {
  const width = stateSpec.fields.length;
  const sets = stateSpec.fields.map((f, i) => `${quote(f.column)} = ${dialect.param(i + 1)}`).join(', ');
  const p = (n: number) => dialect.param(width + n);
  return (
    `UPDATE ${dialect.table(stateSpec.table)} SET ${sets} WHERE "id" = ${p(1)}` +
    ` AND ("status" <> 'COMPLETED' OR ${p(2)} = 'COMPLETED')` +
    // The fence (StoreBatch.fences): the holder (null: none), whether the write takes the task, from whom.
    ` AND (${p(3)} IS NULL OR "lease_owner" = ${p(4)} OR (${p(5)} = 1 AND "lease_owner" IS ${p(6)}))`
  );
}

/** A workflow's tasks counted by status, with the most attempts of each group (status derivations). */
export function countWorkflowTasks(dialect: SqlDialect): string {
  return (
    `SELECT "status", count(*) AS "n", max("attempts") AS "a" FROM ${dialect.table('tasks')}` +
    ` WHERE "workflow_id" = ${dialect.param(1)} GROUP BY "status"`
  );
}

/** A workflow's status (id), before a batch's writes (status derivations). */
export function selectWorkflowStatus(dialect: SqlDialect): string {
  return `SELECT "status" FROM ${dialect.table('workflows')} WHERE "id" = ${dialect.param(1)}`;
}

/** Writes a derived workflow status (status, updated_at, id). */
export function updateWorkflowStatus(dialect: SqlDialect): string {
  return (
    `UPDATE ${dialect.table('workflows')} SET "status" = ${dialect.param(1)}, "updated_at" = ${dialect.param(2)}` +
    ` WHERE "id" = ${dialect.param(3)}`
  );
}
