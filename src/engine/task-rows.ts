import type { TaskStatus } from '../../machines/status.js';
import type { ExecutionResult } from '../domain/execution-result.js';
import type { AttemptError, ExecutionPlan, Task } from '../domain/task.js';
import type { Execution } from './execution.js';

/**
 * The bookkeeping of a task row as its execution moves. The status always comes from the task
 * actor; these functions only copy it and the fields that go with it.
 */
export function planOf(exec: Execution): ExecutionPlan {
  const { policy } = exec;
  return {
    agentKey: exec.agentKey,
    attemptLimit: exec.attemptLimit,
    maxAttempts: policy.maxAttempts,
    initialDelayMs: policy.initialDelayMs,
    backoffFactor: policy.backoffFactor,
    maxDelayMs: policy.maxDelayMs,
    jitter: policy.jitter,
    nonRetryableErrors: [...policy.nonRetryableErrors],
    maxInterruptions: policy.maxInterruptions,
    timeoutMs: exec.timeoutMs,
    priority: exec.priority,
    metadata: exec.metadata,
  };
}

export function markRunning(
  task: Task,
  attempts: number,
  agentKey: string,
  now: number,
  leaseOwner: string,
  leaseMs: number,
): void {
  task.status = 'RUNNING';
  task.attempts = attempts;
  task.agentId = agentKey;
  task.startedAt ??= now;
  task.updatedAt = now;
  task.runAfter = null;
  task.leaseOwner = leaseOwner;
  task.leaseExpiresAt = now + leaseMs;
}

/**
 * After a failed or interrupted attempt: waiting for `runAfter` (still held by the engine, with no
 * attempt running), or finished.
 */
export function markAfterAttempt(task: Task, status: TaskStatus, now: number, runAfter: number): void {
  if (status === 'PENDING') {
    task.status = status;
    task.updatedAt = now;
    task.runAfter = runAfter;
    task.leaseExpiresAt = null;
  } else {
    markFinished(task, status, now);
  }
}

export function markFinished(task: Task, status: TaskStatus, now: number): void {
  task.status = status;
  task.updatedAt = now;
  task.finishedAt = now;
  task.runAfter = null;
  task.execution = null;
  task.leaseOwner = null;
  task.leaseExpiresAt = null;
}

export function resultOf(exec: Execution, error: AttemptError | null, now: number): ExecutionResult {
  const task = exec.task;
  const finishedAt = task.finishedAt ?? now;
  return {
    executionId: exec.id,
    taskId: task.id,
    agentId: exec.agent.id,
    workflowId: exec.workflowId,
    status: task.status,
    output: task.status === 'COMPLETED' ? task.outputData : null,
    error,
    errors: task.errors,
    attempts: task.attempts,
    startedAt: exec.startedAt,
    finishedAt,
    durationMs: finishedAt - exec.startedAt,
    metadata: exec.lastMetadata ?? exec.metadata,
  };
}
