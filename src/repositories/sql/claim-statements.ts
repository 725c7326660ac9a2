import { TERMINAL_TASK_STATUSES } from '../../../machines/status.js';
import { taskSpec } from '../entities.js';
import type { ClaimRunnableOptions } from '../claim-runnable.js';
import {
  dialectStatement,
  type ControlDialectName,
  type ControlStatement,
  type Placeholders,
} from './control-statements.js';
import { quote, type SqlDialect } from './statements.js';

/**
 * The SQL of `Store.claimRunnable` (workers taking runnable tasks) and of the wake-ups that tell
 * idle workers new work was committed (PostgreSQL's LISTEN/NOTIFY). See src/repositories/claim-runnable.ts
 * for what counts as runnable; the in-process stores apply the same rule there.
 */

/** Statuses a claimable task is not in: finished, or paused on its own. */
const NOT_CLAIMABLE: readonly string[] = [...TERMINAL_TASK_STATUSES, 'PAUSED'];

/** Statuses of a finished task (held tasks are the others). */
const FINISHED: readonly string[] = TERMINAL_TASK_STATUSES;

const inList = (values: readonly string[]) => values.map((s) => `'${s}'`).join(', ');

/** How the two dialects differ for the claim. */
const CLAIM_DIFFERENCES: Record<
  ControlDialectName,
  {
    isTrue(column: string): string;
    /** A JSON column holds an object (not SQL NULL, not JSON null). */
    isObject(column: string): string;
    planPriority(column: string): string;
    /** The plan's `agentKey`, as text. */
    planAgentKey(column: string): string;
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
    planAgentKey: (column) => `json_extract(${column}, '$.agentKey')`,
    nowMs: `ROUND(unixepoch('subsec') * 1000)`,
  },
  postgres: {
    isTrue: (column) => column,
    isObject: (column) => `json_typeof(${column}) = 'object'`,
    qualifyReturning: true,
    planPriority: (column) => `(${column}->>'priority')::float8`,
    planAgentKey: (column) => `(${column}->>'agentKey')`,
    nowMs: 'round(extract(epoch FROM clock_timestamp()) * 1000)::float8',
  },
};

/** What the claim statements bind: `ClaimRunnableOptions` and, on PostgreSQL, two more. */
export interface ClaimArgs extends ClaimRunnableOptions {
  /** PostgreSQL: prefix of the advisory lock names of agent keys (names the schema). */
  lockPrefix?: string;
  /** PostgreSQL: the limited agent keys the transaction locked (`lockAgentKeys`); others wait for a later claim. */
  keys?: readonly string[];
}

export interface ClaimStatements {
  /**
   * Marks up to `limit` runnable tasks as held by `engineId`, within the room of limited agent keys;
   * returns their rows (taskSpec's columns, in order). On PostgreSQL it runs after `lockAgentKeys`,
   * in the same transaction, and takes tasks of limited keys only among the `keys` locked.
   */
  claimRunnable: ControlStatement<ClaimArgs>;
  /**
   * PostgreSQL only: takes the transaction's advisory lock of each agent key that names a stored
   * agent config and has runnable tasks (in the order of the lock's hash, so claimers never wait on
   * each other in a cycle); returns those keys. SQLite's write transaction serialises claims already.
   */
  lockAgentKeys: ControlStatement<ClaimArgs> | null;
  /** PostgreSQL only: tells the workers listening on the schema's channel that work was committed. */
  notifyWork: ControlStatement<{ channel: string }> | null;
}

