import { ErrorCode } from './codes.js';
import { describeThrown } from './normalize.js';
import { SymphonyError, type SymphonyErrorOptions } from './symphony-error.js';

/** An argument had the wrong type or value; the message says what was expected and what came. */
export class InvalidArgumentError extends SymphonyError {
  override readonly name = 'InvalidArgumentError';
  constructor(message: string, options?: SymphonyErrorOptions) {
    super(ErrorCode.INVALID_ARGUMENT, message, options);
  }
}

export class TaskNotFoundError extends SymphonyError {
  override readonly name = 'TaskNotFoundError';
  constructor(readonly taskId: string) {
    super(ErrorCode.TASK_NOT_FOUND, `No task with id ${JSON.stringify(taskId)}`, { details: { taskId } });
  }
}

export class WorkflowNotFoundError extends SymphonyError {
  override readonly name = 'WorkflowNotFoundError';
  constructor(readonly workflowId: string) {
    super(ErrorCode.WORKFLOW_NOT_FOUND, `No workflow with id ${JSON.stringify(workflowId)}`, {
      details: { workflowId },
    });
  }
}

export class ScheduleNotFoundError extends SymphonyError {
  override readonly name = 'ScheduleNotFoundError';
  constructor(readonly scheduleId: string) {
    super(ErrorCode.SCHEDULE_NOT_FOUND, `No schedule with id ${JSON.stringify(scheduleId)}`, {
      details: { scheduleId },
    });
  }
}

export class AgentConfigNotFoundError extends SymphonyError {
  override readonly name = 'AgentConfigNotFoundError';
  constructor(readonly agentConfigId: string) {
    super(ErrorCode.AGENT_CONFIG_NOT_FOUND, `No agent config with id ${JSON.stringify(agentConfigId)}`, {
      details: { agentConfigId },
    });
  }
}

export class AgentTypeNotFoundError extends SymphonyError {
  override readonly name = 'AgentTypeNotFoundError';
  constructor(readonly agentType: string) {
    super(
      ErrorCode.AGENT_TYPE_NOT_FOUND,
      `No agent type ${JSON.stringify(agentType)} is registered; call agentFactory.registerAgentType first`,
      { details: { agentType } },
    );
  }
}

export class RepositoryNotFoundError extends SymphonyError {
  override readonly name = 'RepositoryNotFoundError';
  constructor(readonly repositoryName: string) {
    super(ErrorCode.REPOSITORY_NOT_FOUND, `No repository named ${JSON.stringify(repositoryName)}`, {
      details: { repositoryName },
    });
  }
}

export class DuplicateIdError extends SymphonyError {
  override readonly name = 'DuplicateIdError';
  constructor(
    readonly entity: string,
    readonly id: string,
  ) {
    super(ErrorCode.DUPLICATE_ID, `A ${entity} with id ${JSON.stringify(id)} already exists`, {
      details: { entity, id },
    });
  }
}

/** The operation does not fit the current state, e.g. running a task that already finished. */
export class InvalidStateError extends SymphonyError {
  override readonly name = 'InvalidStateError';
  constructor(message: string, details?: Record<string, unknown>) {
    super(ErrorCode.INVALID_STATE, message, details ? { details } : {});
  }
}

export class NoAgentAvailableError extends SymphonyError {
  override readonly name = 'NoAgentAvailableError';
  constructor(message: string, details?: Record<string, unknown>) {
    super(ErrorCode.NO_AGENT_AVAILABLE, message, { retryable: true, ...(details ? { details } : {}) });
  }
}

/**
 * The circuit breaker of every agent asked for is open (retryable): an attempt on an agent whose
 * breaker is open fails fast with it, and routing rejects with it when every candidate is open.
 * `retryAfterMs` is the cool-down left (the shortest, for several agents), which the retry policy
 * waits instead of its backoff; undefined when a half-open breaker has no probe left.
 */
