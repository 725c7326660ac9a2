import type { Actor } from 'xstate';
import type { SettledExecution } from '../../machines/agent.machine.js';
import type { Failure } from '../../machines/retry.js';
import type { ExecutorMachine } from '../../machines/executor.machine.js';
import type { Workflow } from '../domain/workflow.js';
import type { AttemptError } from '../domain/task.js';
import {
  AttemptInterruptedError,
  EngineStoppedError,
  ExecutionCancelledError,
  ExecutionTimeoutError,
  TooManyInterruptionsError,
} from '../errors/errors.js';
import { ErrorCode } from '../errors/codes.js';
import { normalizeError } from '../errors/normalize.js';
import { AttemptContext, abortAttempt, runAttempt, type AttemptResult } from './attempt.js';
import type { Committer } from './committer.js';
import type { AgentRef } from './dispatcher.js';
import type { Execution } from './execution.js';
import type { Hooks } from './hooks.js';
import type { LiveExecutions } from './live-executions.js';
import type { ResolvedEngineOptions } from './options.js';
import { copyPayload } from './payload.js';
import { failureOf } from './retry-policy.js';
import type { TaskDoor } from './task-door.js';
import { resultOf } from './task-rows.js';

/**
 * Runs `fn` once the callbacks of the current event-loop phase have run (Node: `setImmediate`, in
 * the same loop iteration), so attempts that settle in one phase (timers that fire together, I/O
 * that completes together) free their slots in one batch: one event each to the agent and the
 * executor and one dispatch, instead of one per attempt. A microtask where there is no
 * `setImmediate`. The committer's flush applies settled attempts first, so the group commit of a
 * turn still holds every attempt that ended in it.
 */
const afterCallbacks: (fn: () => void) => void =
  typeof setImmediate === 'function' ? (fn) => setImmediate(fn) : (fn) => queueMicrotask(fn);

/** What settling needs of the engine around it. */
export interface SettlingDeps {
  options: ResolvedEngineOptions;
  committer: Committer;
  door: TaskDoor;
  live: LiveExecutions;
  hooks: Hooks;
  executor: Actor<ExecutorMachine>;
  agent(key: string): AgentRef | undefined;
  /** The task actor of an execution, created from its row when it has none yet. */
  taskActor(exec: Execution): NonNullable<Execution['actor']>;
  /** A copy of a live workflow's row, for an agent's context. */
  workflowView(workflowId: string | null): Workflow | null;
}

/**
 * The life of attempts: started in two steps (the RUNNING row commits, then the agent runs),
 * settled in batches (a result, a failure, a timeout, a cancel or an interruption), applied to the
 * task machine through the door, and ended: the execution's promise settles once its final state
 * has committed, and its batch lane moves on.
 */
export class Settling {
  private settling: Execution[] = [];
  private settleScheduled = false;

  constructor(private readonly deps: SettlingDeps) {}

  /**
   * Starts attempts in two steps: each task row goes RUNNING with its attempt counted, and the
   * agents run only once that commit has landed (one commit for the batch), so an attempt a crash
   * interrupts is always on record and counts against the policy. An attempt cancelled, timed out
   * or interrupted meanwhile never runs its agent.
   */
  start(executionIds: readonly string[]): void {
    const starting: Execution[] = [];
    const contexts: AttemptContext[] = [];
    for (const id of executionIds) {
      const exec = this.deps.live.get(id);
      if (!exec) continue;
      starting.push(exec);
      contexts.push(this.begin(exec));
    }
    if (starting.length > 0)
      this.deps.committer.afterCommit((failure) => this.launch(starting, contexts, failure));
  }

  /** Runs the agents of attempts whose start has committed and that are still current. */
  private launch(
    starting: readonly Execution[],
    contexts: readonly AttemptContext[],
    failure: unknown,
  ): void {
    for (let i = 0; i < starting.length; i += 1) {
      const exec = starting[i]!;
      const context = contexts[i]!;
      if (exec.attemptContext !== context || exec.phase !== 'running' || exec.pending !== null) continue;
      if (failure) {
        this.queue(exec, { ok: false, error: failure });
        continue;
      }
      // A result counts only for the attempt still running: not after it ended, timed out or
      // was followed by another attempt.
      void runAttempt(exec.agent, context, this.deps.hooks).then((result) => {
        if (exec.attemptContext === context && exec.phase === 'running') this.queue(exec, result);
      });
    }
  }

