import { taskSpec } from '../entities.js';
import { quote } from '../sql/statements.js';

/**
 * The statements of a worker's claim on PostgreSQL (see `Store.claimRunnable` and
 * src/repositories/claim-runnable.ts for the rule), run in one transaction: `releaseGone`, then
 * `lockAgentKeys`, then `claim`. Each reads through a partial index of migration 7, so a claim costs
 * what it takes plus the tasks in flight, not the size of the table.
 */
export interface PostgresClaimStatements {
  /**
   * Lets go of the tasks held by engines that are gone (their last beat a stop or expired by the
   * database's clock; or, never having beaten, their lease expired): their holder becomes null, so
   * they are claimable again (a RUNNING one counts as an interrupted attempt for the next holder, and
   * the gone engine's writes of it fail their fence). $1 engine id, $2 now (the claimer's clock).
   */
  releaseGone: string;
  /**
   * Whether any agent config with a stored limit has unheld runnable tasks: one row if so, none if
   * not (no lock taken). $1 now.
   */
  limitedKeys: string;
  /**
   * Takes the transaction's advisory lock of each agent config with unheld runnable tasks, in the
   * order of the lock's hash (claimers never wait on each other in a cycle); returns the keys.
   * $1 lock name prefix, $2 now.
   */
  lockAgentKeys: string;
  /**
   * Marks as held by $1 up to $3 unheld runnable tasks in claim order: those of agent keys without a
   * stored config, and of each locked key ($4) at most its config's maxConcurrency less the tasks of
   * it held; returns their rows (taskSpec's columns). $2 now; $5 agent keys not taken (text[]).
   */
  claim: string;
}

/**
 * A plan's rank (src/engine/queue-order.ts) in PostgreSQL, of an `execution` column: the claim
 * indexes of migration 9 hold it over the bare column, claims read it over an aliased one (the
 * planner matches the two). Plans written before ranks existed rank by priority.
 */
export const planRankSql = (execution: string): string =>
  `(COALESCE((${execution}->>'rank')::float8, (${execution}->>'priority')::float8))`;

/** The claim statements of a schema (`schema` quoted already). */
export function postgresClaimStatements(schema: string): PostgresClaimStatements {
  const tasks = `${schema}.tasks`;
  const configs = `${schema}.agent_configs`;
  const beats = `${schema}.engine_beats`;
  const workflows = `${schema}.workflows`;
  const rank = (c: string) => planRankSql(`${c}.execution`);
  const agentKey = (c: string) => `(${c}.execution->>'agentKey')`;
  /**
   * An agent config id as the claim indexes' key: `agent_configs.id` is `COLLATE "C"` and the
   * indexed `execution->>'agentKey'` has the database's collation; compared across the two, the
   * planner cannot use the index and reads every unheld task instead.
   */
  const byKey = (id: string) => `(${id} COLLATE "default")`;
  const order = (c: string) => `${rank(c)} DESC, ${c}.created_at, ${c}.id`;
  const now = `round(extract(epoch FROM clock_timestamp()) * 1000)::float8`;
  /**
   * Unheld and runnable now (`now`, by default $2: the claimer's clock, for retry due times), agent
   * limits aside.
   */
  const unheld = (c: string, now = '$2'): string =>
    `${c}.lease_owner IS NULL AND ${c}.status IN ('PENDING', 'RUNNING') AND json_typeof(${c}.execution) = 'object'` +
    ` AND (${c}.run_after IS NULL OR ${c}.run_after <= ${now})` +
    ` AND (${c}.workflow_id IS NULL OR (NOT EXISTS (SELECT 1 FROM ${workflows} AS w` +
    ` WHERE w.id = ${c}.workflow_id AND (w.paused OR w.cancelled))` +
    // A workflow handed to workers as a whole: its coordinator runs its tasks.
    ` AND NOT EXISTS (SELECT 1 FROM ${schema}.workflow_runs AS r WHERE r.workflow_id = ${c}.workflow_id)))`;
  /** Not of an agent key the claimer skips ($5). */
  const notSkipped = (c: string) => `${agentKey(c)} <> ALL ($5::text[])`;
  const returning = taskSpec.fields
    .map((f) => (f.kind === 'json' ? `t.${quote(f.column)}::text` : `t.${quote(f.column)}`))
    .join(', ');
  const picked = (c: string) => `${c}.id, ${rank(c)} AS rank, ${c}.created_at`;

  const beat = `SELECT 1 FROM ${beats} AS b WHERE b.engine_id = t.lease_owner`;
  const releaseGone =
    `UPDATE ${tasks} AS t SET lease_owner = NULL` +
    ` WHERE t.lease_owner IS NOT NULL AND t.status IN ('PENDING', 'RUNNING', 'PAUSED') AND t.lease_owner <> $1` +
    ` AND (EXISTS (${beat} AND (b.stopped OR b.expires_at <= ${now}))` +
    ` OR (NOT EXISTS (${beat}) AND t.lease_expires_at IS NOT NULL AND t.lease_expires_at <= $2))`;

  // One probe of the per-key index for each config (LIMIT 1 keeps the planner from turning this
  // into a semi join that reads every unheld task).
  const withRunnable = (now: string) =>
    ` CROSS JOIN LATERAL (SELECT 1 FROM ${tasks} AS c WHERE ${agentKey('c')} = ${byKey('a.id')}` +
    ` AND ${unheld('c', now)} LIMIT 1) AS x`;
  const limitedKeys = `SELECT a.id AS key FROM ${configs} AS a${withRunnable('$1')} LIMIT 1`;
  const lockAgentKeys =
    `SELECT k.key, pg_advisory_xact_lock(k.lock) FROM (SELECT a.id AS key,` +
    ` hashtextextended($1 || a.id, 0) AS lock FROM ${configs} AS a${withRunnable('$2')}` +
    ` ORDER BY lock, key) AS k`;

  const claim =
    `WITH room AS MATERIALIZED (SELECT ${byKey('a.id')} AS key, a.max_concurrency - (SELECT count(*) FROM ${tasks} AS h` +
    ` WHERE h.lease_owner IS NOT NULL AND h.status IN ('PENDING', 'RUNNING', 'PAUSED') AND ${agentKey('h')} = a.id) AS left_` +
    ` FROM ${configs} AS a WHERE a.id = ANY($4::text[])),` +
    ` picked AS (SELECT * FROM (SELECT ${picked('c')} FROM ${tasks} AS c WHERE ${unheld('c')} AND ${notSkipped('c')}` +
    // A filter on the ordered index scan (an anti join would read every row, then sort).
    ` AND ${agentKey('c')} <> ALL (ARRAY(SELECT a.id FROM ${configs} AS a))` +
    ` ORDER BY ${order('c')} LIMIT $3 FOR UPDATE OF c SKIP LOCKED) AS free` +
    ` UNION ALL SELECT l.* FROM room AS q CROSS JOIN LATERAL (SELECT ${picked('c')} FROM ${tasks} AS c` +
    ` WHERE ${agentKey('c')} = q.key AND ${unheld('c')} AND ${notSkipped('c')}` +
    ` ORDER BY ${order('c')} LIMIT GREATEST(q.left_, 0) FOR UPDATE OF c SKIP LOCKED) AS l)` +
    ` UPDATE ${tasks} AS t SET lease_owner = $1` +
    ` FROM (SELECT id FROM picked ORDER BY rank DESC, created_at, id LIMIT $3) AS p` +
    ` WHERE t.id = p.id AND t.lease_owner IS NULL RETURNING ${returning}`;
  return { releaseGone, limitedKeys, lockAgentKeys, claim };
}
