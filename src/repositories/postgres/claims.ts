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
   * order of the lock's hash (claimers never wait on each other in a cycle), and the lock of the
   * fairness keys; returns the keys (null for the fairness keys' lock).
   * $1 lock name prefix, $2 now.
   */
  lockAgentKeys: string;
  /**
   * Marks as held by $1 up to $3 unheld runnable tasks in claim order: those of agent keys without a
   * stored config, and of each locked key ($4) at most its config's maxConcurrency less the tasks of
   * it held, in fairness order (src/engine/key-queue.ts); returns their rows (taskSpec's columns).
   * $2 now; $5 agent keys not taken (text[]); $6 tasks with a fairness key are taken (the claimer
   * holds their lock).
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
  /** The plan's fairness key (src/engine/key-queue.ts); NULL: none. */
  const fairKey = (c: string) => `(${c}.execution->>'concurrencyKey')`;
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
  const picked = (c: string) => `${c}.id, ${rank(c)} AS rank, ${c}.created_at, ${agentKey(c)} AS agent`;

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
  // Tasks with a fairness key are found through the partial index of migration 11 (empty without keys).
  const limitedKeys =
    `(SELECT a.id AS key FROM ${configs} AS a${withRunnable('$1')} LIMIT 1) UNION ALL` +
    ` (SELECT NULL FROM ${tasks} AS c WHERE ${fairKey('c')} IS NOT NULL AND ${unheld('c', '$1')} LIMIT 1)`;
  // The lock of the fairness keys (null key): claims that take tasks with a key count the held ones
  // one at a time. Taken in the same hash order as the agent keys' locks.
  const lockAgentKeys =
    `SELECT k.key, pg_advisory_xact_lock(k.lock) FROM (SELECT a.id AS key,` +
    ` hashtextextended($1 || a.id, 0) AS lock FROM ${configs} AS a${withRunnable('$2')}` +
    ` UNION ALL SELECT NULL, hashtextextended($1 || ' fairness keys', 0)` +
    ` ORDER BY lock, key) AS k`;
  const fair = 'turn, rank DESC, created_at, id';

  const claim =
    `WITH room AS MATERIALIZED (SELECT ${byKey('a.id')} AS key, a.max_concurrency - (SELECT count(*) FROM ${tasks} AS h` +
    ` WHERE h.lease_owner IS NOT NULL AND h.status IN ('PENDING', 'RUNNING', 'PAUSED') AND ${agentKey('h')} = a.id) AS left_` +
    ` FROM ${configs} AS a WHERE a.id = ANY($4::text[])),` +
    // Tasks held per fairness key: read only by a claim holding the fairness keys' lock ($6).
    ` key_held AS MATERIALIZED (SELECT ${fairKey('h')} AS key, count(*) AS held FROM ${tasks} AS h WHERE $6::boolean` +
    ` AND h.lease_owner IS NOT NULL AND h.status IN ('PENDING', 'RUNNING', 'PAUSED') AND ${fairKey('h')} IS NOT NULL GROUP BY 1),` +
    ` picked AS (SELECT *, 0::bigint AS turn FROM (SELECT ${picked('c')} FROM ${tasks} AS c WHERE ${unheld('c')} AND ${notSkipped('c')}` +
    ` AND ${fairKey('c')} IS NULL` +
    // A filter on the ordered index scan (an anti join would read every row, then sort).
    ` AND ${agentKey('c')} <> ALL (ARRAY(SELECT a.id FROM ${configs} AS a))` +
    ` ORDER BY ${order('c')} LIMIT $3 FOR UPDATE OF c SKIP LOCKED) AS free` +
    ` UNION ALL SELECT l.*, 0 FROM room AS q CROSS JOIN LATERAL (SELECT ${picked('c')} FROM ${tasks} AS c` +
    ` WHERE ${agentKey('c')} = q.key AND ${unheld('c')} AND ${notSkipped('c')} AND ${fairKey('c')} IS NULL` +
    ` ORDER BY ${order('c')} LIMIT GREATEST(q.left_, 0) FOR UPDATE OF c SKIP LOCKED) AS l` +
    // Tasks with a fairness key: their turn (held of the key plus those before it), within the key's limit.
    ` UNION ALL SELECT k.id, k.rank, k.created_at, k.agent, k.turn FROM (SELECT ${picked('c')},` +
    ` COALESCE((c.execution->>'keyConcurrency')::int, 0) AS lim, COALESCE(kh.held, 0)` +
    ` + ROW_NUMBER() OVER (PARTITION BY ${fairKey('c')} ORDER BY ${order('c')}) - 1 AS turn` +
    ` FROM ${tasks} AS c LEFT JOIN key_held AS kh ON kh.key = ${fairKey('c')}` +
    ` WHERE $6::boolean AND ${fairKey('c')} IS NOT NULL AND ${unheld('c')} AND ${notSkipped('c')}` +
    ` AND (${agentKey('c')} = ANY($4::text[]) OR ${agentKey('c')} <> ALL (ARRAY(SELECT a.id FROM ${configs} AS a))))` +
    ` AS k WHERE k.lim = 0 OR k.turn < k.lim),` +
    // Each limited agent key's room, counted over all of them in fairness order.
    ` ranked AS (SELECT p.*, ROW_NUMBER() OVER (PARTITION BY p.agent ORDER BY ${fair}) AS nth FROM picked AS p)` +
    ` UPDATE ${tasks} AS t SET lease_owner = $1` +
    ` FROM (SELECT r.id FROM ranked AS r LEFT JOIN room AS q ON q.key = r.agent` +
    ` WHERE q.key IS NULL OR r.nth <= q.left_ ORDER BY ${fair} LIMIT $3) AS p` +
    ` WHERE t.id = p.id AND t.lease_owner IS NULL RETURNING ${returning}`;
  return { releaseGone, limitedKeys, lockAgentKeys, claim };
}
