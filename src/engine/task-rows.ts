import type { ExecutionResult } from '../domain/execution-result.js';
import type { AttemptError, ExecutionPlan } from '../domain/task.js';
import type { Execution } from './execution.js';

/** What an execution records in its task row (its plan) and what its caller gets back (its result). */
export function planOf(
  exec: Pick<
    Execution,
    | 'agentKey'
    | 'attemptLimit'
    | 'policy'
    | 'timeoutMs'
    | 'priority'
    | 'rank'
    | 'concurrencyKey'
    | 'keyConcurrency'
    | 'metadata'
  > &
    Partial<Pick<Execution, 'deadline' | 'closeBy' | 'heartbeatTimeoutMs' | 'keyRateLimits'>>,
): ExecutionPlan {
  const { policy } = exec;
  const plan: ExecutionPlan = {
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
    rank: exec.rank,
    metadata: exec.metadata,
  };
  // Written only when set: plans without time limits stay as they were.
  if (exec.deadline != null) plan.deadline = exec.deadline;
  if (exec.closeBy != null) plan.closeBy = exec.closeBy;
  if (exec.heartbeatTimeoutMs) plan.heartbeatTimeoutMs = exec.heartbeatTimeoutMs;
  // Written only when given: plans without a key stay as they were.
  if (exec.concurrencyKey !== null) {
    plan.concurrencyKey = exec.concurrencyKey;
    if (exec.keyConcurrency > 0) plan.keyConcurrency = exec.keyConcurrency;
    if (exec.keyRateLimits !== undefined && exec.keyRateLimits.length > 0)
      plan.keyRateLimits = exec.keyRateLimits.map((limit) => ({ ...limit }));
  }
  return plan;
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
