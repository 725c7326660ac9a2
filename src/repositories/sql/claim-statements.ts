import { TERMINAL_TASK_STATUSES } from '../../../machines/status.js';
import { taskSpec } from '../entities.js';
import type { ClaimRunnableOptions } from '../claim-runnable.js';
import { sqliteDialect } from '../sqlite/sqlite-repository.js';
import { dialectStatement, type ControlStatement, type Placeholders } from './control-statements.js';
import { quote } from './statements.js';

/**
 * The SQL of SQLite's `Store.claimRunnable` (workers taking runnable tasks), and of the wake-ups that
 * tell idle PostgreSQL workers new work was committed (LISTEN/NOTIFY). PostgreSQL's claim is in
 * src/repositories/postgres/claims.ts. See src/repositories/claim-runnable.ts for what counts as
 * runnable; the in-process stores apply the same rule there.
 */

/** Statuses a claimable task is not in: finished, or paused on its own. */
const NOT_CLAIMABLE: readonly string[] = [...TERMINAL_TASK_STATUSES, 'PAUSED'];

/** Statuses of a finished task (held tasks are the others). */
const FINISHED: readonly string[] = TERMINAL_TASK_STATUSES;

const inList = (values: readonly string[]) => values.map((s) => `'${s}'`).join(', ');

const isTrue = (column: string) => `${column} = 1`;
/** A JSON column holds an object (not SQL NULL, not JSON null). */
const isObject = (column: string) => `json_type(${column}) = 'object'`;
/** The plan's rank (src/engine/queue-order.ts): plans written before ranks existed rank by priority. */
const planRank = (column: string) =>
  `COALESCE(json_extract(${column}, '$.rank'), json_extract(${column}, '$.priority'))`;
/** The plan's `agentKey`, as text. */
const planAgentKey = (column: string) => `json_extract(${column}, '$.agentKey')`;
/** The plan's fairness key (`concurrencyKey`), as text; NULL: none. */
const planKey = (column: string) => `json_extract(${column}, '$.concurrencyKey')`;
/** The OS clock in epoch milliseconds; the same for every use within one statement. */
const NOW_MS = `ROUND(unixepoch('subsec') * 1000)`;

/**
 * Where the engine named in a task's lease no longer holds it: it beat and its last beat is a stop
 * or expired (by the database's clock), or it never beat here and the task's lease expired (an
 * engine that never beats holds its tasks without a lease, queued ones, until it lets them go).
 * Never NULL, so that its negation says "held".
 */
function ownerGone(beats: string, task: string, now: () => string): string {
  const beat = `SELECT 1 FROM ${beats} AS b WHERE b."engine_id" = ${task}."lease_owner"`;
  return (
    `(EXISTS (${beat} AND (${isTrue('b."stopped"')} OR b."expires_at" <= ${NOW_MS}))` +
    ` OR (NOT EXISTS (${beat}) AND ${task}."lease_expires_at" IS NOT NULL` +
    ` AND ${task}."lease_expires_at" <= ${now()}))`
  );
}

/**
 * Marks up to `limit` runnable tasks as held by `engineId`, within the room of limited agent keys;
 * returns their rows (taskSpec's columns, in order). SQLite's write transaction serialises claims,
 * so each key's room is counted by one claimer at a time.
 */
