import { TERMINAL_TASK_STATUSES } from '../../../machines/status.js';
import type { ClaimRunnableOptions } from '../claim-runnable.js';
import { sqliteDialect } from '../sqlite/sqlite-repository.js';
import { dialectStatement, type ControlStatement, type Placeholders } from './control-statements.js';

/**
 * The SQL of SQLite's `Store.claimRunnable` reads (workers taking runnable tasks), and of the wake-ups that
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

/** What SQLite's claim reads bind: the claimer and its clock. */
type ClaimArgs = Pick<ClaimRunnableOptions, 'engineId' | 'now'>;

/** What its read of candidates binds besides. */
interface CandidateArgs extends ClaimArgs {
  limit: number;
  skipAgentKeys: readonly string[];
  /** Agent configs with no room left: their tasks are not candidates. */
  fullAgentKeys: readonly string[];
}

/**
 * SQLite's claim reads (see `claimOnSqlite` in src/repositories/sqlite/claims.ts, which runs them in
 * one write transaction and decides in process, as the memory store does): the runnable tasks with
 * what the rule needs of each, and the tasks held per agent key and fairness key.
 */
export interface SqliteClaimStatements {
  /**
   * id, rank, created_at, agent, key, lim, rates (JSON text) of the runnable tasks of agent keys
   * neither skipped nor full, the first `limit` in claim order of each key and, without a key, of
   * each agent key: no claim takes more of one (see `pickFair`).
   */
  candidates: ControlStatement<CandidateArgs>;
  /** One row if a runnable task with a fairness key waits, skipped agent keys included. */
  keyedWaiting: ControlStatement<ClaimArgs>;
  /**
   * agent, key, held, pending (PENDING and due), and the smallest `keyConcurrency` (NULL: none) of the
   * tasks held by the claimer or a live engine.
   */
  held: ControlStatement<ClaimArgs>;
}