export class CircuitOpenError extends SymphonyError {
  override readonly name = 'CircuitOpenError';
  readonly retryAfterMs: number | undefined;
  constructor(agentIds: readonly string[], retryAfterMs: number | undefined) {
    const which =
      agentIds.length === 1
        ? `agent ${JSON.stringify(agentIds[0])} is open`
        : `all ${agentIds.length} candidate agents are open`;
    const wait = retryAfterMs === undefined ? '' : `; it may let a probe through in ${retryAfterMs} ms`;
    super(ErrorCode.CIRCUIT_OPEN, `The circuit breaker of ${which}${wait}`, {
      retryable: true,
      details: { agentIds: [...agentIds], ...(retryAfterMs === undefined ? {} : { retryAfterMs }) },
    });
    this.retryAfterMs = retryAfterMs;
  }
}

export class HookError extends SymphonyError {
  override readonly name = 'HookError';
  constructor(
    readonly phase: 'pre' | 'post',
    cause: unknown,
  ) {
    super(ErrorCode.HOOK_FAILED, `A ${phase}-execution hook threw: ${describeThrown(cause).message}`, {
      cause,
      details: { phase },
    });
  }
}

export class ExecutionTimeoutError extends SymphonyError {
  override readonly name = 'ExecutionTimeoutError';
  constructor(readonly timeoutMs: number) {
    super(ErrorCode.EXECUTION_TIMEOUT, `The attempt did not finish within ${timeoutMs} ms`, {
      retryable: true,
      details: { timeoutMs },
    });
  }
}

/**
 * The task's run had not started an attempt by its deadline (schedule-to-start): it ends FAILED
 * unrun, not retried. `details`: `deadline` (epoch ms of the engine's clock).
 */
export class DeadlineExceededError extends SymphonyError {
  override readonly name = 'DeadlineExceededError';
  constructor(readonly deadline: number) {
    super(ErrorCode.DEADLINE_EXCEEDED, `The task did not start by its deadline (${deadline})`, {
      retryable: false,
      details: { deadline },
    });
  }
}

/**
 * The task did not end by its schedule-to-close limit: a running attempt is aborted and the task
 * ends FAILED, not retried. `details`: `closeBy` (epoch ms of the engine's clock).
 */
export class ScheduleToCloseTimeoutError extends SymphonyError {
  override readonly name = 'ScheduleToCloseTimeoutError';
  constructor(readonly closeBy: number) {
    super(ErrorCode.SCHEDULE_TO_CLOSE_TIMEOUT, `The task did not finish by its close limit (${closeBy})`, {
      retryable: false,
      details: { closeBy },
    });
  }
}

/**
 * The attempt's agent sent no heartbeat for `heartbeatTimeoutMs`: the attempt is aborted and
 * retried like any failure. `details`: `heartbeatTimeoutMs`.
 */
export class HeartbeatTimeoutError extends SymphonyError {
  override readonly name = 'HeartbeatTimeoutError';
  constructor(readonly heartbeatTimeoutMs: number) {
    super(ErrorCode.HEARTBEAT_TIMEOUT, `The agent sent no heartbeat for ${heartbeatTimeoutMs} ms`, {
      retryable: true,
      details: { heartbeatTimeoutMs },
    });
  }
}

export class ExecutionCancelledError extends SymphonyError {
  override readonly name = 'ExecutionCancelledError';
  constructor(reason = 'The execution was cancelled') {
    super(ErrorCode.EXECUTION_CANCELLED, reason);
  }
}

/** An attempt whose engine stopped or died before it settled; it runs again under its retry policy. */
export class AttemptInterruptedError extends SymphonyError {
  override readonly name = 'AttemptInterruptedError';
  constructor(reason = 'The engine stopped before the attempt settled') {
    super(ErrorCode.ATTEMPT_INTERRUPTED, reason, { retryable: true });
  }
}

/**
 * An attempt interrupted once more than its policy allows (`retry.maxInterruptions`, after BullMQ's
 * `maxStalledCount`): the task fails instead of running again, so a task that kills its engine every
 * time (a poison task) stops being retried.
 */
export class TooManyInterruptionsError extends SymphonyError {
  override readonly name = 'TooManyInterruptionsError';
  constructor(interruptions: number, maxInterruptions: number) {
    super(
      ErrorCode.TOO_MANY_INTERRUPTIONS,
      `The attempt was interrupted (its engine stopped or died before it settled): interruption ${interruptions} of a task whose policy allows ${maxInterruptions} (retry.maxInterruptions)`,
      { retryable: false, details: { interruptions, maxInterruptions } },
    );
  }
}

