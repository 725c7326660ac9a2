/**
 * The statements of workflows handed to workers as a whole on PostgreSQL (see
 * src/repositories/workflow-runs.ts for the rule; migration 8 made the table).
 */
export interface PostgresWorkflowRunStatements {
  /** $1 workflow id, $2 plan (JSON text), $3 now. */
  submit: string;
  /** $1 engine id, $2 limit, $3 ids it runs already (text[]). Returns the rows it took. */
  claim: string;
  /** $1 workflow id, $2 engine id, $3 ended at (null: not ended). */
  release: string;
  list: string;
  /** $1 workflow ids (text[], sorted): their coordinators, the rows locked FOR SHARE (a coordinated commit's fence). */
  lookup: string;
}

/** The workflow-run statements of a schema (`schema` quoted already). */
export function postgresWorkflowRunStatements(schema: string): PostgresWorkflowRunStatements {
  const runs = `${schema}.workflow_runs`;
  const columns = 'r.workflow_id, r.plan::text AS plan, r.coordinator, r.submitted_at, r.ended_at';
  const now = `round(extract(epoch FROM clock_timestamp()) * 1000)::float8`;
  const submit =
    `INSERT INTO ${runs} AS r (workflow_id, plan, coordinator, submitted_at, ended_at)` +
    ` VALUES ($1, $2::json, NULL, $3, NULL)` +
    ` ON CONFLICT (workflow_id) DO UPDATE SET plan = excluded.plan, ended_at = NULL`;
  // A coordinator is gone when its last beat is a stop or expired by the database's clock; one
  // that never beat keeps the workflow until it lets it go.
  const claim =
    `UPDATE ${runs} AS r SET coordinator = $1 FROM (SELECT o.workflow_id, o.coordinator AS taken_from FROM ${runs} AS o` +
    ` JOIN ${schema}.workflows AS w ON w.id = o.workflow_id` +
    ` WHERE o.ended_at IS NULL AND NOT w.paused AND NOT w.cancelled AND w.status <> 'COMPLETED'` +
    ` AND o.workflow_id <> ALL ($3::text[])` +
    ` AND (o.coordinator IS NULL OR o.coordinator = $1 OR EXISTS (SELECT 1 FROM ${schema}.engine_beats AS b` +
    ` WHERE b.engine_id = o.coordinator AND (b.stopped OR b.expires_at <= ${now})))` +
    ` ORDER BY o.submitted_at, o.workflow_id LIMIT $2 FOR UPDATE OF o SKIP LOCKED) AS p` +
    ` WHERE r.workflow_id = p.workflow_id RETURNING ${columns}, nullif(p.taken_from, $1) AS taken_from`;
  const release =
    `UPDATE ${runs} SET coordinator = NULL, ended_at = coalesce($3::float8, ended_at)` +
    ` WHERE workflow_id = $1 AND coordinator = $2`;
  const list = `SELECT ${columns} FROM ${runs} AS r ORDER BY r.submitted_at, r.workflow_id`;
  const lookup =
    `SELECT workflow_id, coordinator FROM ${runs} WHERE workflow_id = ANY ($1::text[])` +
    ` ORDER BY workflow_id FOR SHARE`;
  return { submit, claim, release, list, lookup };
}