function buildSqliteClaimStatements(): SqliteClaimStatements {
  const dialect = sqliteDialect;
  const tasks = dialect.table('tasks');
  const workflows = dialect.table('workflows');
  const beats = dialect.table('engine_beats');

  // Every fragment below is written in text order: SQLite binds its `?` placeholders in the order
  // they are asked for, so a fragment that binds values is built where it stands in the text.
  type P = Placeholders<ClaimArgs>;
  /** Task `c` is claimable by `engineId` now, agent limits aside. */
  const runnable = (p: P, c: string) => {
    const now = () => p.value('now');
    const me = () => p.value('engineId');
    let text = `${isObject(`${c}."execution"`)} AND ${c}."status" NOT IN (${inList(NOT_CLAIMABLE)})`;
    text += ` AND (${c}."run_after" IS NULL OR ${c}."run_after" <= ${now()})`;
    text += ` AND (${c}."lease_owner" IS NULL OR (${c}."lease_owner" <> ${me()}`;
    text += ` AND ${ownerGone(beats, c, now)}))`;
    text +=
      ` AND (${c}."workflow_id" IS NULL OR (NOT EXISTS (SELECT 1 FROM ${workflows} AS w` +
      ` WHERE w."id" = ${c}."workflow_id" AND (${isTrue('w."paused"')} OR ${isTrue('w."cancelled"')}))` +
      // A workflow handed to workers as a whole: its coordinator runs its tasks.
      ` AND NOT EXISTS (SELECT 1 FROM ${dialect.table('workflow_runs')} AS r WHERE r."workflow_id" = ${c}."workflow_id")))`;
    return text;
  };
  const plan = 'c."execution"';
  const configs = dialect.table('agent_configs');
  const candidates = dialectStatement<CandidateArgs>('sqlite', dialect, (p) => {
    // One pass over the runnable tasks reads their plans (each JSON parse is the cost here), then the
    // candidates are picked of those rows: without a key, the first `limit` of agent keys without a
    // stored config and the first `limit` of each config; with a key, the first `limit` of each key.
    const order = `r."rank" DESC, r."created_at", r."id"`;
    const row = `r."id", r."rank", r."created_at", r."agent", r."key"`;
    // Agent keys with a room of their own: a stored config, or rate limits of an agent in code.
    const configured =
      `(SELECT a."id" FROM ${configs} AS a UNION SELECT g."agent_key"` +
      ` FROM ${dialect.table('agent_rate_limits')} AS g)`;
    let text = `WITH r AS MATERIALIZED (SELECT c."id", ${planRank(plan)} AS "rank", c."created_at",`;
    text += ` ${planAgentKey(plan)} AS "agent", ${planKey(plan)} AS "key" FROM ${tasks} AS c WHERE ${runnable(p, 'c')}`;
    text += ` AND ${planAgentKey(plan)} NOT IN (SELECT "value" FROM json_each(${p.list('skipAgentKeys')}))`;
    text += ` AND ${planAgentKey(plan)} NOT IN (SELECT "value" FROM json_each(${p.list('fullAgentKeys')})))`;
    text += ` SELECT k."id", k."rank", k."created_at", k."agent", k."key",`;
    text += ` COALESCE(json_extract(t."execution", '$.keyConcurrency'), 0), json_extract(t."execution", '$.keyRateLimits')`;
    text += ` FROM (SELECT * FROM (SELECT ${row} FROM r WHERE r."key" IS NULL AND r."agent" NOT IN ${configured}`;
    text += ` ORDER BY ${order} LIMIT ${p.value('limit')})`;
    text += ` UNION ALL SELECT ${row} FROM (SELECT ${row}, ROW_NUMBER() OVER (PARTITION BY r."agent" ORDER BY ${order}) AS "n"`;
    text += ` FROM r WHERE r."key" IS NULL AND r."agent" IN ${configured}) AS r WHERE r."n" <= ${p.value('limit')}`;
    text += ` UNION ALL SELECT ${row} FROM (SELECT ${row}, ROW_NUMBER() OVER (PARTITION BY r."key" ORDER BY ${order}) AS "n"`;
    text += ` FROM r WHERE r."key" IS NOT NULL) AS r WHERE r."n" <= ${p.value('limit')}) AS k`;
    return `${text} JOIN ${tasks} AS t ON t."id" = k."id"`;
  });
  const keyedWaiting = dialectStatement<ClaimArgs>(
    'sqlite',
    dialect,
    (p) => `SELECT 1 FROM ${tasks} AS c WHERE ${planKey(plan)} IS NOT NULL AND ${runnable(p, 'c')} LIMIT 1`,
  );
  const held = dialectStatement<ClaimArgs>('sqlite', dialect, (p) => {
    const h = 'h."execution"';
    let text = `SELECT ${planAgentKey(h)} AS "agent", ${planKey(h)} AS "key", COUNT(*) AS "held",`;
    text += ` SUM(h."status" = 'PENDING' AND (h."run_after" IS NULL OR h."run_after" <= ${p.value('now')})) AS "pending",`;
    text += ` MIN(NULLIF(json_extract(${h}, '$.keyConcurrency'), 0)) AS "lim"`;
    text += ` FROM ${tasks} AS h WHERE ${isObject(h)} AND h."status" NOT IN (${inList(FINISHED)}) AND h."lease_owner" IS NOT NULL`;
    text += ` AND (h."lease_owner" = ${p.value('engineId')} OR NOT ${ownerGone(beats, 'h', () => p.value('now'))})`;
    return `${text} GROUP BY 1, 2`;
  });
  return { candidates, keyedWaiting, held };
}

let sqliteClaim: SqliteClaimStatements | undefined;

/** SQLite's claim statements (see `buildSqliteClaimStatements`), built on first use. */
export function sqliteClaimStatements(): SqliteClaimStatements {
  sqliteClaim ??= buildSqliteClaimStatements();
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
