import type { Agent } from '../domain/agent.js';
import type { RateLimit } from '../domain/rate-limit.js';
import type { ExecutionResult } from '../domain/execution-result.js';
import type { Task } from '../domain/task.js';
import type { TaskActor } from './actors.js';
import type { AttemptResult } from './attempt.js';
import type { RetryPolicy } from './retry-policy.js';
import type { TaskLimits } from './task-door.js';
import { ErrorCode } from '../errors/codes.js';
import type { RateWait } from './engine-events.js';

/** Options of one execution; each falls back to the engine's. */
export interface ExecuteOptions {
  /** Milliseconds an attempt may run before it is aborted; 0 means no limit. */
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** Copied into every attempt's context metadata. */
  metadata?: Record<string, unknown>;
  /** Aborting it cancels the task. */
  signal?: AbortSignal;
  /** Higher runs first among queued work. @default the task's priority */
  priority?: number;
  /** A delayed task: its first attempt starts no earlier than this (epoch ms of the engine's clock). */
  runAt?: number;
  /** A delayed task: its first attempt starts no earlier than this many ms from now (not with `runAt`). */
  delayMs?: number;
  /**
   * Schedule-to-start: epoch ms by which its first attempt must have started, else it ends FAILED
   * with DEADLINE_EXCEEDED, not retried. Retries are not bound by it (see `scheduleToCloseMs`).
   */
  deadline?: number;
  /** Schedule-to-start as ms from now (not with `deadline`). */
  scheduleToStartMs?: number;
  /**
   * Schedule-to-close: ms from now within which the task must end, across all attempts and
   * backoffs; past it a running attempt is aborted and the task ends FAILED with
   * SCHEDULE_TO_CLOSE_TIMEOUT, not retried.
   */
  scheduleToCloseMs?: number;
  /**
   * An attempt whose agent calls `context.heartbeat()` less often than this is aborted and
   * retried (HEARTBEAT_TIMEOUT). @default no limit
   */
  heartbeatTimeoutMs?: number;
  /**
   * Fairness key (a customer id, say): queued tasks of different keys take turns, the key with
   * the fewest running first (docs/policies.md "Fairness keys"). @default none
   */
  concurrencyKey?: string;
  /**
   * With `concurrencyKey`: at most this many tasks of the key run at once, cluster-wide, while this
   * one starts and runs (tasks of one key may declare different limits: the smallest binds, see
   * docs/policies.md "Fairness keys"). @default no limit
   */
  keyConcurrency?: number;
  /**
   * With `concurrencyKey`: token buckets shared by every task of the key, on any agent and
   * cluster-wide (docs/policies.md "Rate limits"). A key waiting for a token is passed over and
   * other keys start meanwhile. @default none
   */
  keyRateLimits?: RateLimit[];
  /**
   * Debounce (docs/policies.md "Debounce and singleton"): the task waits `delayMs`; a later task with
   * the same key, while this one has not started, replaces it (this one ends CANCELLED) and waits
   * `delayMs` from then, at most until `maxWaitMs` after the first of the burst. Not with `runAt` or
   * `delayMs`. @default none
   */
  debounce?: { key: string; delayMs: number; maxWaitMs?: number };
  /**
   * Singleton: while a task with the same key is unfinished (queued or running), `skip` refuses the
   * new one (SINGLETON_ACTIVE) and `cancel` cancels the earlier one. @default none
   */
  singleton?: { key: string; mode: 'skip' | 'cancel' };
}

/**
 * Where an execution is, read from its task machine (see LiveExecutions.phaseOf), never stored:
 * - reserved: live here, waiting for its batch to submit it; no task actor yet (it can be paused
 *   or cancelled: its row changes)
 * - queued: its task actor is in PENDING.ready, so it waits in its agent's queue
 * - paused: PAUSED, or PENDING.held (its workflow is paused)
 * - running: RUNNING, an attempt is in flight
 * - backoff: PENDING.backoff, waiting for a retry's due time
 * - done: no longer live here (it ended, or was let go)
 */
export type ExecutionPhase = 'reserved' | 'queued' | 'paused' | 'running' | 'backoff' | 'done';

