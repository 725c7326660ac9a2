import type { TaskStatus } from '../../machines/status.js';
import type { AttemptError } from './task.js';

export interface ExecutionResult {
  executionId: string;
  taskId: string;
  agentId: string;
  workflowId: string | null;
  /** COMPLETED, FAILED or CANCELLED. */
  status: TaskStatus;
  output: unknown;
  /** The last attempt's error, when the execution did not complete. */
  error: AttemptError | null;
  /** Every failed attempt's error, oldest first. */
  errors: AttemptError[];
  attempts: number;
  startedAt: number;
  finishedAt: number;
  durationMs: number;
  metadata: Record<string, unknown>;
}