function buildSqliteClaimRunnable(): ControlStatement<ClaimRunnableOptions> {
  const dialect = sqliteDialect;
  const tasks = dialect.table('tasks');
  const workflows = dialect.table('workflows');
  const beats = dialect.table('engine_beats');
  const configs = dialect.table('agent_configs');
  // SQLite's RETURNING names the updated table's columns unqualified.
  const returning = taskSpec.fields.map((f) => quote(f.column)).join(', ');
  const order = (alias: string) =>
    `${planRank(`${alias}."execution"`)} DESC, ${alias}."created_at", ${alias}."id"`;

  // Every fragment below is written in text order: SQLite binds its `?` placeholders in the order
  // they are asked for, so a fragment that binds values is built where it stands in the text.
  type P = Placeholders<ClaimRunnableOptions>;
  /** Task `c` is claimable by `engineId` now, agent limits aside. */
  const runnable = (p: P, c: string) => {
    const now = () => p.value('now');
    const me = () => p.value('engineId');
    let text = `${isObject(`${c}."execution"`)} AND ${c}."status" NOT IN (${inList(NOT_CLAIMABLE)})`;
    text += ` AND (${c}."run_after" IS NULL OR ${c}."run_after" <= ${now()})`;
    text += ` AND ${planAgentKey(`${c}."execution"`)} NOT IN (SELECT "value" FROM json_each(${p.list('skipAgentKeys')}))`;
    text += ` AND (${c}."lease_owner" IS NULL OR (${c}."lease_owner" <> ${me()}`;
    text += ` AND ${ownerGone(beats, c, now)}))`;
    text +=
      ` AND (${c}."workflow_id" IS NULL OR (NOT EXISTS (SELECT 1 FROM ${workflows} AS w` +
      ` WHERE w."id" = ${c}."workflow_id" AND (${isTrue('w."paused"')} OR ${isTrue('w."cancelled"')}))` +
      // A workflow handed to workers as a whole: its coordinator runs its tasks.
      ` AND NOT EXISTS (SELECT 1 FROM ${dialect.table('workflow_runs')} AS r WHERE r."workflow_id" = ${c}."workflow_id")))`;
    return text;
  };
  /**
   * Room left per limited agent key: its config's maxConcurrency less the tasks of it held. Counted
   * once per claim (a CTE: joined as a sub-select, the planner may count again for every task row).
   */
  const room = (p: P) => {
    const key = planAgentKey('h."execution"');
    let text = `WITH "room" AS MATERIALIZED (SELECT a."id" AS "key", a."max_concurrency" - COALESCE(n."held", 0) AS "left"`;
    text += ` FROM ${configs} AS a LEFT JOIN (SELECT ${key} AS "key", COUNT(*) AS "held" FROM ${tasks} AS h`;
    text += ` WHERE h."status" NOT IN (${inList(FINISHED)}) AND h."lease_owner" IS NOT NULL`;
    text += ` AND (h."lease_owner" = ${p.value('engineId')} OR NOT ${ownerGone(beats, 'h', () => p.value('now'))})`;
    text += ` GROUP BY ${key}) AS n ON n."key" = a."id"`;
    return `${text})`;
  };
  /** Tasks held per fairness key (src/engine/key-queue.ts), by the same rule as `room`. */
  const keyHeld = (p: P) => {
    const key = planKey('h."execution"');
    let text = `, "key_held" AS MATERIALIZED (SELECT ${key} AS "key", COUNT(*) AS "held" FROM ${tasks} AS h`;
    text += ` WHERE ${key} IS NOT NULL AND h."status" NOT IN (${inList(FINISHED)}) AND h."lease_owner" IS NOT NULL`;
    text += ` AND (h."lease_owner" = ${p.value('engineId')} OR NOT ${ownerGone(beats, 'h', () => p.value('now'))})`;
    return `${text} GROUP BY ${key}) `;
  };
  const picked = `c."id", ${planRank('c."execution"')} AS "priority", c."created_at", ${planAgentKey('c."execution"')} AS "agent"`;
  const unkeyed = `${planKey('c."execution"')} IS NULL`;
  const fair = `"turn", "priority" DESC, "created_at", "id"`;

  return dialectStatement<ClaimRunnableOptions>('sqlite', dialect, (p) => {
    let text = `${room(p)}${keyHeld(p)}, "candidates" AS (`;
    // Tasks without a fairness key of agent keys without a stored config: no cluster limit.
    text += `SELECT *, 0 AS "turn" FROM (SELECT ${picked} FROM ${tasks} AS c WHERE ${runnable(p, 'c')} AND ${unkeyed}`;
    text += ` AND NOT EXISTS (SELECT 1 FROM ${configs} AS a WHERE a."id" = ${planAgentKey('c."execution"')})`;
    text += ` ORDER BY ${order('c')} LIMIT ${p.value('limit')}) AS f`;
    // Tasks without a fairness key of limited agent keys, the first `room` of each in claim order.
    text += ` UNION ALL SELECT r."id", r."priority", r."created_at", r."agent", 0 FROM (SELECT ${picked}, q."left",`;
    text += ` ROW_NUMBER() OVER (PARTITION BY q."key" ORDER BY ${order('c')}) AS "nth"`;
    text += ` FROM ${tasks} AS c JOIN "room" AS q ON q."key" = ${planAgentKey('c."execution"')}`;
    text += ` WHERE q."left" > 0 AND ${runnable(p, 'c')} AND ${unkeyed}) AS r WHERE r."nth" <= r."left"`;
    // Tasks with a fairness key: their turn, within their key's limit.
    text += ` UNION ALL SELECT k."id", k."priority", k."created_at", k."agent", k."turn" FROM (SELECT ${picked},`;
    text += ` COALESCE(json_extract(c."execution", '$.keyConcurrency'), 0) AS "limit",`;
    text += ` COALESCE(kh."held", 0) + ROW_NUMBER() OVER (PARTITION BY ${planKey('c."execution"')} ORDER BY ${order('c')}) - 1 AS "turn"`;
    text += ` FROM ${tasks} AS c LEFT JOIN "key_held" AS kh ON kh."key" = ${planKey('c."execution"')}`;
    text += ` WHERE NOT ${unkeyed} AND ${runnable(p, 'c')}) AS k WHERE k."limit" = 0 OR k."turn" < k."limit")`;
    // Each limited agent key's room, counted over all three in fairness order.
    text += `, "ranked" AS (SELECT *, ROW_NUMBER() OVER (PARTITION BY "agent" ORDER BY ${fair}) AS "nth" FROM "candidates")`;
    text += ` UPDATE ${tasks} AS t SET "lease_owner" = ${p.value('engineId')}`;
    text += ` WHERE t."id" IN (SELECT u."id" FROM "ranked" AS u LEFT JOIN "room" AS q ON q."key" = u."agent"`;
    text += ` WHERE q."key" IS NULL OR u."nth" <= q."left" ORDER BY ${fair} LIMIT ${p.value('limit')})`;
    // Checked again on the row written.
    text += ` AND t."status" NOT IN (${inList(NOT_CLAIMABLE)}) AND (t."lease_owner" IS NULL`;
    text += ` OR (t."lease_owner" <> ${p.value('engineId')} AND ${ownerGone(beats, 't', () => p.value('now'))}))`;
    return `${text} RETURNING ${returning}`;
  });
}

let sqliteClaim: ControlStatement<ClaimRunnableOptions> | undefined;

/** SQLite's claim statement (see `buildSqliteClaimRunnable`), built on first use. */
export function sqliteClaimRunnable(): ControlStatement<ClaimRunnableOptions> {
  sqliteClaim ??= buildSqliteClaimRunnable();
  return sqliteClaim;
}

/**
 * PostgreSQL: tells the workers listening on a schema's channel (`workChannel`) that work was
 * committed. $1 the channel.
 */
export const NOTIFY_WORK = `SELECT pg_notify($1, '')`;

/** The NOTIFY channel of a schema's workers (at most 63 bytes, PostgreSQL's identifier limit). */
export function workChannel(schema: string): string {
  return `symphony_work_${schema}`.slice(0, 63);
}