/**
 * This engine lost a task it held: another engine took it over (this one stopped beating, say paused
 * past its liveness window) or took it first, and the store refused this engine's write (fencing).
 * Whatever this engine did with the task since is not recorded; the other engine's record stands.
 */
export class LeaseLostError extends SymphonyError {
  override readonly name = 'LeaseLostError';
  constructor(taskId: string, engineId: string) {
    super(
      ErrorCode.LEASE_LOST,
      `Task ${taskId} is no longer held by engine ${engineId}: another engine took it over, and this engine's write was refused (its result, if any, is not recorded)`,
      { retryable: false, details: { taskId, engineId } },
    );
  }
}

/**
 * This engine lost a submitted workflow it coordinated: another worker took it over (this one
 * stopped beating, say paused past its liveness window) and the store refused this engine's writes
 * of the workflow (the coordinator fence, docs/scale-out.md). Its run of the workflow here ends;
 * nothing it made or recorded for the workflow since the takeover is kept.
 */
export class CoordinationLostError extends SymphonyError {
  override readonly name = 'CoordinationLostError';
  constructor(workflowId: string, engineId: string) {
    super(
      ErrorCode.COORDINATION_LOST,
      `Workflow ${workflowId} is no longer coordinated by engine ${engineId}: another worker took it over, and the store refused this engine's writes of it`,
      { retryable: false, details: { workflowId, engineId } },
    );
  }
}

export class EngineStoppedError extends SymphonyError {
  override readonly name = 'EngineStoppedError';
  constructor() {
    super(ErrorCode.ENGINE_STOPPED, 'The engine is stopping or stopped and accepts no new work');
  }
}

/**
 * Thrown by an agent to say that trying again cannot help: the retry policy stops at once.
 * @example throw new NonRetryableError('The document is empty')
 */
export class NonRetryableError extends SymphonyError {
  override readonly name = 'NonRetryableError';
  constructor(message: string, options: Omit<SymphonyErrorOptions, 'retryable'> = {}) {
    super(ErrorCode.NON_RETRYABLE, message, { ...options, retryable: false });
  }
}

export class SerializationError extends SymphonyError {
  override readonly name = 'SerializationError';
  constructor(
    code: typeof ErrorCode.INPUT_NOT_SERIALIZABLE | typeof ErrorCode.OUTPUT_NOT_SERIALIZABLE,
    message: string,
    details?: Record<string, unknown>,
  ) {
    super(code, message, details ? { details } : {});
  }
}

export class PayloadTooLargeError extends SymphonyError {
  override readonly name = 'PayloadTooLargeError';
  constructor(
    readonly field: string,
    readonly bytes: number,
    readonly limit: number,
    /** True when `bytes` is a lower bound (the payload was refused before it was measured). */
    atLeast = false,
  ) {
    super(
      ErrorCode.PAYLOAD_TOO_LARGE,
      `Expected ${field} to be at most ${limit} bytes as JSON, got ${atLeast ? 'at least ' : ''}${bytes}`,
      {
        details: { field, bytes, limit },
      },
    );
  }
}

/** A store could not be used: corrupt, missing, read-only, locked or unreachable. */
export class StoreError extends SymphonyError {
  override readonly name = 'StoreError';
  constructor(
    code:
      | typeof ErrorCode.STORE_CORRUPT
      | typeof ErrorCode.STORE_UNAVAILABLE
      | typeof ErrorCode.STORE_READ_ONLY
      | typeof ErrorCode.STORE_BUSY
      | typeof ErrorCode.STORE_NOT_FOUND,
    message: string,
    options?: SymphonyErrorOptions,
  ) {
    super(code, message, options);
  }
}

/**
 * A workflow graph that cannot run: a dependency cycle, a dependency on a task that is not in the
 * workflow, a task depending on itself, two tasks with one key. `details.problem` says which;
 * `details.cycle` lists a cycle's tasks in order (the first again at the end), `details.taskId` /
 * `details.dependency` name the tasks concerned.
 */
