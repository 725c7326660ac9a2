import { toHeldLoad, type HeldLoad, type HeldLoadOptions } from '../held-load.js';
import type { PostgresConnection } from './postgres-connection.js';

/**
 * `Store.heldLoad` on PostgreSQL (`schema` quoted already): the held unfinished tasks with a plan,
 * counted per agent key and holder, leaving out holders that are gone by the claim's rule (their last
 * beat a stop or expired by the database's clock; never having beaten, their lease expired by $1,
 * the reader's clock). Its WHERE is the predicate of migration 7's partial index `tasks_held`, so it
 * reads the held tasks through that index, never the whole table; beats are joined per task (one
 * row per engine, by primary key).
 */
export function heldLoadStatement(schema: string): string {
  const now = `round(extract(epoch FROM clock_timestamp()) * 1000)::float8`;
  return (
    `SELECT t.execution->>'agentKey' AS agent_key, t.lease_owner AS holder,` +
    ` count(*) FILTER (WHERE t.status = 'RUNNING')::int AS running,` +
    ` count(*) FILTER (WHERE t.status = 'PENDING')::int AS pending,` +
    ` count(*) FILTER (WHERE t.status = 'PAUSED')::int AS paused` +
    ` FROM ${schema}.tasks AS t LEFT JOIN ${schema}.engine_beats AS b ON b.engine_id = t.lease_owner` +
    ` WHERE t.lease_owner IS NOT NULL AND t.status IN ('PENDING', 'RUNNING', 'PAUSED')` +
    ` AND t.execution->>'agentKey' IS NOT NULL` +
    ` AND (CASE WHEN b.engine_id IS NULL THEN t.lease_expires_at IS NULL OR t.lease_expires_at > $1` +
    ` ELSE NOT b.stopped AND b.expires_at > ${now} END)` +
    ` GROUP BY 1, 2`
  );
}

/** Runs {@link heldLoadStatement} on `connection` (one statement, no transaction). */
export async function readHeldLoad(
  connection: Pick<PostgresConnection, 'query'>,
  statement: string,
  options: HeldLoadOptions,
): Promise<HeldLoad[]> {
  const { rows } = await connection.query(statement, [options.now]);
  return toHeldLoad(rows);
}
