import { agentGate, keyGate, type RateBucketState, type RateLimit } from '../../domain/rate-limit.js';
import type { Task } from '../../domain/task.js';
import { keyLimit } from '../../engine/key-queue.js';
import { taskSpec } from '../entities.js';
import { agentRooms, decideClaim, gateRooms } from '../claim-decision.js';
import { pruneFairMarksSql } from '../fair-marks-prune.js';
import { byClaimOrder, claimed, type ClaimedTasks, type ClaimRunnableOptions } from '../claim-runnable.js';
import type { ClaimCandidate } from '../fair-order.js';
import { sqliteClaimStatements } from '../sql/claim-statements.js';
import type { ControlStatement } from '../sql/control-statements.js';
import { decodeTask, type SqlValues } from '../sql/rows.js';
import { quote } from '../sql/statements.js';
import type { SqliteConnection } from './sqlite-connection.js';

/** The stored agent configs, and the rate limits recorded for agents defined in code (no concurrency limit). */
const configsSql =
  `SELECT "id", "max_concurrency", "rate_limits" FROM "agent_configs" UNION ALL SELECT g."agent_key",` +
  ` ${Number.MAX_SAFE_INTEGER}, g."rate_limits" FROM "agent_rate_limits" AS g` +
  ` WHERE g."agent_key" NOT IN (SELECT "id" FROM "agent_configs")`;
const saveRateLimitsSql =
  `INSERT INTO "agent_rate_limits" ("agent_key", "rate_limits", "updated_at") VALUES (?, ?, ?)` +
  ` ON CONFLICT ("agent_key") DO UPDATE SET "rate_limits" = excluded."rate_limits", "updated_at" = excluded."updated_at"`;
const deleteRateLimitsSql = `DELETE FROM "agent_rate_limits" WHERE "agent_key" = ?`;
const bucketSql = `SELECT "tokens", "updated_at" FROM "rate_buckets" WHERE "key" = ?`;
const markSql = `SELECT "served" FROM "fair_marks" WHERE "key" = ?`;
const lastMarkSql = `SELECT COALESCE(MAX("served"), 0) FROM "fair_marks"`;
const saveMarkSql =
  `INSERT INTO "fair_marks" ("key", "served") VALUES (?, ?)` +
  ` ON CONFLICT ("key") DO UPDATE SET "served" = excluded."served"`;
const nowSql = `SELECT ROUND(unixepoch('subsec') * 1000)`;
// SQLite's RETURNING names the updated table's columns unqualified.
const takeSql =
  `UPDATE "tasks" SET "lease_owner" = ? WHERE "id" IN (SELECT "value" FROM json_each(?))` +
  ` RETURNING ${taskSpec.fields.map((f) => quote(f.column)).join(', ')}`;

type CandidateRow = [string, number, number, string, string | null, number, string | null];
type HeldRow = [string | null, string | null, number, number, number | null];

const add = (counts: Map<string, number>, key: string, n: number): void => {
  counts.set(key, (counts.get(key) ?? 0) + n);
};

/** JSON text of rate limits, or undefined for none. */
const limitsOf = (text: string | null): RateLimit[] | undefined =>
  text === null ? undefined : ((JSON.parse(text) as RateLimit[] | null) ?? undefined);

/**
 * SQLite's `Store.claimRunnable` (see `ClaimRunnableOptions`): in one write transaction, reads the
 * runnable tasks and the held counts (sql/claim-statements.ts), the agent configs, rate buckets and
 * serve marks it needs, decides as the memory store does (`decideClaim`), and writes the holder of
 * the tasks taken and the marks of the groups served.
 */
