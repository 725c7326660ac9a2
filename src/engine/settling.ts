import type { SettledExecution } from '../../machines/agent.machine.js';
import type { RuntimeEvent } from '../../machines/engine.machine.js';
import type { AgentBatch } from '../../machines/executor.machine.js';
import { retryAfterDelay, type Failure } from '../../machines/retry.js';
import type { TaskMachineEvent } from '../../machines/task.machine.js';
import type { Task } from '../domain/task.js';
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
import { countsAgainstBreaker, type Breakers } from './breakers.js';
import { AttemptContext, abortAttempt, runAttempt, type AttemptResult } from './attempt.js';
import type { Committer } from './committer.js';
import type { Execution } from './execution.js';
import type { Hooks } from './hooks.js';
import type { LiveExecutions } from './live-executions.js';
import type { ResolvedEngineOptions } from './options.js';
import { copyPayload } from './payload.js';
import { failureOf } from './retry-policy.js';
import type { TaskDoor } from './task-door.js';
import type { RateGate } from './rate-limits.js';
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
  /** The agents' circuit breakers: asked before an attempt runs, told how it ended. */
  breakers: Breakers;
  /** Sends an event into the actor system (see Runtime.send). */
  send(event: RuntimeEvent): void;
  /** A copy of a live workflow's row, for an agent's context. */
  workflowView(workflowId: string | null): Workflow | null;
  /** The outputs of a task's dependencies, for an agent's context (see Graphs.dependencies). */
  dependencies(task: Task): Record<string, unknown>;
  /** Executions whose attempts settled, as their slots are freed (see Dispatcher.settled). */
  freed(executions: readonly Execution[]): void;
  /** Rate limits: charged with an attempt's usage, blocked by its retry-after (src/engine/rate-limits.ts). */
  rates?: RateGate;
  /** Whether an attempt may run its agent: null when nothing stops it now (BudgetGate.check). */
  admit(exec: Execution): Promise<Error | null> | null;
}

/** An attempt's outcome, ready for its task actor: the event, and what failed (for the record). */
interface Outcome {
  exec: Execution;
  event: Extract<TaskMachineEvent, { type: 'SUCCEED' } | { type: 'FAIL' }>;
  cause: unknown;
  interrupted: boolean;
}

/**
 * The life of attempts: started in two steps (the RUNNING row commits, then the agent runs),
 * settled in batches (a result, a failure, a timeout, a cancel or an interruption), applied to the
 * task machine (the agent actor sends each task actor its outcome; the door writes the rows), and
 * ended: the execution's promise settles once its final state has committed, and its batch lane
 * moves on.
 */
export class Settling {
  private settling: Execution[] = [];
  private settleScheduled = false;

  constructor(private readonly deps: SettlingDeps) {}

