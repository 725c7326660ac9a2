import type { TaskStatus } from '../../../machines/status.js';
import type { TaskKeyHolder } from '../../domain/task-keys.js';
import type { WorkflowKeyHolder } from '../../domain/workflow-keys.js';

/**
 * The statements of `Store.takeTaskKey` for the SQL stores (table `task_keys`: one row per debounce or
 * singleton key, the task holding it; a workflow's key, namespaced `workflow:`, names the workflow
 * holding it in `task_id`). The stores run them in one transaction around `decideTaskKey` (or
 * `decideWorkflowKey`); PostgreSQL locks the key's row first (`lock`), SQLite's write transaction is
 * exclusive already.
 */
export interface TaskKeyStatements {
  /** Inserts the key's row for the asking task where there is none ($1 key, $2 task, $3 since). */
  claim: string;
  /**
   * Locks the key's row ($1 key) where the store needs it (PostgreSQL), else null. A statement of
   * its own, before `holder`: a `SELECT ... FOR UPDATE` with a join that waited for another
   * transaction's lock re-reads the locked row but not the joined one, so it would see the new
   * holder without its task (read as no holder). `holder` after the lock reads both afresh.
   */
  lock: string | null;
  /** The key's holder with its task's row ($1 key). */
  holder: string;
  /** A workflow key's holder with its workflow's row and whether a task of it started ($1 key). */
  workflowHolder: string;
  /** Makes the asking task the holder ($1 key, $2 task, $3 since). */
  save: string;
  /** The key's holder's id ($1 key). */
  read: string;
}

export function taskKeyStatements(
  keys: string,
  tasks: string,
  workflows: string,
  p: (n: number) => string,
  lock: boolean,
): TaskKeyStatements {
  // Started: a task of the workflow has started an attempt (src/domain/workflow-keys.ts, hasStarted).
  const started =
    `EXISTS (SELECT 1 FROM ${tasks} AS t WHERE t.workflow_id = k.task_id` +
    ` AND (t.attempts > 0 OR t.status = 'RUNNING'))`;
  return {
    claim: `INSERT INTO ${keys} (key, task_id, since) VALUES (${p(1)}, ${p(2)}, ${p(3)}) ON CONFLICT (key) DO NOTHING RETURNING key`,
    lock: lock ? `SELECT key FROM ${keys} WHERE key = ${p(1)} FOR UPDATE` : null,
    holder:
      `SELECT k.task_id, k.since, t.status, t.attempts, t.lease_owner FROM ${keys} AS k` +
      ` LEFT JOIN ${tasks} AS t ON t.id = k.task_id WHERE k.key = ${p(1)}`,
    workflowHolder:
      `SELECT k.task_id, k.since, w.status, w.cancelled, ${started} AS started FROM ${keys} AS k` +
      ` LEFT JOIN ${workflows} AS w ON w.id = k.task_id WHERE k.key = ${p(1)}`,
    read: `SELECT task_id FROM ${keys} WHERE key = ${p(1)}`,
    save: `UPDATE ${keys} SET task_id = ${p(2)}, since = ${p(3)} WHERE key = ${p(1)}`,
  };
}

/** A row of the `holder` statement, as a holder for `decideTaskKey` (undefined: no row). */
export function holderOf(row: Record<string, unknown> | undefined): TaskKeyHolder | null {
  if (row === undefined) return null;
  return {
    taskId: String(row.task_id),
    since: Number(row.since),
    status: (row.status ?? null) as TaskStatus | null,
    attempts: Number(row.attempts ?? 0),
    leaseOwner: (row.lease_owner ?? null) as string | null,
  };
}

/** A row of the `workflowHolder` statement, as a holder for `decideWorkflowKey` (undefined: no row). */
export function workflowHolderOf(row: Record<string, unknown> | undefined): WorkflowKeyHolder | null {
  if (row === undefined) return null;
  return {
    workflowId: String(row.task_id),
    since: Number(row.since),
    status: (row.status ?? null) as WorkflowKeyHolder['status'],
    // SQLite gives 0 or 1, PostgreSQL a boolean.
    cancelled: Boolean(Number(row.cancelled ?? 0)),
    started: Boolean(Number(row.started)),
  };
}
