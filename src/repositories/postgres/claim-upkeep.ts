import type { RateLimit } from '../../domain/rate-limit.js';
import type { PostgresConnection } from './postgres-connection.js';

/**
 * What PostgreSQL keeps for its claims besides the claim itself: the rate limits workers record for
 * agents defined in code (`Store.saveAgentRateLimits`, migration 18), and the pruning of the serve
 * marks of fairness keys (`Store.pruneFairMarks`, src/repositories/fair-marks-prune.ts).
 */

/** Upserts an agent key's rate limits (`schema` quoted already); an empty list deletes them. */
export async function saveAgentRateLimits(
  connection: PostgresConnection,
  schema: string,
  agentKey: string,
  rateLimits: readonly RateLimit[],
  now: number,
): Promise<void> {
  const table = `${schema}.agent_rate_limits`;
  if (rateLimits.length === 0) {
    await connection.query(`DELETE FROM ${table} WHERE agent_key = $1`, [agentKey]);
    return;
  }
  await connection.query(
    `INSERT INTO ${table} (agent_key, rate_limits, updated_at) VALUES ($1, $2, $3)` +
      ' ON CONFLICT (agent_key) DO UPDATE SET rate_limits = EXCLUDED.rate_limits, updated_at = EXCLUDED.updated_at',
    [agentKey, JSON.stringify(rateLimits), now],
  );
}

/**
 * Runs the prune statement of claims.ts ($1 now) for the schema named `schema` (unquoted, as the
 * lock names use it): one engine at a time (an advisory lock taken without waiting; the others
 * leave it to that one), and under the fairness keys' lock of claims, which write the marks.
 * Resolves to the marks deleted.
 */
export function pruneFairMarks(
  connection: PostgresConnection,
  statement: string,
  schema: string,
  now: number,
): Promise<number> {
  return connection.transaction(async (client) => {
    const { rows } = await client.query('SELECT pg_try_advisory_xact_lock(hashtext($1)) AS locked', [
      `symphony fair marks ${schema}`,
    ]);
    if (!(rows[0] as { locked: boolean }).locked) return 0;
    // The lock name of claims.ts `lockAgentKeys` for the fairness keys (its prefix, then ' fairness keys').
    await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [
      `symphony agent ${schema}  fairness keys`,
    ]);
    return (await client.query(statement, [now])).rowCount ?? 0;
  });
}