/**
 * Where the engine named in a task's lease no longer holds it: it beat and its last beat is a stop
 * or expired (by the database's clock), or it never beat here and the task's lease expired (an
 * engine that never beats holds its tasks without a lease, queued ones, until it lets them go).
 * Never NULL, so that its negation says "held".
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
    ` OR (NOT EXISTS (${beat}) AND ${task}."lease_expires_at" IS NOT NULL` +
    ` AND ${task}."lease_expires_at" <= ${now()}))`
  );
}

/** The claim statements of one dialect; a store builds them once. */
export function claimStatements(name: ControlDialectName, dialect: SqlDialect): ClaimStatements {
  const d = CLAIM_DIFFERENCES[name];
  const pg = name === 'postgres';
  const tasks = dialect.table('tasks');
  const workflows = dialect.table('workflows');
  const beats = dialect.table('engine_beats');
  const configs = dialect.table('agent_configs');
  const returning = taskSpec.fields
    .map((f) => {
      const column = d.qualifyReturning ? `t.${quote(f.column)}` : quote(f.column);
      return dialect.jsonAsText && f.kind === 'json' ? `${column}::text` : column;
    })
    .join(', ');
  const order = (alias: string) =>
    `${d.planPriority(`${alias}."execution"`)} DESC, ${alias}."created_at", ${alias}."id"`;

  // Every fragment below is written in text order: SQLite binds its `?` placeholders in the order
  // they are asked for, so a fragment that binds values is built where it stands in the text.
  type P = Placeholders<ClaimArgs>;
  /** Task `c` is claimable by `engineId` now, agent limits aside. */
  const runnable = (p: P, c: string) => {
    const now = () => p.value('now');
    const me = () => p.value('engineId');
    let text = `${d.isObject(`${c}."execution"`)} AND ${c}."status" NOT IN (${inList(NOT_CLAIMABLE)})`;
    text += ` AND (${c}."run_after" IS NULL OR ${c}."run_after" <= ${now()})`;
    text += ` AND (${c}."lease_owner" IS NULL OR (${c}."lease_owner" <> ${me()}`;
    text += ` AND ${ownerGone(d, beats, c, now)}))`;
    text +=
      ` AND (${c}."workflow_id" IS NULL OR NOT EXISTS (SELECT 1 FROM ${workflows} AS w` +
      ` WHERE w."id" = ${c}."workflow_id" AND (${d.isTrue('w."paused"')} OR ${d.isTrue('w."cancelled"')})))`;
    return text;
  };
  /**
   * Room left per limited agent key: its config's maxConcurrency less the tasks of it held. Counted
   * once per claim (a CTE: joined as a sub-select, the planner may count again for every task row).
   */
  const room = (p: P) => {
    const key = d.planAgentKey('h."execution"');
    let text = `WITH "room" AS MATERIALIZED (SELECT a."id" AS "key", a."max_concurrency" - COALESCE(n."held", 0) AS "left"`;
    text += ` FROM ${configs} AS a LEFT JOIN (SELECT ${key} AS "key", COUNT(*) AS "held" FROM ${tasks} AS h`;
    text += ` WHERE h."status" NOT IN (${inList(FINISHED)}) AND h."lease_owner" IS NOT NULL`;
    text += ` AND (h."lease_owner" = ${p.value('engineId')} OR NOT ${ownerGone(d, beats, 'h', () => p.value('now'))})`;
    if (pg) text += ` AND ${key} = ANY(${p.list('keys')}::text[])`;
    text += ` GROUP BY ${key}) AS n ON n."key" = a."id"`;
    return pg ? `${text} WHERE a."id" = ANY(${p.list('keys')}::text[])) ` : `${text}) `;
  };
  const picked = `c."id", ${d.planPriority('c."execution"')} AS "priority", c."created_at"`;

  const claimRunnable = dialectStatement<ClaimArgs>(name, dialect, (p) => {
    let text = `${room(p)}UPDATE ${tasks} AS t SET "lease_owner" = ${p.value('engineId')}`;
    text += ` WHERE t."id" IN (SELECT u."id" FROM (`;
    // Tasks of agent keys without a stored config: no cluster limit.
    text += `SELECT * FROM (SELECT ${picked} FROM ${tasks} AS c WHERE ${runnable(p, 'c')}`;
    text += ` AND NOT EXISTS (SELECT 1 FROM ${configs} AS a WHERE a."id" = ${d.planAgentKey('c."execution"')})`;
    text += ` ORDER BY ${order('c')} LIMIT ${p.value('limit')}${pg ? ' FOR UPDATE OF c SKIP LOCKED' : ''}) AS f`;
    // Tasks of limited keys, the first `room` of each in claim order (serialised per key, see lockAgentKeys).
    text += ` UNION ALL SELECT r."id", r."priority", r."created_at" FROM (SELECT ${picked}, q."left",`;
    text += ` ROW_NUMBER() OVER (PARTITION BY q."key" ORDER BY ${order('c')}) AS "rank"`;
    text += ` FROM ${tasks} AS c JOIN "room" AS q ON q."key" = ${d.planAgentKey('c."execution"')}`;
    text += ` WHERE q."left" > 0 AND ${runnable(p, 'c')}) AS r WHERE r."rank" <= r."left"`;
    text += `) AS u ORDER BY u."priority" DESC, u."created_at", u."id" LIMIT ${p.value('limit')})`;
    // Checked again on the row written: limited keys' rows are not locked by the select above.
    text += ` AND t."status" NOT IN (${inList(NOT_CLAIMABLE)}) AND (t."lease_owner" IS NULL`;
    text += ` OR (t."lease_owner" <> ${p.value('engineId')} AND ${ownerGone(d, beats, 't', () => p.value('now'))}))`;
    return `${text} RETURNING ${returning}`;
  });
  const lockAgentKeys = pg
    ? dialectStatement<ClaimArgs>(name, dialect, (p) => {
        const key = d.planAgentKey('c."execution"');
        let text = `SELECT k."key", pg_advisory_xact_lock(k."lock") FROM (SELECT DISTINCT a."id" AS "key",`;
        text += ` hashtextextended(${p.value('lockPrefix')} || a."id", 0) AS "lock" FROM ${configs} AS a`;
        text += ` JOIN ${tasks} AS c ON ${key} = a."id" WHERE ${runnable(p, 'c')}`;
        return `${text} ORDER BY "lock", "key") AS k`;
      })
    : null;
  return {
    claimRunnable,
    lockAgentKeys,
    notifyWork: pg
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
