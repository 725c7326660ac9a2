import { TERMINAL_TASK_STATUSES } from '../../../machines/status.js';
import { taskSpec } from '../entities.js';
import type { ClaimRunnableOptions } from '../claim-runnable.js';
import { dialectStatement, type ControlDialectName, type ControlStatement } from './control-statements.js';
import { quote, type SqlDialect } from './statements.js';

/**
 * The SQL of `Store.claimRunnable` (workers taking runnable tasks) and of the wake-ups that tell
 * idle workers new work was committed (PostgreSQL's LISTEN/NOTIFY). See src/repositories/claim-runnable.ts
 * for what counts as runnable; the in-process stores apply the same rule there.
 */

/** Statuses a claimable task is not in: finished, or paused on its own. */
const NOT_CLAIMABLE: readonly string[] = [...TERMINAL_TASK_STATUSES, 'PAUSED'];

/** How the two dialects differ for the claim. */
const CLAIM_DIFFERENCES: Record<
  ControlDialectName,
  {
    isTrue(column: string): string;
    /** A JSON column holds an object (not SQL NULL, not JSON null). */
    isObject(column: string): string;
    planPriority(column: string): string;
    nowMs: string;
    /** SQLite's RETURNING names the updated table's columns unqualified. */
    qualifyReturning: boolean;
  }
> = {
  sqlite: {
    isTrue: (column) => `${column} = 1`,
    isObject: (column) => `json_type(${column}) = 'object'`,
    qualifyReturning: false,
    planPriority: (column) => `json_extract(${column}, '$.priority')`,
    nowMs: `ROUND(unixepoch('subsec') * 1000)`,
  },
  postgres: {
    isTrue: (column) => column,
    isObject: (column) => `json_typeof(${column}) = 'object'`,
    qualifyReturning: true,
    planPriority: (column) => `(${column}->>'priority')::float8`,
    nowMs: 'round(extract(epoch FROM clock_timestamp()) * 1000)::float8',
  },
};

export interface ClaimStatements {
  /** Marks up to `limit` runnable tasks as held by `engineId`; returns their rows (taskSpec's columns, in order). */
  claimRunnable: ControlStatement<ClaimRunnableOptions>;
  /** PostgreSQL only: tells the workers listening on the schema's channel that work was committed. */
  notifyWork: ControlStatement<{ channel: string }> | null;
}

/**
 * Where the engine named in a task's lease no longer holds it: it beat and its last beat is a stop
 * or expired (by the database's clock), or it never beat here and the task's lease expired (an
 * engine that never beats holds its tasks without a lease, queued ones, until it lets them go).
 */
function ownerGone(
  d: (typeof CLAIM_DIFFERENCES)[ControlDialectName],
  beats: string,
  task: string,
  now: () => string,
): string {
  const beat = `SELECT 1 FROM ${beats} AS b WHERE b."engine_id" = ${task}."lease_owner"`;
  return (
    `(EXISTS (${beat} AND (${d.isTrue('b."stopped"')} OR b."expires_at" <= ${d.nowMs}))` +
    ` OR (NOT EXISTS (${beat}) AND ${task}."lease_expires_at" <= ${now()}))`
  );
}

/** The claim statements of one dialect; a store builds them once. */
export function claimStatements(name: ControlDialectName, dialect: SqlDialect): ClaimStatements {
  const d = CLAIM_DIFFERENCES[name];
  const tasks = dialect.table('tasks');
  const workflows = dialect.table('workflows');
  const beats = dialect.table('engine_beats');
  const returning = taskSpec.fields
    .map((f) => {
      const column = d.qualifyReturning ? `t.${quote(f.column)}` : quote(f.column);
      return dialect.jsonAsText && f.kind === 'json' ? `${column}::text` : column;
    })
    .join(', ');
  // Written in text order: SQLite binds its `?` placeholders in the order they are asked for.
  const claimRunnable = dialectStatement<ClaimRunnableOptions>(name, dialect, (p) => {
    const now = () => p.value('now');
    const me = () => p.value('engineId');
    let text = `UPDATE ${tasks} AS t SET "lease_owner" = ${me()}`;
    text +=
      ` WHERE t."id" IN (SELECT c."id" FROM ${tasks} AS c` +
      ` WHERE ${d.isObject('c."execution"')}` +
      ` AND c."status" NOT IN (${NOT_CLAIMABLE.map((s) => `'${s}'`).join(', ')})`;
    text += ` AND (c."run_after" IS NULL OR c."run_after" <= ${now()})`;
    text += ` AND (c."lease_owner" IS NULL OR (c."lease_owner" <> ${me()}`;
    text += ` AND ${ownerGone(d, beats, 'c', now)}))`;
    text +=
      ` AND (c."workflow_id" IS NULL OR NOT EXISTS (SELECT 1 FROM ${workflows} AS w` +
      ` WHERE w."id" = c."workflow_id" AND (${d.isTrue('w."paused"')} OR ${d.isTrue('w."cancelled"')})))` +
      ` ORDER BY ${d.planPriority('c."execution"')} DESC, c."created_at", c."id"`;
    text += ` LIMIT ${p.value('limit')}`;
    text += name === 'postgres' ? ' FOR UPDATE OF c SKIP LOCKED' : '';
    return `${text}) RETURNING ${returning}`;
  });
  return {
    claimRunnable,
    notifyWork:
      name === 'postgres'
        ? dialectStatement<{ channel: string }>(
            name,
            dialect,
            (p) => `SELECT pg_notify(${p.value('channel')}, '')`,
          )
        : null,
  };
}

const built = new WeakMap<SqlDialect, ClaimStatements>();

/** `claimStatements`, built once per dialect object (a store's). */
export function claimStatementsOf(name: ControlDialectName, dialect: SqlDialect): ClaimStatements {
  let statements = built.get(dialect);
  if (statements === undefined) {
    statements = claimStatements(name, dialect);
    built.set(dialect, statements);
  }
  return statements;
}

/** The NOTIFY channel of a schema's workers (at most 63 bytes, PostgreSQL's identifier limit). */
export function workChannel(schema: string): string {
  return `symphony_work_${schema}`.slice(0, 63);
}
