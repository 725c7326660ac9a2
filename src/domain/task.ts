import type { TaskStatus } from '../../machines/status.js';
import type { RateLimit } from './rate-limit.js';

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
  /** The agent config (or agent id) whose attempt failed; absent for errors not of an attempt. */
  agentId?: string;
  /**
   * Facts the error carried, as JSON (a `SymphonyError`'s `details`), e.g. a provider's
   * `{ statusCode, isRetryable, url, responseBody, retryAfterMs }`; long strings are clipped.
   */
  details?: Record<string, unknown>;
  /**
   * Token counts the agent reported before the attempt failed (`context.metadata.usage`, as
   * `symphony-engine/ai` writes it), e.g. `{ inputTokens: 42, outputTokens: 7, totalTokens: 49 }`.
   */
  usage?: Record<string, number | null>;
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
  /** When a waiting retry may start, in epoch milliseconds; null when none waits. */
  runAfter: number | null;
  /** How the engine runs this task; kept while it is unfinished, so a restart can resume it. */
  execution: ExecutionPlan | null;
  /** The engine whose attempt is running, and until when that claim holds. */
  leaseOwner: string | null;
  leaseExpiresAt: number | null;
  /** Its place in its workflow's graph (`addTaskToWorkflow`'s options); null: no dependencies. */
  graph: TaskGraph | null;
}

/**
 * A task's place in its workflow's graph, as stored. The task becomes ready once every task it
 * depends on is COMPLETED and its condition holds; it ends SKIPPED when the condition is false or a
 * dependency was SKIPPED (docs/workflows.md).
 */
export interface TaskGraph {
  /** Ids of tasks of the same workflow that must be done first, in the order given. */
  dependsOn: string[];
  /** The name its dependents read its output under (`context.dependencies`); null: its id. */
  key: string | null;
  /**
   * Its condition: a CEL expression over the dependencies' outputs, or `code` (a function given
   * in code, held by the engine that was given it, see `ExecuteWorkflowOptions.conditions`).
   */
  when: { cel: string } | { code: true } | null;
  /**
   * A fan-out: once its dependencies are done (and its condition holds), this list (a CEL expression
   * over the same `outputs` and `input`, or a function) gives one new task per item, and this task
   * completes with their outputs in order once they are all done. Absent: not a fan-out.
   */
  forEach?: { cel: string } | { code: true } | null;
  /**
   * The tasks it made, once made (written with them, so a restart makes none twice): a fan-out's
   * items, a loop's iterations so far.
   */
  children?: string[] | null;
  /** A task made by a fan-out (an item) or a loop (an iteration): its maker's id and its index. */
  item?: { of: string; index: number } | null;
  /**
   * A durable sleep: once its dependencies are done (and its condition holds) it waits this long (or
   * until this time, epoch ms) and completes unrun; the due time is stored in `runAfter`.
   */
  sleep?: { ms: number } | { until: number } | null;
  /**
   * A loop: iterations (new tasks, see `children`) run its agent until `until` (like `when`, with
   * `outputs` giving the latest iteration's output under this task's key) holds; `maxIterations`
   * per round (a retry of a loop that reached it starts a new round from iteration `from`).
   */
  loop?: {
    until: { cel: string } | { code: true };
    maxIterations: number;
    /** The index of the first iteration of the current round; absent: 0. */
    from?: number;
  } | null;
  /**
   * A wait: completes unrun with the first signal sent to the workflow under one of these names;
   * after `timeoutMs` (due time stored in `runAfter`) without one, it fails with WAIT_TIMED_OUT.
   */
  waitFor?: { signals: string[]; timeoutMs: number | null } | null;
  /**
   * A child workflow: once its dependencies are done (and its condition holds) the workflow's run
   * runs this workflow, and the task completes unrun with its result (or fails if it fails). Given by
   * id, or by definition: then made when the node is reached (id `<task id>-wf`, its tasks
   * `<child id>-<key>`), its id recorded here in the same commit.
   */
  workflow?: { id: string | null; definition?: WorkflowDefinition | null } | null;
  /**
   * Its compensating task (docs/policies.md, "Compensation (sagas)"): when the workflow fails after
   * this task completed, a task of this name runs (routed by `tags`) to undo it.
   */
  compensate?: { name: string; tags: string[] | null; input: Record<string, unknown> } | null;
  /** A compensating task: the id of the task it undoes. */
  compensates?: string | null;
}

/** A workflow to make when a child-workflow node is reached (see `TaskGraph.workflow`). */
export interface WorkflowDefinition {
  name: string;
  description: string;
  tasks: DefinedTask[];
}

/** A task of a workflow definition: its graph names its dependencies by key. */
export interface DefinedTask {
  key: string;
  name: string;
  description: string;
  inputData: Record<string, unknown>;
  priority: number;
  tags: string[];
  graph: TaskGraph;
}

/** What an engine needs to resume a task's execution after a restart. */
export interface ExecutionPlan {
  /** The agent config id (or agent id) that runs it. */
  agentKey: string;
  /** Attempts the task may reach in all. */
  attemptLimit: number;
  maxAttempts: number;
  initialDelayMs: number;
  backoffFactor: number;
  maxDelayMs: number;
  jitter: number;
  nonRetryableErrors: string[];
  /** Absent in plans written before the option existed: the engine's policy applies. */
  maxInterruptions?: number;
  timeoutMs: number;
  priority: number;
  /**
   * Its place in the queue order (src/engine/queue-order.ts): the priority less the time its wait
   * started over the aging rate, or the priority without aging. Absent in plans written before it
   * existed: the priority.
   */
  rank?: number;
  /**
   * Fairness key (a customer id, say): tasks of one key share its limit and take turns with other
   * keys (docs/policies.md "Fairness keys"). Absent: no key.
   */
  concurrencyKey?: string;
  /** Tasks of `concurrencyKey` running at once, cluster-wide, while this one starts and runs; absent: no limit. */
  keyConcurrency?: number;
  /** Token buckets of `concurrencyKey`, shared by its tasks cluster-wide (docs/policies.md "Rate limits"); absent: none. */
  keyRateLimits?: RateLimit[];
  metadata: Record<string, unknown>;
  /** Schedule-to-start: epoch ms by which the run's first attempt must start; absent: none. */
  deadline?: number;
  /** Schedule-to-close: epoch ms by which the task must have ended; absent: none. */
  closeBy?: number;
  /** An attempt silent (no heartbeat) this long is aborted and retried; absent: no limit. */
  heartbeatTimeoutMs?: number;
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
