import type { TaskStatus, WorkflowStatus } from '../../machines/status.js';
import { decideKey, type TaskKeyMode, type TaskKeyOutcome } from './task-keys.js';

/**
 * Debounce and singleton keys held by workflows (docs/policies.md "Debounce and singleton", "In a
 * workflow"): the law of task keys (`decideKey`), with a workflow as the holder. The store keeps
 * them beside task keys under their own namespace (`WORKFLOW_KEY_PREFIX`), so a task key and a
 * workflow key never meet.
 */

/** What the store puts before a workflow's key (`debounce:<key>` or `singleton:<key>`). */
export const WORKFLOW_KEY_PREFIX = 'workflow:';

export interface WorkflowKeyRequest {
  /** The key, namespaced by the caller (`debounce:` or `singleton:`); the store adds its prefix. */
  key: string;
  workflowId: string;
  mode: TaskKeyMode;
  /** Epoch ms of the engine's clock. */
  at: number;
}

/** The stored holder of a workflow key, with its workflow as stored (null status: it is gone). */
export interface WorkflowKeyHolder {
  workflowId: string;
  /** When the holder's run of replacements began (a debounce's burst). */
  since: number;
  status: WorkflowStatus | null;
  cancelled: boolean;
  /** Whether a task of the workflow has started an attempt (see `hasStarted`). */
  started: boolean;
}

const ENDED: ReadonlySet<WorkflowStatus | null> = new Set<WorkflowStatus | null>([
  'COMPLETED',
  'FAILED',
  'CANCELLED',
  null,
]);

/** Whether a workflow of these tasks has started: one of them has started an attempt. */
export function hasStarted(tasks: Iterable<{ status: TaskStatus; attempts: number }>): boolean {
  for (const task of tasks) if (task.attempts > 0 || task.status === 'RUNNING') return true;
  return false;
}

/**
 * What a workflow's key request does, given the key's stored holder (null: none): a holder that
 * ended (or was cancelled) leaves the key free; one none of whose tasks started is queued.
 */
export function decideWorkflowKey(
  holder: WorkflowKeyHolder | null,
  request: WorkflowKeyRequest,
): TaskKeyOutcome {
  const state =
    holder === null
      ? null
      : {
          id: holder.workflowId,
          since: holder.since,
          state:
            holder.cancelled || ENDED.has(holder.status)
              ? ('finished' as const)
              : holder.started
                ? ('started' as const)
                : ('queued' as const),
        };
  return decideKey(state, request.workflowId, request.mode, request.at);
}
