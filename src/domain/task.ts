import type { TaskStatus } from '../../machines/status.js';

/** One failed attempt, as recorded in a task's error history. */
export interface AttemptError {
  name: string;
  message: string;
  stack?: string;
  code?: string;
  /** The attempt that failed, counting from 1. */
  attempt: number;
  /** When the attempt failed, in epoch milliseconds of the engine's clock. */
  at: number;
  /** Whether the retry policy allowed another attempt after this error. */
  retryable: boolean;
}

export interface Task {
  id: string;
  name: string;
  description: string;
  inputData: Record<string, unknown>;
  outputData: unknown;
  /** Matched against agent capabilities by the CAPABILITY_MATCH strategy. */
  tags: string[];
  /** Higher runs first among queued work; default 0. */
  priority: number;
  status: TaskStatus;
  /** Attempts started so far. */
  attempts: number;
  errors: AttemptError[];
  workflowId: string | null;
  /** The agent that ran (or runs) the latest attempt. */
  agentId: string | null;
  idempotencyKey: string | null;
  metadata: Record<string, unknown>;
  createdAt: number;
  updatedAt: number;
  startedAt: number | null;
  finishedAt: number | null;
}

export interface CreateTaskInput {
  name: string;
  description?: string;
  inputData?: Record<string, unknown>;
  tags?: string[];
  priority?: number;
  metadata?: Record<string, unknown>;
  workflowId?: string;
  /** A second `createTask` with the same key returns the first task. */
  idempotencyKey?: string;
}