  private begin(exec: Execution): AttemptContext {
    const { door, options } = this.deps;
    const task = exec.task;
    exec.actor ??= this.deps.taskActor(exec);
    door.send(task, { type: 'START', timeoutMs: exec.timeoutMs }, exec.actor, {
      agentId: exec.agentKey,
      owner: options.engineId,
      leaseMs: exec.timeoutMs > 0 ? exec.timeoutMs : options.leaseMs,
    });
    const context = new AttemptContext(exec, {
      executionId: exec.id,
      task: { ...task, errors: [...task.errors] },
      workflow: this.deps.workflowView(exec.workflowId),
      attempt: task.attempts,
      metadata: { ...exec.metadata },
    });
    exec.lastMetadata = context.metadata;
    return context;
  }

  /**
   * Queues an attempt's outcome for the next settle batch. An attempt settles once: a later outcome
   * (a timeout firing after the result came) is dropped.
   */
  queue(exec: Execution, result: AttemptResult): void {
    if (exec.pending !== null) return;
    exec.pending = result;
    this.settling.push(exec);
    if (this.settleScheduled) return;
    this.settleScheduled = true;
    afterCallbacks(() => this.flush());
  }

  /** The running attempt passed its deadline: it is aborted and fails with EXECUTION_TIMEOUT. */
  timedOut(exec: Execution | undefined): void {
    if (exec?.phase !== 'running') return;
    const error = new ExecutionTimeoutError(exec.timeoutMs);
    abortAttempt(exec, error);
    this.queue(exec, { ok: false, error });
  }

  /**
   * Ends a running execution CANCELLED at once: its task machine takes CANCEL now (a result not
   * yet applied loses; a completion applied before stands), the agent's signal is aborted, and its
   * slot is freed with the next settle batch.
   */
  cancelRunning(exec: Execution, reason: string): void {
    const error = new ExecutionCancelledError(reason);
    abortAttempt(exec, error);
    this.cancelled(exec);
    this.freeSlot(exec, error);
  }

  /**
   * Ends a running attempt cut short by `stop`: its task machine takes FAIL (interrupted) now, the
   * error is kept, the task waits in the store (PENDING, or FAILED when no attempt is left) for the
   * next engine, the caller's promise rejects with ENGINE_STOPPED, and the slot is freed with the
   * next settle batch.
   */
  interrupt(exec: Execution): void {
    const stopped = new EngineStoppedError();
    abortAttempt(exec, stopped);
    // Due at once: the next engine takes it up without waiting for a backoff.
    this.fail(exec, { ...failureOf(new AttemptInterruptedError()), retryAfterMs: 0 }, null, true);
    this.unlease(exec);
    this.deps.committer.afterCommit(() => exec.reject(stopped));
    this.freeSlot(exec, stopped);
  }

  /**
   * Lets go of a running execution when the store was lost: no record (the store keeps its last
   * committed row, which `recover()` resumes), the promise rejects with `error` at once, and the
   * slot is freed with the next settle batch.
   */
  lose(exec: Execution, error: Error): void {
    abortAttempt(exec, error);
    this.deps.live.forget(exec);
    exec.reject(error);
    this.freeSlot(exec, error);
  }

  /** Frees the slot of an execution that ended while its attempt ran, with the next settle batch. */
  private freeSlot(exec: Execution, error: Error): void {
    if (exec.pending === null) this.queue(exec, { ok: false, error });
  }

  /**
   * Applies settled attempts in one batch: task actors, then agent slots, then the executor. An
   * execution that already ended (cancelled, interrupted, lost) only frees its slot.
   */
  flush(): void {
    this.settleScheduled = false;
    if (this.settling.length === 0) return;
    const settled = this.settling;
    this.settling = [];
    const byAgent = new Map<string, SettledExecution[]>();
    for (const exec of settled) {
      const result = exec.pending!;
      exec.pending = null;
      const ended = exec.phase === 'done';
      if (!ended) this.apply(exec, result);
      let list = byAgent.get(exec.agentKey);
      if (!list) byAgent.set(exec.agentKey, (list = []));
      const cancelled = ended && exec.task.status === 'CANCELLED';
      list.push({ executionId: exec.id, ok: !ended && result.ok, cancelled });
    }
    for (const [key, executions] of byAgent) this.deps.agent(key)?.send({ type: 'SETTLED', executions });
    this.deps.executor.send({ type: 'SETTLED', count: settled.length });
  }