export class GraphError extends SymphonyError {
  override readonly name = 'GraphError';
  constructor(message: string, details: Record<string, unknown>) {
    super(ErrorCode.INVALID_GRAPH, message, { details });
  }
}

/**
 * A condition that cannot be used: a CEL expression that does not parse or check (with its
 * position), or a condition given in neither form. Found when the graph is built or the file loaded.
 */
export class ConditionError extends SymphonyError {
  override readonly name = 'ConditionError';
  constructor(message: string, details: Record<string, unknown>) {
    super(ErrorCode.INVALID_CONDITION, message, { details });
  }
}

/**
 * A condition failed while it was evaluated: it threw, gave something other than a boolean, or is
 * a function this engine was not given (a code condition after a restart). The task ends FAILED
 * with this error, never retried.
 */
export class ConditionFailedError extends SymphonyError {
  override readonly name = 'ConditionFailedError';
  constructor(message: string, options: Omit<SymphonyErrorOptions, 'retryable'> = {}) {
    super(ErrorCode.CONDITION_FAILED, message, { ...options, retryable: false });
  }
}

/**
 * A loop ran `maxIterations` iterations without its `until` holding. The loop task ends FAILED
 * with this error (not retried by its policy); a manual retry runs another round of iterations.
 * `details`: `taskId`, `maxIterations`, `iterations` (made so far).
 */
export class LoopLimitError extends SymphonyError {
  override readonly name = 'LoopLimitError';
  constructor(message: string, details: Record<string, unknown>) {
    super(ErrorCode.LOOP_LIMIT_EXCEEDED, message, { details, retryable: false });
  }
}

/**
 * A wait's `timeoutMs` passed before any of its signals came. The wait task ends FAILED with this
 * error (not retried by its policy); a manual retry waits again, for as long.
 * `details`: `taskId`, `signals`, `timeoutMs`.
 */
export class WaitTimeoutError extends SymphonyError {
  override readonly name = 'WaitTimeoutError';
  constructor(message: string, details: Record<string, unknown>) {
    super(ErrorCode.WAIT_TIMED_OUT, message, { details, retryable: false });
  }
}

/**
 * A child workflow (a task's `workflow`) ended FAILED or CANCELLED. The parent task ends FAILED with
 * this error (not retried by its policy); a manual retry of it retries the child's failed and
 * cancelled tasks and runs the child again. `details`: `taskId`, `workflowId` (the child's), `status`.
 */
export class ChildWorkflowError extends SymphonyError {
  override readonly name = 'ChildWorkflowError';
  constructor(message: string, details: Record<string, unknown>) {
    super(ErrorCode.CHILD_WORKFLOW_FAILED, message, { details, retryable: false });
  }
}

/**
 * A task was about to start while its workflow's budget, or its agent config's quota, was already
 * spent (tokens or cost, see docs/policies.md#budgets). Never retried.
 */
export class BudgetExceededError extends SymphonyError {
  override readonly name = 'BudgetExceededError';
  constructor(
    message: string,
    details: {
      /** `workflow` (its budget) or `agent` (its agent config's quota). */
      scope: 'workflow' | 'agent';
      /** The workflow id or the agent config id. */
      id: string;
      spentTokens: number;
      spentCostUsd: number;
      budgetTokens: number | null;
      budgetCostUsd: number | null;
    },
  ) {
    super(ErrorCode.BUDGET_EXCEEDED, message, { details, retryable: false });
  }
}

/**
 * A singleton with `mode: 'skip'`: an unfinished task (or, for a workflow's key, workflow) holds its
 * key, so the new one is not run. `details.holder` is the holder's id.
 */
export class SingletonActiveError extends SymphonyError {
  override readonly name = 'SingletonActiveError';
  constructor(
    details:
      { key: string; taskId: string; holder: string } | { key: string; workflowId: string; holder: string },
  ) {
    const [kind, id] = 'taskId' in details ? ['task', details.taskId] : ['workflow', details.workflowId];
    const message = `Singleton ${JSON.stringify(details.key)} is held by unfinished ${kind} ${details.holder}; ${kind} ${id} was not ${kind === 'task' ? 'queued' : 'started'}`;
    super(ErrorCode.SINGLETON_ACTIVE, message, { retryable: false, details });
  }
}
