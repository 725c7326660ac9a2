import type { Task } from '../../domain/task.js';
import { byClaimOrder, claimed, type ClaimedTasks } from '../claim-runnable.js';
import { taskSpec } from '../entities.js';
import { decodeTask, type SqlValues } from '../sql/rows.js';
import { quote } from '../sql/statements.js';
import { pruneFairMarksSql } from '../fair-marks-prune.js';
import { gateRoomSql, gateWaitSql } from './claim-rates.js';

/**
 * The statements of a worker's claim on PostgreSQL (see `Store.claimRunnable` and
 * src/repositories/claim-runnable.ts for the rule, src/repositories/fair-order.ts for the order of
 * fairness keys: the memory and SQLite stores decide the same in process), run in one transaction:
 * `releaseGone`, then `lockAgentKeys`, then `claim`. Each reads through a partial index (migrations
 * 7, 11 and 16), so a claim costs what it takes, the tasks in flight and, with fairness keys, a few
 * rows per key with work waiting, not the size of the table.
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
   * Whether any agent config with a stored limit has unheld runnable tasks without a fairness key
   * (a row with its id), and whether any task with a fairness key does (a row with NULL); no rows
   * if neither (no lock taken). $1 now.
   */
  limitedKeys: string;
  /**
   * Takes the transaction's advisory locks, in the order of the lock's hash (claimers never wait on
   * each other in a cycle): of each agent config with unheld runnable tasks without a key, or of
   * every agent config and of the fairness keys when $3 (tasks with a key are claimed: any config
   * may run them); returns the keys (null for the fairness keys' lock). $1 lock name prefix, $2 now.
   */
  lockAgentKeys: string;
  /**
   * Marks as held by $1 up to $3 unheld runnable tasks, in the order of fair-order.ts: those of agent
   * keys without a stored config, and of each locked config ($4) at most its room (its
   * maxConcurrency less its tasks held, and with rate limits its gate's room); with $6 (the claimer
   * holds the fairness keys' lock) also tasks with a key, each key within its limit and its rate
   * room, and then stores the marks of the groups served. Returns the rows taken (taskSpec's
   * columns and two NULLs) and one more row of NULLs whose last two columns are the rate wait hints
   * (`ClaimedTasks.rateWaitMs` and `rateWaitEarliestMs`; NULL for none). $2 now; $5 agent keys not taken (text[]); $7 the
   * time of rate buckets (NULL: the database's clock).
   */
  claim: string;
  /** `Store.pruneFairMarks` (src/repositories/fair-marks-prune.ts): $1 now. */
  pruneMarks: string;
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
  /**
   * The agent keys with a room of their own: the stored configs, and the rate limits recorded for
   * agents defined in code (`Store.saveAgentRateLimits`, migration 18), without a concurrency limit.
   */
  const configs =
    `(SELECT a.id, a.max_concurrency, a.rate_limits FROM ${schema}.agent_configs AS a UNION ALL` +
    ` SELECT g.agent_key, ${2 ** 31 - 1}, g.rate_limits FROM ${schema}.agent_rate_limits AS g` +
    ` WHERE NOT EXISTS (SELECT 1 FROM ${schema}.agent_configs AS s WHERE s.id = g.agent_key))`;
  const beats = `${schema}.engine_beats`;
  const workflows = `${schema}.workflows`;
  const marks = `${schema}.fair_marks`;
  const rank = (c: string) => planRankSql(`${c}.execution`);
  const agentKey = (c: string) => `(${c}.execution->>'agentKey')`;
  /** The plan's fairness key (src/engine/key-queue.ts); NULL: none. */
  const fairKey = (c: string) => `(${c}.execution->>'concurrencyKey')`;
  /** The plan's `keyConcurrency`; 0: no limit. */
  const keyLimit = (c: string) => `COALESCE((${c}.execution->>'keyConcurrency')::int, 0)`;
  /**
   * An agent config id as the claim indexes' key: `agent_configs.id` is `COLLATE "C"` and the
   * indexed `execution->>'agentKey'` has the database's collation; compared across the two, the
   * planner cannot use the index and reads every unheld task instead.
   */
  const byKey = (id: string) => `(${id} COLLATE "default")`;
  const order = (c: string) => `${rank(c)} DESC, ${c}.created_at, ${c}.id`;
  const now = `round(extract(epoch FROM clock_timestamp()) * 1000)::float8`;
  /** The predicate of the partial indexes of unheld tasks (migrations 11 and 16). */
  const unheldIndexed = (c: string) =>
    `${c}.lease_owner IS NULL AND ${c}.status IN ('PENDING', 'RUNNING') AND json_typeof(${c}.execution) = 'object'`;
  /**
   * Unheld and runnable now (`now`, by default $2: the claimer's clock, for retry due times), agent
   * limits aside.
   */
  const unheld = (c: string, now = '$2'): string =>
    `${unheldIndexed(c)} AND (${c}.run_after IS NULL OR ${c}.run_after <= ${now})` +
    ` AND (${c}.workflow_id IS NULL OR (NOT EXISTS (SELECT 1 FROM ${workflows} AS w` +
    ` WHERE w.id = ${c}.workflow_id AND (w.paused OR w.cancelled))` +
    // A workflow handed to workers as a whole: its coordinator runs its tasks.
    ` AND NOT EXISTS (SELECT 1 FROM ${schema}.workflow_runs AS r WHERE r.workflow_id = ${c}.workflow_id)))`;
  /** Held (by any engine: gone ones were let go first), unfinished. */
  const held = (h: string) =>
    `${h}.lease_owner IS NOT NULL AND ${h}.status IN ('PENDING', 'RUNNING', 'PAUSED')`;
  /** Of held tasks: PENDING and due, so about to take a rate token. */
  const due = (h: string) => `${h}.status = 'PENDING' AND (${h}.run_after IS NULL OR ${h}.run_after <= $2)`;
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
    ` AND ${unheld('c', now)} AND ${fairKey('c')} IS NULL LIMIT 1) AS x`;
  // Tasks with a fairness key are found through the partial index of migration 11 (empty without keys).
  const limitedKeys =
    `(SELECT a.id AS key FROM ${configs} AS a${withRunnable('$1')} LIMIT 1) UNION ALL` +
    ` (SELECT NULL FROM ${tasks} AS c WHERE ${fairKey('c')} IS NOT NULL AND ${unheld('c', '$1')} LIMIT 1)`;
  const lockAgentKeys =
    `SELECT k.key, pg_advisory_xact_lock(k.lock) FROM (SELECT c.key, hashtextextended($1 || c.key, 0) AS lock` +
    ` FROM (SELECT a.id AS key FROM ${configs} AS a WHERE $3::boolean` +
    ` UNION SELECT a.id FROM ${configs} AS a${withRunnable('$2')}) AS c` +
    ` UNION ALL SELECT NULL, hashtextextended($1 || ' fairness keys', 0) WHERE $3::boolean` +
    ` ORDER BY lock, key) AS k`;

  /** A candidate with the key of `k` (`k.key`): unheld, runnable, not skipped, of an agent with room. */
  const keyCandidate = (c: string, k: string) =>
    `${fairKey(c)} = ${k}.key AND ${unheld(c)} AND ${notSkipped(c)}` +
    ` AND (${agentKey(c)} <> ALL (ARRAY(SELECT a.id FROM ${configs} AS a))` +
    ` OR ${agentKey(c)} IN (SELECT q.key FROM room AS q WHERE q.left_ > 0))`;
  const rateAt = 'rc.at';
  /** The rate room of an agent config's gate (`a`, with its pending count `n.pending`). */
  const agentRoom = gateRoomSql(schema, {
    gate: `'agent:' || a.id`,
    limits: 'a.rate_limits',
    pending: 'n.pending',
    at: rateAt,
  });
  const keyGate = (c: string) => ({
    gate: `'key:' || ${c}.key`,
    limits: `${c}.limits`,
    pending: `${c}.pending`,
    at: rateAt,
  });
  /** The order of fair-order.ts: turn, j, mark, then the claim order of the group's first candidate. */
  const fair = (c: string) => `${c}.turn, ${c}.j, ${c}.mark, ${c}.head_rank DESC, ${c}.head_at, ${c}.head_id`;

  const claim =
    // The time of rate buckets, read once.
    `WITH RECURSIVE rc AS MATERIALIZED (SELECT COALESCE($7::float8, ${now}) AS at),` +
    // Each locked config's room: its limit less its tasks held, and its gate's rate room.
    ` room AS MATERIALIZED (SELECT r.*, least(r.max_left, r.rate_left)::bigint AS left_ FROM (SELECT ${byKey('a.id')} AS key,` +
    ` a.max_concurrency - n.held AS max_left, ${agentRoom} AS rate_left, a.id AS config, a.rate_limits AS limits, n.pending` +
    ` FROM ${configs} AS a CROSS JOIN rc CROSS JOIN LATERAL (SELECT count(*) AS held, count(*) FILTER (WHERE ${due('h')}) AS pending` +
    ` FROM ${tasks} AS h WHERE ${held('h')} AND ${agentKey('h')} = a.id) AS n WHERE a.id = ANY($4::text[])) AS r),` +
    // Tasks held per fairness key: read only by a claim holding the fairness keys' lock ($6).
    ` key_held AS MATERIALIZED (SELECT ${fairKey('h')} AS key, count(*) AS held, count(*) FILTER (WHERE ${due('h')}) AS pending,` +
    ` min(NULLIF(${keyLimit('h')}, 0)) AS lim` +
    ` FROM ${tasks} AS h WHERE $6::boolean AND ${held('h')} AND ${fairKey('h')} IS NOT NULL GROUP BY 1),` +
    // The keys with unheld tasks, one probe of the keyed index each (a loose index scan).
    ` keys AS ((SELECT ${fairKey('c')} AS key FROM ${tasks} AS c WHERE $6::boolean AND ${fairKey('c')} IS NOT NULL` +
    ` AND ${unheldIndexed('c')} ORDER BY 1 LIMIT 1) UNION ALL SELECT (SELECT ${fairKey('c')} FROM ${tasks} AS c` +
    ` WHERE ${fairKey('c')} > k.key AND ${unheldIndexed('c')} ORDER BY 1 LIMIT 1) FROM keys AS k WHERE k.key IS NOT NULL),` +
    // Each key's head: its first candidate in claim order (of agents with room), with its held and
    // pending tasks and its mark; then how many the key could take (its limit, the least the head and
    // its held tasks declare, less its held tasks; its rate room by the head's limits; at most $3),
    // then that many candidates, numbered (j), each with the limit binding it (the least it, those
    // before it and the held tasks declare) and whether it and those before it declare the head's rates.
    ` heads AS MATERIALIZED (SELECT k.key, COALESCE(kh.held, 0) AS held, COALESCE(kh.pending, 0) AS pending,` +
    ` COALESCE(m.served, 0) AS mark, least(kh.lim, NULLIF(x.lim, 0)) AS lim, kh.lim AS held_lim, x.limits,` +
    ` x.id AS head_id, x.rank AS head_rank, x.created_at AS head_at` +
    ` FROM keys AS k LEFT JOIN key_held AS kh ON kh.key = k.key` +
    ` LEFT JOIN ${marks} AS m ON m.key = (k.key COLLATE "C") CROSS JOIN LATERAL (SELECT ${picked('c')},` +
    ` ${keyLimit('c')} AS lim, c.execution->'keyRateLimits' AS limits` +
    ` FROM ${tasks} AS c WHERE ${keyCandidate('c', 'k')} ORDER BY ${order('c')} LIMIT 1) AS x WHERE k.key IS NOT NULL),` +
    ` key_rate AS MATERIALIZED (SELECT h.*, least($3::bigint, CASE WHEN h.lim IS NOT NULL THEN h.lim - h.held ELSE $3::bigint END,` +
    ` h.rate_left)::bigint AS take FROM (SELECT h.*, ${gateRoomSql(schema, keyGate('h'))} AS rate_left` +
    ` FROM heads AS h CROSS JOIN rc) AS h),` +
    ` kc AS MATERIALIZED (SELECT r.key, r.held, r.mark, r.head_id, r.head_rank, r.head_at, x.*` +
    ` FROM key_rate AS r CROSS JOIN LATERAL (SELECT y.id, y.rank, y.created_at, y.agent, ROW_NUMBER() OVER w - 1 AS j,` +
    ` least(r.held_lim, min(NULLIF(y.lim, 0)) OVER w) AS lim,` +
    ` bool_and(y.limits IS NOT DISTINCT FROM r.limits::text) OVER w AS same_rates FROM (SELECT ${picked('c')},` +
    ` ${keyLimit('c')} AS lim, (c.execution->'keyRateLimits')::text AS limits FROM ${tasks} AS c WHERE ${keyCandidate('c', 'r')}` +
    ` ORDER BY ${order('c')} LIMIT GREATEST(r.take, 0)) AS y WINDOW w AS (ORDER BY y.rank DESC, y.created_at, y.id)) AS x),` +
    ` null_mark AS (SELECT COALESCE((SELECT m.served FROM ${marks} AS m WHERE m.key = ''), 0) AS mark),` +
    // Candidates without a key: of agent keys without a stored config, and of each locked config up to its room.
    ` picked AS (SELECT f.*, NULL::text AS grp, 0::bigint AS turn, NULL::bigint AS j, nm.mark, NULL::text AS head_id,` +
    ` NULL::float8 AS head_rank, NULL::float8 AS head_at FROM (SELECT ${picked('c')}` +
    ` FROM ${tasks} AS c WHERE ${unheld('c')} AND ${notSkipped('c')} AND ${fairKey('c')} IS NULL` +
    // A filter on the ordered index scan (an anti join would read every row, then sort).
    ` AND ${agentKey('c')} <> ALL (ARRAY(SELECT a.id FROM ${configs} AS a))` +
    ` ORDER BY ${order('c')} LIMIT $3 FOR UPDATE OF c SKIP LOCKED) AS f CROSS JOIN null_mark AS nm` +
    ` UNION ALL SELECT l.*, NULL, 0, NULL, nm.mark, NULL, NULL, NULL FROM room AS q CROSS JOIN LATERAL (SELECT ${picked('c')} FROM ${tasks} AS c` +
    ` WHERE ${agentKey('c')} = q.key AND ${unheld('c')} AND ${notSkipped('c')} AND ${fairKey('c')} IS NULL` +
    ` ORDER BY ${order('c')} LIMIT GREATEST(q.left_, 0) FOR UPDATE OF c SKIP LOCKED) AS l CROSS JOIN null_mark AS nm` +
    // Candidates with a key: their turn, within their key's limit.
    ` UNION ALL SELECT kc.id, kc.rank, kc.created_at, kc.agent, kc.key, kc.held + kc.j, kc.j, kc.mark, kc.head_id,` +
    ` kc.head_rank, kc.head_at FROM kc` +
    ` WHERE (kc.lim IS NULL OR kc.held + kc.j < kc.lim) AND kc.same_rates),` +
    // The candidates without a key numbered in claim order (j), then each config's room counted in fair order.
    ` numbered AS (SELECT p.id, p.rank, p.created_at, p.agent, p.grp, p.turn, p.mark,` +
    ` COALESCE(p.j, ROW_NUMBER() OVER u - 1) AS j, COALESCE(p.head_rank, first_value(p.rank) OVER u) AS head_rank,` +
    ` COALESCE(p.head_at, first_value(p.created_at) OVER u) AS head_at, COALESCE(p.head_id, first_value(p.id) OVER u) AS head_id` +
    ` FROM picked AS p WINDOW u AS (PARTITION BY p.grp IS NULL ORDER BY p.rank DESC, p.created_at, p.id)),` +
    ` ranked AS (SELECT n.*, ROW_NUMBER() OVER (PARTITION BY n.agent ORDER BY ${fair('n')}) AS nth FROM numbered AS n),` +
    ` taken AS MATERIALIZED (SELECT r.id, r.grp, r.agent, ROW_NUMBER() OVER (ORDER BY ${fair('r')}) AS pos` +
    ` FROM ranked AS r LEFT JOIN room AS q ON q.key = r.agent WHERE q.key IS NULL OR r.nth <= q.left_` +
    ` ORDER BY ${fair('r')} LIMIT $3),` +
    // The groups served, last in the serve order, in the order they were (the tasks without a key
    // only while tasks with a key wait: $6).
    ` served AS (INSERT INTO ${marks} AS m (key, served) SELECT COALESCE(p.grp, ''), lm.last + max(p.pos)` +
    ` FROM taken AS p CROSS JOIN (SELECT COALESCE(max(m.served), 0) AS last FROM ${marks} AS m) AS lm` +
    ` WHERE $6::boolean GROUP BY p.grp, lm.last ON CONFLICT (key) DO UPDATE SET served = EXCLUDED.served),` +
    ` upd AS (UPDATE ${tasks} AS t SET lease_owner = $1 FROM taken AS p` +
    ` WHERE t.id = p.id AND t.lease_owner IS NULL RETURNING ${returning}),` +
    // Gates whose rate room this claim used up: the wait until one more start after the gate's
    // pending tasks and this claim's, and after this claim's alone (ClaimedTasks.rateWaitEarliestMs).
    ` used AS (SELECT p.agent, p.grp, count(*) AS n FROM taken AS p GROUP BY 1, 2),` +
    ` waits AS (SELECT ${gateWaitSql(schema, { gate: `'agent:' || q.config`, limits: 'q.limits', pending: 'q.pending', at: rateAt }, 'q.pending + u.n + 1')} AS ms, ${gateWaitSql(schema, { gate: `'agent:' || q.config`, limits: 'q.limits', pending: 'q.pending', at: rateAt }, 'u.n + 1')} AS earliest` +
    ` FROM room AS q CROSS JOIN rc CROSS JOIN LATERAL (SELECT COALESCE(sum(x.n), 0) AS n FROM used AS x WHERE x.agent = q.key) AS u` +
    ` WHERE q.limits IS NOT NULL AND q.rate_left - u.n <= 0` +
    ` UNION ALL SELECT ${gateWaitSql(schema, keyGate('r'), 'r.pending + u.n + 1')}, ${gateWaitSql(schema, keyGate('r'), 'u.n + 1')} FROM key_rate AS r CROSS JOIN rc` +
    ` CROSS JOIN LATERAL (SELECT COALESCE(sum(x.n), 0) AS n FROM used AS x WHERE x.grp = r.key) AS u` +
    ` WHERE r.limits IS NOT NULL AND r.rate_left - u.n <= 0)` +
    ` SELECT upd.*, NULL::float8, NULL::float8 FROM upd UNION ALL SELECT ${taskSpec.fields.map(() => 'NULL').join(', ')},` +
    ` (SELECT min(w.ms) FROM waits AS w)::float8, (SELECT min(w.earliest) FROM waits AS w)::float8`;
  const pruneMarks = pruneFairMarksSql({
    tasks,
    workflows,
    marks,
    isObject: (column) => `json_typeof(${column}) = 'object'`,
    planKey: (column) => `(${column}->>'concurrencyKey')`,
    isTrue: (column) => column,
    now: '$1',
    markKey: (column) => `(${column} COLLATE "C")`,
    maxMark: '9223372036854775807',
  });
  return { releaseGone, limitedKeys, lockAgentKeys, claim, pruneMarks };
}

/** The tasks of the claim's rows, in claim order, with the rate wait hints of its last row. */
export function claimedRows(rows: readonly SqlValues[]): ClaimedTasks {
  let wait: { ms: number; earliestMs: number } | undefined;
  const tasks: Task[] = [];
  for (const row of rows) {
    if (row[0] === null) {
      const [ms, earliest] = row.slice(-2);
      if (ms !== null && ms !== undefined) wait = { ms: Number(ms), earliestMs: Number(earliest) };
    } else tasks.push(decodeTask(row.slice(0, -2)));
  }
  return claimed(tasks.sort(byClaimOrder), wait);
}