  /**
   * Applies an attempt's outcome. `interrupted`: the attempt was cut short by its engine (see the
   * task machine's rule).
   */
  apply(exec: Execution, result: AttemptResult, interrupted = false): void {
    const { committer, door, options } = this.deps;
    const task = exec.task;
    const actor = exec.actor!;
    const now = options.clock.now();
    exec.attemptContext = null;
    let output: unknown = null;
    if (result.ok && result.output !== undefined) {
      try {
        output = copyPayload(
          result.output,
          'output',
          options.maxPayloadBytes,
          ErrorCode.OUTPUT_NOT_SERIALIZABLE,
        );
      } catch (error) {
        result = { ok: false, error };
      }
    }
    if (result.ok) {
      task.outputData = output;
      door.send(task, { type: 'SUCCEED' }, actor);
      committer.stageCompletion({
        taskId: task.id,
        executionId: exec.id,
        attempt: task.attempts,
        completedAt: now,
      });
      this.finish(exec, null);
      return;
    }
    // The task machine decides whether the task runs again, and after what delay.
    const failure = failureOf(result.error, options.random());
    const error = this.fail(exec, failure, result.error, interrupted, exec.lastMetadata);
    if (task.status === 'FAILED') this.finish(exec, error);
    else exec.phase = 'backoff';
  }

  /**
   * Sends FAIL to the task machine and records the attempt's error: `cause`, or for an
   * interrupted attempt the interruption error the machine's count calls for.
   */
  private fail(
    exec: Execution,
    failure: Failure,
    cause: unknown,
    interrupted: boolean,
    metadata?: Record<string, unknown> | null,
  ): AttemptError {
    const task = exec.task;
    const actor = exec.actor!;
    const status = this.deps.door.send(task, { type: 'FAIL', interrupted, ...failure }, actor);
    const now = this.deps.options.clock.now();
    const reason = interrupted ? interruptionError(actor) : cause;
    const error = normalizeError(reason, task.attempts, now, status === 'PENDING', metadata);
    task.errors.push(error);
    return error;
  }

  /** Ends an execution CANCELLED (its task machine takes CANCEL). */
  cancelled(exec: Execution): void {
    const task = exec.task;
    this.deps.door.send(task, { type: 'CANCEL' }, exec.actor);
    const now = this.deps.options.clock.now();
    this.finish(exec, normalizeError(new ExecutionCancelledError(), task.attempts, now, false));
  }

  private finish(exec: Execution, error: AttemptError | null): void {
    this.deps.live.forget(exec);
    const result = resultOf(exec, error, this.deps.options.clock.now());
    this.deps.committer.afterCommit((failure) => (failure ? exec.reject(failure) : exec.resolve(result)));
    this.moveLaneOn(exec);
  }

  /**
   * Calls the execution's `onFinal` once, in a microtask: after the current settle batch, so the
   * next execution of a lane is staged behind this one's final state and the store never shows it
   * started before this one ended.
   */
  moveLaneOn(exec: Execution): void {
    const onFinal = exec.onFinal;
    exec.onFinal = null;
    if (onFinal) queueMicrotask(onFinal);
  }

  /** Forgets a live execution and records that no engine holds its task's lease any more. */
  unlease(exec: Execution): void {
    exec.task.leaseOwner = null;
    exec.task.leaseExpiresAt = null;
    this.deps.committer.stageTaskState(exec.task);
    this.deps.live.forget(exec);
  }
}

/**
 * The error recorded for an attempt cut short by its engine's death or stop, once its task machine
 * has counted it: ATTEMPT_INTERRUPTED, or TOO_MANY_INTERRUPTIONS when the machine ended the task
 * because it was interrupted more often than `retry.maxInterruptions` allows.
 */
function interruptionError(actor: NonNullable<Execution['actor']>): Error {
  const { interruptions, maxInterruptions } = actor.getSnapshot().context;
  return interruptions > maxInterruptions
    ? new TooManyInterruptionsError(interruptions, maxInterruptions)
    : new AttemptInterruptedError();
}