  /**
   * Starts attempts whose task actors took START from their agent, in two steps: each task row
   * goes RUNNING with its attempt counted, and the agents run only once that commit has landed
   * (one commit for the batch), so an attempt a crash interrupts is always on record and counts
   * against the policy. An attempt cancelled, timed out or interrupted meanwhile never runs its
   * agent. Executions the agent refused (queued again) are skipped.
   */
  start(executions: readonly Execution[]): void {
    const starting: Execution[] = [];
    const contexts: AttemptContext[] = [];
    for (const exec of executions) {
      if (!this.isRunning(exec)) continue;
      starting.push(exec);
      contexts.push(this.begin(exec));
    }
    // Each attempt runs once its own start has committed (with several commit lanes, the starts of
    // one dispatch may commit in different batches).
    for (let i = 0; i < starting.length; i += 1) {
      const exec = [starting[i]!];
      const context = [contexts[i]!];
      this.deps.committer.afterTasksCommit([exec[0]!.task.id], (failure) =>
        this.launch(exec, context, failure),
      );
    }
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
      if (exec.attemptContext !== context || exec.pending !== null || !this.isRunning(exec)) continue;
      if (failure) {
        this.queue(exec, { ok: false, error: failure });
        continue;
      }
      // An agent whose breaker is open does not run: the attempt fails fast with CIRCUIT_OPEN.
      const refused = this.deps.breakers.size === 0 ? null : this.deps.breakers.refuse(exec.agentKey);
      if (refused !== null) {
        this.queue(exec, { ok: false, error: refused });
        continue;
      }
      const admitted = this.deps.admit(exec);
      if (admitted === null) this.run(exec, context);
      else void admitted.then((verdict) => this.admitted(exec, context, verdict));
    }
  }

  /** Runs the agent of an attempt the budget check let through, or fails it with the check's error. */
  private admitted(exec: Execution, context: AttemptContext, refused: Error | null): void {
    if (exec.attemptContext !== context || exec.pending !== null || !this.isRunning(exec)) return;
    if (refused === null) this.run(exec, context);
    else this.queue(exec, { ok: false, error: refused });
  }

  /** Runs an attempt's agent; the result counts only while that attempt is the one running. */
  private run(exec: Execution, context: AttemptContext): void {
    void runAttempt(exec.agent, context, this.deps.hooks).then((result) => {
      if (exec.attemptContext === context && this.isRunning(exec)) this.queue(exec, result);
    });
  }

  private begin(exec: Execution): AttemptContext {
    const { door, options } = this.deps;
    const task = exec.task;
    const status = door.record(task, exec.actor!, {
      agentId: exec.agentKey,
      owner: options.engineId,
      leaseMs: exec.timeoutMs > 0 ? exec.timeoutMs : options.leaseMs,
      rateWait: exec.rateWait,
    });
    if (status !== 'RUNNING') throw notDelivered(task.id, 'START', status);
    const context = new AttemptContext(exec, {
      executionId: exec.id,
      task: { ...task, errors: [...task.errors] },
      workflow: this.deps.workflowView(exec.workflowId),
      dependencies: this.deps.dependencies(task),
      attempt: task.attempts,
      metadata: { ...exec.metadata },
    });
    exec.lastMetadata = context.metadata;
    return context;
  }

  private isRunning(exec: Execution): boolean {
    return this.deps.live.phaseOf(exec) === 'running';
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
    if (exec) this.failRunning(exec, new ExecutionTimeoutError(exec.timeoutMs));
  }

  /**
   * Fails the running attempt of `exec` with `error` (a timeout of some kind): its agent's signal is
   * aborted and the failure settles with the next batch. Nothing when no attempt of it is running.
   */
  failRunning(exec: Execution, error: Error): void {
    if (!this.isRunning(exec)) return;
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
    // Ended first: the agent's abort listeners may call back into the engine (a cancel again).
    this.cancelled(exec);
    abortAttempt(exec, error);
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
   * Applies settled attempts in one batch: one SETTLED into the actor system frees their slots
   * (executor, then each agent) and brings each task actor its outcome from its agent; the rows are
   * then written from the states reached. An execution that already ended (cancelled, interrupted,
   * lost) only frees its slot.
   */
  flush(): void {
    this.settleScheduled = false;
    if (this.settling.length === 0) return;
    const settled = this.settling;
    this.settling = [];
    const byAgent = new Map<string, SettledExecution[]>();
    const outcomes: Outcome[] = [];
    for (const exec of settled) {
      const result = exec.pending!;
      exec.pending = null;
      const ended = !this.deps.live.isLive(exec);
      let list = byAgent.get(exec.agentKey);
      if (!list) byAgent.set(exec.agentKey, (list = []));
      if (ended) {
        const cancelled = exec.task.status === 'CANCELLED';
        list.push({ executionId: exec.id, taskId: exec.task.id, ok: false, cancelled });
        continue;
      }
      const outcome = this.outcomeOf(exec, result, false);
      outcomes.push(outcome);
      list.push({
        executionId: exec.id,
        taskId: exec.task.id,
        ok: outcome.event.type === 'SUCCEED',
        cancelled: false,
        outcome: outcome.event,
      });
    }
    const agents: AgentBatch<SettledExecution>[] = [];
    for (const [agentId, executions] of byAgent) agents.push({ agentId, executions });
    this.deps.freed(settled);
    this.deps.send({ type: 'SETTLED', count: settled.length, agents });
    if (this.deps.breakers.size > 0) this.tellBreakers(outcomes);
    for (const outcome of outcomes) {
      const status = this.deps.door.record(outcome.exec.task, outcome.exec.actor!);
      const taken = outcome.event.type === 'SUCCEED' ? status === 'COMPLETED' : status !== 'RUNNING';
      if (!taken) throw notDelivered(outcome.exec.task.id, outcome.event.type, status);
      this.conclude(outcome);
    }
  }

  /** Tells the agents' breakers the outcomes that count (see `countsAgainstBreaker`). */
  private tellBreakers(outcomes: readonly Outcome[]): void {
    for (const { exec, event } of outcomes) {
      if (event.type === 'SUCCEED') this.deps.breakers.record(exec.agentKey, true);
      else if (countsAgainstBreaker(event, event.interrupted === true))
        this.deps.breakers.record(exec.agentKey, false);
    }
  }

  /**
   * Applies an attempt's outcome directly to its task actor (a recovered attempt that was running
   * when its engine died). `interrupted`: the attempt was cut short by its engine (see the task
   * machine's rule).
   */
  apply(exec: Execution, result: AttemptResult, interrupted = false): void {
    const outcome = this.outcomeOf(exec, result, interrupted);
    this.deps.door.send(exec.task, outcome.event, exec.actor);
    this.conclude(outcome);
  }

  /**
   * The task machine's event for an attempt's result: SUCCEED with the output copied into the row
   * (an output that cannot be stored fails the attempt instead), or FAIL with what the retry rules
   * need (the error's kind and hints, and a random sample for the backoff). The task actor is
   * RUNNING (its attempt settled while the execution was live), which takes both.
   */
  private outcomeOf(exec: Execution, result: AttemptResult, interrupted: boolean): Outcome {
    const { options } = this.deps;
    const task = exec.task;
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
    let outcome: Outcome;
    if (result.ok) {
      task.outputData = output;
      outcome = { exec, event: { type: 'SUCCEED' }, cause: null, interrupted };
    } else {
      // The task machine decides whether the task runs again, and after what delay.
      const failure = failureOf(result.error, options.random());
      outcome = { exec, event: { type: 'FAIL', interrupted, ...failure }, cause: result.error, interrupted };
    }
    // Rate limits: the attempt's usage moves its agent's and its key's buckets, a retry-after its
    // agent's, for no longer than the retry waits (capped at the policy's maxDelayMs).
    if (exec.agent.rateLimits !== undefined || exec.keyRateLimits.length > 0) {
      const retryAfterMs = outcome.event.type === 'FAIL' ? outcome.event.retryAfterMs : undefined;
      this.deps.rates?.settled(exec, retryAfterDelay(exec.policy, retryAfterMs));
    }
    return outcome;
  }

  /** Records what the task machine made of an outcome: the completion, or the error and what follows. */
  private conclude({ exec, event, cause, interrupted }: Outcome): void {
    const task = exec.task;
    if (event.type === 'SUCCEED') {
      this.deps.committer.stageCompletion({
        taskId: task.id,
        executionId: exec.id,
        attempt: task.attempts,
        completedAt: this.deps.options.clock.now(),
      });
      this.finish(exec, null);
      return;
    }
    const error = this.recordError(exec, cause, interrupted, exec.lastMetadata);
    // Otherwise the task machine waits in PENDING.backoff, and queues it again when it is due.
    if (task.status === 'FAILED') this.finish(exec, error);
  }

  /**
   * Sends FAIL to the task machine and records the attempt's error: `cause`, or for an
   * interrupted attempt the interruption error the machine's count calls for.
   */
  private fail(exec: Execution, failure: Failure, cause: unknown, interrupted: boolean): AttemptError {
    this.deps.door.send(exec.task, { type: 'FAIL', interrupted, ...failure }, exec.actor);
    return this.recordError(exec, cause, interrupted);
  }

  /** Records the error of an attempt whose FAIL the task machine has taken. */
  private recordError(
    exec: Execution,
    cause: unknown,
    interrupted: boolean,
    metadata?: Record<string, unknown> | null,
  ): AttemptError {
    const task = exec.task;
    const now = this.deps.options.clock.now();
    const reason = interrupted ? interruptionError(exec.actor!) : cause;
    const error = normalizeError(reason, task.attempts, now, task.status === 'PENDING', metadata);
    // Which agent failed: a fallback leaves it out, and the history tells the agents apart.
    error.agentId = exec.agentKey;
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

  /** Ends an execution whose task reached a final state: its promise settles once that commits. */
  finish(exec: Execution, error: AttemptError | null): void {
    this.deps.live.forget(exec);
    const result = resultOf(exec, error, this.deps.options.clock.now());
    this.deps.committer.afterCommit((failure) => {
      // A final write the store refused (another engine took the task over) is no result.
      const error = failure ?? exec.lost;
      if (error) exec.reject(error);
      else exec.resolve(result);
    });
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

/** An event the agent actor was to bring a task actor did not arrive: a bug, never a user error. */
function notDelivered(taskId: string, event: string, status: string): Error {
  return new Error(`Task ${taskId} did not take ${event} from its agent actor (it is ${status})`);
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
