/** Status of a workflow; each value is a top-level state of the workflow machine. */
export const WorkflowStatus = {
  PENDING: 'PENDING',
  RUNNING: 'RUNNING',
  COMPLETED: 'COMPLETED',
  FAILED: 'FAILED',
  PAUSED: 'PAUSED',
  CANCELLED: 'CANCELLED',
} as const;
export type WorkflowStatus = (typeof WorkflowStatus)[keyof typeof WorkflowStatus];

/**
 * Status of a task; each value is a top-level state of the task machine. A task has one more than
 * a workflow: SKIPPED, a node of a workflow graph whose condition was false or whose dependency was
 * skipped (see docs/workflows.md). It counts as done.
 */
export const TaskStatus = { ...WorkflowStatus, SKIPPED: 'SKIPPED' } as const;
export type TaskStatus = (typeof TaskStatus)[keyof typeof TaskStatus];

export const TASK_STATUSES: readonly TaskStatus[] = Object.values(TaskStatus);
export const WORKFLOW_STATUSES: readonly WorkflowStatus[] = Object.values(WorkflowStatus);
export const TERMINAL_TASK_STATUSES: readonly TaskStatus[] = ['COMPLETED', 'FAILED', 'CANCELLED', 'SKIPPED'];

/** Statuses a task ends its work in for good unless retried: COMPLETED and SKIPPED count as done. */
export function isDoneStatus(status: TaskStatus): boolean {
  return status === 'COMPLETED' || status === 'SKIPPED';
}

export function isTerminalStatus(status: TaskStatus): boolean {
  return TERMINAL_TASK_STATUSES.includes(status);
}
