/** Status of a task; each value is a top-level state of the task machine. */
export const TaskStatus = {
  PENDING: 'PENDING',
  RUNNING: 'RUNNING',
  COMPLETED: 'COMPLETED',
  FAILED: 'FAILED',
  PAUSED: 'PAUSED',
  CANCELLED: 'CANCELLED',
} as const;
export type TaskStatus = (typeof TaskStatus)[keyof typeof TaskStatus];

/** Status of a workflow; each value is a top-level state of the workflow machine. */
export const WorkflowStatus = TaskStatus;
export type WorkflowStatus = TaskStatus;

export const TASK_STATUSES: readonly TaskStatus[] = Object.values(TaskStatus);
export const TERMINAL_TASK_STATUSES: readonly TaskStatus[] = ['COMPLETED', 'FAILED', 'CANCELLED'];

export function isTerminalStatus(status: TaskStatus): boolean {
  return TERMINAL_TASK_STATUSES.includes(status);
}
