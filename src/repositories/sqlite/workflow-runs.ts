/**
 * The statements of workflows handed to workers as a whole on SQLite (see
 * src/repositories/workflow-runs.ts for the rule; migration 7 made the table). Named parameters;
 * each runs in the store's write transaction, which serialises claims.
 */
const columns = 'workflow_id, plan, coordinator, submitted_at, ended_at';
const nowMs = `ROUND(unixepoch('subsec') * 1000)`;

export const sqliteWorkflowRunStatements = {
  /** :workflowId, :plan (JSON text), :now. */
  submit:
    `INSERT INTO workflow_runs (${columns}) VALUES (:workflowId, :plan, NULL, :now, NULL)` +
    ` ON CONFLICT (workflow_id) DO UPDATE SET plan = excluded.plan, ended_at = NULL`,
  /**
   * :engineId, :limit, :running (JSON array of ids): the runs a claim takes, with their coordinator
   * before it (`take` then takes them, in the same write transaction).
   */
  claimable:
    `SELECT o.workflow_id, o.coordinator` +
    ` FROM workflow_runs AS o JOIN workflows AS w ON w.id = o.workflow_id` +
    ` WHERE o.ended_at IS NULL AND w.paused = 0 AND w.cancelled = 0 AND w.status <> 'COMPLETED'` +
    ` AND o.workflow_id NOT IN (SELECT value FROM json_each(:running))` +
    ` AND (o.coordinator IS NULL OR o.coordinator = :engineId OR EXISTS (SELECT 1 FROM engine_beats AS b` +
    ` WHERE b.engine_id = o.coordinator AND (b.stopped = 1 OR b.expires_at <= ${nowMs})))` +
    ` ORDER BY o.submitted_at, o.workflow_id LIMIT :limit`,
  /** :engineId, :ids (JSON array). Returns the rows it took. */
  take:
    `UPDATE workflow_runs SET coordinator = :engineId` +
    ` WHERE workflow_id IN (SELECT value FROM json_each(:ids)) RETURNING ${columns}`,
  /** :workflowId, :engineId, :endedAt (null: not ended). */
  release:
    `UPDATE workflow_runs SET coordinator = NULL, ended_at = coalesce(:endedAt, ended_at)` +
    ` WHERE workflow_id = :workflowId AND coordinator = :engineId`,
  list: `SELECT ${columns} FROM workflow_runs ORDER BY submitted_at, workflow_id`,
  /** :ids (JSON array): the coordinators of these runs, read by a coordinated commit's fence. */
  lookup:
    `SELECT workflow_id, coordinator FROM workflow_runs` +
    ` WHERE workflow_id IN (SELECT value FROM json_each(:ids))`,
} as const;