export function claimOnSqlite(connection: SqliteConnection, options: ClaimRunnableOptions): ClaimedTasks {
  const { engineId, limit, now } = options;
  if (limit <= 0) return [];
  const statements = sqliteClaimStatements();
  return connection.write(() => {
    const args = { engineId, now };
    const rows = <A, R = unknown[]>(statement: ControlStatement<A>, a: A): R[] =>
      connection.arrayStatement(statement.text).all(...statement.bind(a)) as R[];
    const held = new Map<string, number>();
    const heldByKey = new Map<string, number>();
    const heldLimit = new Map<string, number>();
    const pending = new Map<string, number>();
    let counted = false;
    /** Counts the held tasks (a pass over the unfinished ones): only when configs or keys need them. */
    const countHeld = () => {
      if (counted) return;
      counted = true;
      for (const [agent, key, count, due, least] of rows<typeof args, HeldRow>(statements.held, args)) {
        if (agent !== null) {
          add(held, agent, count);
          add(pending, agentGate(agent), due);
        }
        if (key !== null) {
          add(heldByKey, key, count);
          add(pending, keyGate(key), due);
          const limit = keyLimit(heldLimit.get(key) ?? 0, least ?? 0);
          if (limit > 0) heldLimit.set(key, limit);
        }
      }
    };
    const bucket = (id: string): RateBucketState | undefined => {
      const row = connection.arrayStatement(bucketSql).get(id) as [number, number] | undefined;
      return row === undefined ? undefined : { tokens: row[0], updatedAt: row[1] };
    };
    const ratesAt = options.ratesAt ?? (connection.arrayStatement(nowSql).get() as [number])[0];
    const configs = (
      connection.arrayStatement(configsSql).all() as Array<[string, number, string | null]>
    ).map(([id, maxConcurrency, rates]) => ({ id, maxConcurrency, rateLimits: limitsOf(rates) }));
    if (configs.length > 0) countHeld();
    const rooms = agentRooms(configs, held, gateRooms(bucket, ratesAt, pending).room);
    const skipAgentKeys = options.skipAgentKeys ?? [];
    const fullAgentKeys = [...rooms].filter(([, left]) => left <= 0).map(([id]) => id);
    const found = rows(statements.candidates, {
      ...args,
      limit,
      skipAgentKeys,
      fullAgentKeys,
    }) as CandidateRow[];
    const candidates: ClaimCandidate[] = found.map(
      ([id, rank, createdAt, agentKey, group, keyConcurrency, rates]) => ({
        id,
        rank,
        createdAt,
        agentKey,
        group,
        keyConcurrency,
        keyRateLimits: limitsOf(rates),
      }),
    );
    if (candidates.length === 0 && fullAgentKeys.length === 0) return [];
    if (candidates.some((c) => c.group !== null)) countHeld();
    // Candidates leave out skipped and full agents: ask the store whether a task with a key waits there.
    const keyedWaiting =
      candidates.some((c) => c.group !== null) ||
      ((skipAgentKeys.length > 0 || fullAgentKeys.length > 0) &&
        rows(statements.keyedWaiting, args).length > 0);
    const agentKeys = new Set(candidates.map((c) => c.agentKey));
    const decision = decideClaim({
      candidates,
      keyedWaiting,
      limit,
      // Full configs too: their tasks are no candidates, but one may wait for a rate limit's token.
      configs: configs.filter((config) => agentKeys.has(config.id) || fullAgentKeys.includes(config.id)),
      held,
      heldByKey,
      heldLimit,
      pending,
      bucket,
      ratesAt,
      mark: (group) => (connection.arrayStatement(markSql).get(group) as [number] | undefined)?.[0] ?? 0,
      lastMark: () => (connection.arrayStatement(lastMarkSql).get() as [number])[0],
    });
    const ids = decision.taken.map((c) => c.id);
    const taken: Task[] =
      ids.length === 0
        ? []
        : (connection.arrayStatement(takeSql).all(engineId, JSON.stringify(ids)) as SqlValues[]).map(
            decodeTask,
          );
    const save = connection.statement(saveMarkSql);
    for (const [group, mark] of decision.marks) save.run(group, mark);
    return claimed(taken.sort(byClaimOrder), decision.rateWait);
  });
}

const pruneMarksSql = pruneFairMarksSql({
  tasks: '"tasks"',
  workflows: '"workflows"',
  marks: '"fair_marks"',
  isObject: (column) => `json_type(${column}) = 'object'`,
  planKey: (column) => `json_extract(${column}, '$.concurrencyKey')`,
  isTrue: (column) => `${column} = 1`,
  now: '?',
  markKey: (column) => column,
  maxMark: '9223372036854775807',
});

/** SQLite's `Store.pruneFairMarks` (src/repositories/fair-marks-prune.ts), in one write transaction. */
export function pruneFairMarksOnSqlite(connection: SqliteConnection, now: number): number {
  return connection.write(() => connection.statement(pruneMarksSql).run(now).changes);
}

/** SQLite's `Store.saveAgentRateLimits`. */
export function saveAgentRateLimitsOnSqlite(
  connection: SqliteConnection,
  agentKey: string,
  rateLimits: readonly RateLimit[],
  now: number,
): void {
  connection.write(() => {
    if (rateLimits.length === 0) connection.statement(deleteRateLimitsSql).run(agentKey);
    else connection.statement(saveRateLimitsSql).run(agentKey, JSON.stringify(rateLimits), now);
  });
}
