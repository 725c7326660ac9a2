/**
 * `Store.heldLoad` on SQLite: the held unfinished tasks with a plan, counted per agent key and
 * holder, leaving out holders that are gone by the claim's rule (their last beat a stop or expired by
 * SQLite's clock; never having beaten, their lease expired by `?`, the reader's clock). It reads the
 * unfinished tasks through the `status` index.
 */
export const HELD_LOAD_SQL =
  `SELECT json_extract(t."execution", '$.agentKey') AS "agent_key", t."lease_owner" AS "holder",` +
  ` SUM(t."status" = 'RUNNING') AS "running", SUM(t."status" = 'PENDING') AS "pending",` +
  ` SUM(t."status" = 'PAUSED') AS "paused"` +
  ` FROM "tasks" AS t LEFT JOIN "engine_beats" AS b ON b."engine_id" = t."lease_owner"` +
  ` WHERE t."status" IN ('PENDING', 'RUNNING', 'PAUSED') AND t."lease_owner" IS NOT NULL` +
  ` AND json_type(t."execution", '$.agentKey') = 'text'` +
  ` AND (CASE WHEN b."engine_id" IS NULL THEN t."lease_expires_at" IS NULL OR t."lease_expires_at" > ?` +
  ` ELSE b."stopped" = 0 AND b."expires_at" > ROUND(unixepoch('subsec') * 1000) END)` +
  ` GROUP BY 1, 2`;