export interface Execution {
  id: string;
  /** The live task row; the store receives it at each commit. */
  task: Task;
  agent: Agent;
  /** Agent actor, load and queue key: the agent config id, else the agent id. */
  agentKey: string;
  workflowId: string | null;
  policy: RetryPolicy;
  /** Attempts the task may have reached when this execution ends: earlier ones plus the policy's. */
  attemptLimit: number;
  timeoutMs: number;
  priority: number;
  /** Its place in its agent's queue, higher first (see src/engine/queue-order.ts). */
  rank: number;
  /** Its fairness key, null: none (see ExecuteOptions.concurrencyKey). */
  concurrencyKey: string | null;
  /** Tasks of its key running at once at most; 0: no limit. */
  keyConcurrency: number;
  /** Token buckets of its key (ExecuteOptions.keyRateLimits); empty: none. */
  keyRateLimits: readonly RateLimit[];
  metadata: Record<string, unknown>;
  /** Schedule-to-start and schedule-to-close, epoch ms; null: none (see ExecuteOptions). */
  deadline: number | null;
  closeBy: number | null;
  /** 0: no heartbeat timeout. */
  heartbeatTimeoutMs: number;
  /** The details of the latest heartbeat of an attempt of this execution (`context.lastHeartbeat`). */
  lastHeartbeat: unknown;
  /** The latest attempt's context metadata, as hooks and the agent left it; it goes to the result. */
  lastMetadata: Record<string, unknown> | null;
  actor: TaskActor | null;
  /** The running attempt's context; aborting it aborts the agent's signal. */
  attemptContext: { abort(reason: unknown): void } | null;
  /** The caller's signal, if any: aborted before the execution is submitted, it ends CANCELLED then. */
  signal: AbortSignal | null;
  /** The settled outcome of the running attempt, waiting for the next settle batch. */
  pending: AttemptResult | null;
  startedAt: number;
  detach: (() => void) | null;
  /**
   * Called once (in a microtask) when the execution reaches its final state, before that state
   * has committed: a batch's lane moves on then, while the result still waits for the commit.
   */
  onFinal: (() => void) | null;
  resolve: (result: ExecutionResult) => void;
  reject: (error: unknown) => void;
  /** Set when another engine took the task over (LEASE_LOST): the result is not to be trusted. */
  lost: Error | null;
  /** When it was last queued (engine clock), if a rate limit applies to it: rate waits count from here. */
  readyAt: number;
  /** Its latest start's wait at a rate limit (see RateWait); null: no rate limit applies. */
  rateWait: RateWait | null;
}

export type ExecutionFields = Pick<
  Execution,
  | 'id'
  | 'task'
  | 'agent'
  | 'workflowId'
  | 'policy'
  | 'attemptLimit'
  | 'timeoutMs'
  | 'priority'
  | 'rank'
  | 'concurrencyKey'
  | 'keyConcurrency'
  | 'metadata'
  | 'startedAt'
> &
  Partial<Pick<Execution, 'deadline' | 'closeBy' | 'heartbeatTimeoutMs' | 'keyRateLimits'>>;

const NO_LIMITS: readonly RateLimit[] = Object.freeze([]);

/** A new execution, not yet live anywhere; `resolve`/`reject` are set by whoever awaits it. */
export function newExecution(fields: ExecutionFields): Execution {
  // Every field spelled out, in one order, so all executions share one hidden class.
  return {
    id: fields.id,
    task: fields.task,
    agent: fields.agent,
    agentKey: fields.agent.configId ?? fields.agent.id,
    workflowId: fields.workflowId,
    policy: fields.policy,
    attemptLimit: fields.attemptLimit,
    timeoutMs: fields.timeoutMs,
    priority: fields.priority,
    rank: fields.rank,
    concurrencyKey: fields.concurrencyKey,
    keyConcurrency: fields.keyConcurrency,
    keyRateLimits: fields.keyRateLimits ?? NO_LIMITS,
    metadata: fields.metadata,
    deadline: fields.deadline ?? null,
    closeBy: fields.closeBy ?? null,
    heartbeatTimeoutMs: fields.heartbeatTimeoutMs ?? 0,
    lastHeartbeat: undefined,
    lastMetadata: null,
    startedAt: fields.startedAt,
    actor: null,
    attemptContext: null,
    signal: null,
    pending: null,
    detach: null,
    onFinal: null,
    resolve: () => {},
    reject: () => {},
    lost: null,
    readyAt: 0,
    rateWait: null,
  };
}

/**
 * What bounds an execution's task machine. This run's limits count from its first attempt:
 * attempts and interruptions of runs before a manual retry (`priorAttempts`) count neither toward
 * the backoff nor toward `maxInterruptions`.
 */
export function taskLimitsOf(exec: Execution): TaskLimits {
  const priorAttempts = Math.max(0, exec.attemptLimit - exec.policy.maxAttempts);
  let interruptions = 0;
  for (const error of exec.task.errors) {
    if (error.code === ErrorCode.ATTEMPT_INTERRUPTED && error.attempt > priorAttempts) interruptions += 1;
  }
  return {
    maxAttempts: exec.attemptLimit,
    priorAttempts,
    interruptions,
    maxInterruptions: exec.policy.maxInterruptions,
    retry: exec.policy,
    heartbeatTimeoutMs: exec.heartbeatTimeoutMs,
  };
}
