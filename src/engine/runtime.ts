import type { Actor, ActorOptions, AnyActorLogic, AnyActorRef } from 'xstate';
import { agentMachine, type SettledExecution } from '../../machines/agent.machine.js';
import { engineMachine } from '../../machines/engine.machine.js';
import { executorMachine, type ExecutorMachine } from '../../machines/executor.machine.js';
import type { RouterMachine } from '../../machines/router.machine.js';
import { taskMachine, type TaskMachine } from '../../machines/task.machine.js';
import type { Agent } from '../domain/agent.js';
import type { Workflow } from '../domain/workflow.js';
import type { Task } from '../domain/task.js';
import {
  AttemptInterruptedError,
  EngineStoppedError,
  ExecutionCancelledError,
  ExecutionTimeoutError,
  TooManyInterruptionsError,
} from '../errors/errors.js';
import { normalizeError } from '../errors/normalize.js';
import { ErrorCode } from '../errors/codes.js';
import { copyPayload } from './payload.js';
import type { Store } from '../repositories/store.js';
import { createLoadTable, type LoadTable } from '../routing/load-table.js';
import { actorOptions, startActor } from './actors.js';
import { AttemptContext, abortAttempt, runAttempt, type AttemptResult } from './attempt.js';
import { Committer } from './committer.js';
import type { Execution } from './execution.js';
import type { Hooks } from './hooks.js';
import type { ResolvedEngineOptions } from './options.js';
import { PriorityQueue } from './priority-queue.js';
import { planOf, resultOf } from './task-rows.js';
import { failureOf } from './retry-policy.js';
import { createTaskActor, TaskDoor } from './task-door.js';
import { ControlPoller } from './control-poller.js';
import { WorkflowActors } from './workflows.js';

type AgentRef = Actor<typeof agentMachine>;

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

/**
 * The moving part of an engine: the actor system (executor, agents, router), the live workflow
 * and task actors, the queues, and the group committer. Services validate arguments and call in.
 */
export class Runtime {
  readonly committer: Committer;
  readonly workflows: WorkflowActors;
  /** The one door through which task statuses change. */
  readonly door: TaskDoor;
  readonly load: LoadTable;
  readonly hooks: Hooks = { pre: [], post: [] };
  readonly actorOptions: ActorOptions<AnyActorLogic>;
  readonly engine: Actor<typeof engineMachine>;
  readonly executor: Actor<ExecutorMachine>;
  readonly router: Actor<RouterMachine>;
  readonly control: ControlPoller;
  private readonly taskLogic: TaskMachine;
  private readonly byId = new Map<string, Execution>();
  private readonly byTask = new Map<string, Execution>();
  /** Live executions per workflow; a workflow leaves memory once its count drops to zero. */
  private readonly liveByWorkflow = new Map<string, number>();
  /** Executions by their task actor, for the task machine's provided actions. */
  private readonly byActor = new Map<AnyActorRef, Execution>();
  private readonly queues = new Map<string, PriorityQueue<Execution>>();
  private readonly withWork = new Set<string>();
  private readonly agents = new Map<string, AgentRef>();
  private settling: Execution[] = [];
  /** Tasks touched by live executions, one set per open `decideOnStored`. */
  private readonly watches = new Set<Set<string>>();
  /** Running executions let go when the store was lost, with the error their promise gets. */
  private readonly lost = new Map<Execution, Error>();
  private pumpScheduled = false;
  private pumping = false;
  /** Executions queued since the executor was last told (sent as one ENQUEUED). */
  private unannounced = 0;
  private settleScheduled = false;
  private stopping = false;

  constructor(
    readonly options: ResolvedEngineOptions,
    readonly store: Store,
  ) {
    this.actorOptions = actorOptions(options);
    this.committer = new Committer(store, {
      clock: options.clock,
      random: options.random,
      retryMs: options.storeRetryMs,
      logger: options.logger,
    });
    this.committer.onGiveUp((error) => this.abandon(error));
    // Attempts settled in this turn join this turn's batch (before the workflows derive their rows).
    this.committer.onBeforeFlush(() => this.flushSettled());
    this.workflows = new WorkflowActors(store, this.committer, options.clock, this.actorOptions);
    this.door = new TaskDoor(this.committer, this.workflows, options.clock);
    this.load = createLoadTable();
    this.taskLogic = taskMachine.provide({
      actions: {
        retryDue: ({ self }) => this.onRetryDue(this.byActor.get(self)),
        timedOut: ({ self }) => this.onTimeout(this.byActor.get(self)),
      },
    });
    const agentLogic = agentMachine.provide({
      actions: {
        startExecutions: ({ context }, { executionIds }) => this.startAttempts(context.agentId, executionIds),
        reportSettled: ({ context }, { executions }) => this.reportSettled(context.agentId, executions),
        refuseExecutions: (_, { executionIds }) => this.refuse(executionIds),
      },
    });
    const logic = engineMachine.provide({
      actors: {
        executor: executorMachine.provide({
          actions: { pump: () => this.schedulePump() },
          actors: { agent: agentLogic },
        }),
      },
    });
    this.engine = startActor(logic, {
      ...this.actorOptions,
      id: 'engine',
      input: {
        executor: { maxConcurrency: options.maxConcurrency },
        router: { strategy: options.routingStrategy },
      },
    });
    this.executor = this.engine.system.get('executor') as Actor<ExecutorMachine>;
    this.router = this.engine.system.get('router') as Actor<RouterMachine>;
    this.control = new ControlPoller(this);
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  /** The live execution of a task, if it is queued, running or waiting to retry. */
  executionOf(taskId: string): Execution | undefined {
    return this.byTask.get(taskId);
  }

  /** True while this engine has a live execution (queued, held, running, waiting) of the workflow. */
  holds(workflowId: string): boolean {
    return this.liveByWorkflow.has(workflowId);
  }

  /**
   * Runs `decide` for a decision taken on rows read from the store (recovery, steering or
   * cancelling rows no execution holds): it starts once this engine's pending changes have
   * committed, and `touched` collects, until it returns, the tasks whose live execution started or
   * ended here meanwhile. Their rows may be stale (an attempt that completed after the read), so
   * `decide` leaves them to that execution.
   */
  async decideOnStored<R>(decide: (touched: ReadonlySet<string>) => Promise<R>): Promise<R> {
    const touched = new Set<string>();
    this.watches.add(touched);
    try {
      await this.committer.settle();
      return await decide(touched);
    } finally {
      this.watches.delete(touched);
    }
  }

  private touch(taskId: string): void {
    for (const touched of this.watches) touched.add(taskId);
  }

  /**
   * Executions waiting to start, per agent key: queued, or reserved by a batch, and neither their
   * task nor their workflow paused. Read-only; O(live executions), for routing snapshots.
   */
  queuedByAgent(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const exec of this.byTask.values()) {
      if (exec.phase !== 'queued' && exec.phase !== 'reserved') continue;
      if (exec.task.status === 'PAUSED' || this.workflows.isPaused(exec.workflowId)) continue;
      counts.set(exec.agentKey, (counts.get(exec.agentKey) ?? 0) + 1);
    }
    return counts;
  }

  /** Queues an execution; it settles with its result once the final state has committed. */
  submit(exec: Execution): void {
    if (exec.phase === 'done') {
      // Cancelled while reserved: already final, so its lane moves on at once.
      this.moveLaneOn(exec);
      return;
    }
    if (exec.phase !== 'reserved') this.register(exec);
    exec.task.execution = planOf(exec);
    this.committer.stageTaskState(exec.task);
    // A cancelled workflow starts nothing (an execution recovered after the cancel, say).
    if (exec.cancelRequested || this.workflows.isCancelled(exec.workflowId)) {
      this.finishCancelled(exec);
      return;
    }
    if (exec.task.status === 'PAUSED') {
      exec.phase = 'held';
      return;
    }
    this.enqueue(exec);
  }

  /**
   * Takes over an execution found in the store: an attempt that was RUNNING when its engine died
   * counts as interrupted and goes through the retry policy; a waiting one waits until `runAfter`.
   */
  adopt(exec: Execution): void {
    const task = exec.task;
    if (task.status !== 'RUNNING') {
      const delay = (task.runAfter ?? 0) - this.options.clock.now();
      if (task.status === 'PENDING' && delay > 0) {
        this.register(exec);
        this.committer.stageTaskState(task);
        exec.actor = this.taskActor(exec);
        exec.actor.send({ type: 'WAIT', delay });
        exec.phase = 'backoff';
        return;
      }
      this.submit(exec);
      return;
    }
    this.register(exec);
    exec.actor = this.taskActor(exec);
    exec.phase = 'running';
    this.applyResult(exec, { ok: false, error: new AttemptInterruptedError() }, true);
  }

  /**
   * Registers an execution that will be submitted later (a batch waiting for a free lane), so it
   * counts as live: it cannot be started twice, and pausing or cancelling its task reaches it.
   */
  reserve(exec: Execution): void {
    this.register(exec);
    exec.phase = 'reserved';
    // Recorded now, so a restart resumes the task even if its turn in the batch never came.
    exec.task.execution = planOf(exec);
    this.committer.stageTaskState(exec.task);
  }

  private taskActor(exec: Execution): NonNullable<Execution['actor']> {
    let interruptions = 0;
    for (const error of exec.task.errors)
      if (error.code === ErrorCode.ATTEMPT_INTERRUPTED) interruptions += 1;
    const limits = {
      maxAttempts: exec.attemptLimit,
      interruptions,
      maxInterruptions: exec.policy.maxInterruptions,
      retry: exec.policy,
    };
    const actor = createTaskActor(this.taskLogic, exec.task, limits, this.actorOptions);
    this.byActor.set(actor, exec);
    return actor;
  }

  /** Makes an execution live here; its task row names this engine as the one holding it. */
  private register(exec: Execution): void {
    if (this.stopping) throw new EngineStoppedError();
    exec.task.leaseOwner = this.options.engineId;
    const fresh = this.byTask.get(exec.task.id) !== exec;
    if (this.watches.size > 0) this.touch(exec.task.id);
    this.byId.set(exec.id, exec);
    this.byTask.set(exec.task.id, exec);
    if (fresh && exec.workflowId !== null) {
      this.liveByWorkflow.set(exec.workflowId, (this.liveByWorkflow.get(exec.workflowId) ?? 0) + 1);
    }
    this.ensureAgent(exec.agent, exec.agentKey);
  }

  /** Puts held executions of a workflow (or one task) back in their queues. */
  release(filter: (exec: Execution) => boolean): void {
    for (const exec of this.byTask.values()) {
      if (exec.phase === 'held' && exec.task.status !== 'PAUSED' && filter(exec)) this.enqueue(exec);
    }
  }

  /** Holds a queued or waiting execution (its task is being paused). */
  hold(exec: Execution): void {
    if (exec.phase === 'reserved') return; // submit() holds it, seeing its task PAUSED
    this.announce();
    if (exec.phase === 'queued') this.executor.send({ type: 'DEQUEUED', count: 1 });
    exec.phase = 'held';
  }

  /** Cancels a live execution: a running attempt is aborted and its slot freed at once. */
  cancel(exec: Execution, reason = 'The task was cancelled'): void {
    if (exec.phase === 'done') return;
    exec.cancelRequested = true;
    if (exec.phase === 'running') {
      // A result not yet applied loses: only a completion applied before the cancel stands.
      exec.token += 1;
      abortAttempt(exec, new ExecutionCancelledError(reason));
      this.queueSettle(exec, { ok: false, error: new ExecutionCancelledError(reason) }, true);
      return;
    }
    this.announce();
    if (exec.phase === 'queued') this.executor.send({ type: 'DEQUEUED', count: 1 });
    this.finishCancelled(exec);
  }

  /** Cancels every live execution of a workflow, in one synchronous step. */
  cancelWorkflowExecutions(workflowId: string, reason: string): void {
    for (const exec of [...this.byTask.values()]) {
      if (exec.workflowId === workflowId) this.cancel(exec, reason);
    }
  }

  private ensureAgent(agent: Agent, key: string): void {
    if (this.agents.has(key)) return;
    const limit = agent.maxConcurrency ?? Number.MAX_SAFE_INTEGER;
    this.executor.send({ type: 'REGISTER_AGENT', agentId: key, maxConcurrency: limit });
    this.agents.set(key, this.engine.system.get(`agent:${key}`) as AgentRef);
  }

  private enqueue(exec: Execution): void {
    exec.phase = 'queued';
    let queue = this.queues.get(exec.agentKey);
    if (!queue) {
      queue = new PriorityQueue<Execution>();
      this.queues.set(exec.agentKey, queue);
    }
    queue.push(exec, exec.priority);
    this.withWork.add(exec.agentKey);
    this.unannounced += 1;
    this.schedulePump();
  }

  /** Tells the executor about executions queued since it last heard. */
  private announce(): void {
    if (this.unannounced === 0) return;
    const count = this.unannounced;
    this.unannounced = 0;
    this.executor.send({ type: 'ENQUEUED', count });
  }

  private schedulePump(): void {
    if (this.pumpScheduled || this.pumping) return;
    this.pumpScheduled = true;
    queueMicrotask(() => this.pump());
  }

  /** Moves queued executions into free slots, within the global and each agent's limit. */
  private pump(): void {
    this.pumpScheduled = false;
    this.pumping = true;
    try {
      this.announce();
      this.dispatch();
    } finally {
      this.pumping = false;
    }
  }

  private dispatch(): void {
    const executor = this.executor.getSnapshot();
    if (executor.status !== 'active' || this.stopping) return;
    let free = executor.context.maxConcurrency - executor.context.inFlight;
    let held = 0;
    let dispatched = 0;
    const runs: Array<[AgentRef, string[]]> = [];
    const served: string[] = [];
    for (const key of this.withWork) {
      if (free <= 0) break;
      const queue = this.queues.get(key)!;
      const agent = this.agents.get(key)!.getSnapshot().context;
      let room = agent.maxConcurrency - agent.inFlight;
      const batch: string[] = [];
      while (room > 0 && free > 0 && queue.size > 0) {
        const exec = queue.shift()!;
        if (exec.phase !== 'queued') continue;
        if (this.workflows.isPaused(exec.workflowId)) {
          exec.phase = 'held';
          held += 1;
          continue;
        }
        exec.phase = 'running';
        batch.push(exec.id);
        room -= 1;
        free -= 1;
      }
      served.push(key);
      if (batch.length > 0) {
        runs.push([this.agents.get(key)!, batch]);
        dispatched += batch.length;
      }
    }
    for (const key of served) {
      this.withWork.delete(key);
      if (this.queues.get(key)!.size > 0) this.withWork.add(key);
    }
    if (held > 0) this.executor.send({ type: 'DEQUEUED', count: held });
    if (dispatched > 0) this.executor.send({ type: 'DISPATCHED', count: dispatched });
    for (const [agent, executionIds] of runs) agent.send({ type: 'RUN', executionIds });
  }

  /**
   * Starts attempts in two steps: each task row goes RUNNING with its attempt counted, and the
   * agents run only once that commit has landed (one commit for the batch), so an attempt a crash
   * interrupts is always on record and counts against the policy. An attempt cancelled, timed out
   * or let go meanwhile never runs its agent.
   */
  private startAttempts(agentKey: string, executionIds: readonly string[]): void {
    this.load.trigger.started({ agentId: agentKey, count: executionIds.length });
    const starting: Execution[] = [];
    const contexts: AttemptContext[] = [];
    for (const id of executionIds) {
      const exec = this.byId.get(id);
      if (!exec) continue;
      starting.push(exec);
      contexts.push(this.beginAttempt(exec));
    }
    if (starting.length > 0)
      this.committer.afterCommit((failure) => this.launch(starting, contexts, failure));
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
        this.queueSettle(exec, { ok: false, error: failure });
        continue;
      }
      const token = exec.token;
      void runAttempt(exec.agent, context, this.hooks).then((result) => {
        if (exec.token === token && exec.phase === 'running') this.queueSettle(exec, result);
      });
    }
  }

  private beginAttempt(exec: Execution): AttemptContext {
    const task = exec.task;
    exec.actor ??= this.taskActor(exec);
    this.door.send(task, { type: 'START', timeoutMs: exec.timeoutMs }, exec.actor, {
      agentId: exec.agentKey,
      owner: this.options.engineId,
      leaseMs: exec.timeoutMs > 0 ? exec.timeoutMs : this.options.leaseMs,
    });
    exec.token += 1;
    exec.attemptContext = null;
    const context = new AttemptContext(exec, {
      executionId: exec.id,
      task: { ...task, errors: [...task.errors] },
      workflow: this.workflowView(exec.workflowId),
      attempt: task.attempts,
      metadata: { ...exec.metadata },
    });
    exec.lastMetadata = context.metadata;
    return context;
  }

  /** A copy of a live workflow's row for an agent's context; agents never hold the live one. */
  private workflowView(workflowId: string | null): Workflow | null {
    const row = workflowId === null ? undefined : this.workflows.peek(workflowId)?.row;
    return row ? { ...row } : null;
  }

  /**
   * Queues an attempt's outcome for the next settle batch. An attempt settles once: a later outcome
   * (a timeout firing after the result came) is dropped, except with `replace` (a cancel), which
   * takes the place of a result not yet applied.
   */
  private queueSettle(exec: Execution, result: AttemptResult, replace = false): void {
    if (exec.pending !== null) {
      if (replace) exec.pending = result;
      return;
    }
    exec.pending = result;
    this.settling.push(exec);
    if (this.settleScheduled) return;
    this.settleScheduled = true;
    afterCallbacks(() => this.flushSettled());
  }

  /** Applies settled attempts in one batch: task actors, then agent slots, then the executor. */
  private flushSettled(): void {
    this.settleScheduled = false;
    if (this.settling.length === 0) return;
    const settled = this.settling;
    this.settling = [];
    const byAgent = new Map<string, SettledExecution[]>();
    for (const exec of settled) {
      const result = exec.pending!;
      exec.pending = null;
      this.applyResult(exec, result);
      let list = byAgent.get(exec.agentKey);
      if (!list) byAgent.set(exec.agentKey, (list = []));
      list.push({ executionId: exec.id, ok: result.ok, cancelled: !result.ok && exec.cancelRequested });
    }
    for (const [key, executions] of byAgent) this.agents.get(key)?.send({ type: 'SETTLED', executions });
    this.executor.send({ type: 'SETTLED', count: settled.length });
  }

  /** `interrupted`: the attempt was cut short by its engine (see the task machine's rule). */
  private applyResult(exec: Execution, result: AttemptResult, interrupted = false): void {
    const task = exec.task;
    const actor = exec.actor!;
    const now = this.options.clock.now();
    exec.attemptContext = null;
    const lost = this.lost.get(exec);
    if (lost) {
      this.lost.delete(exec);
      this.drop(exec);
      exec.reject(lost);
      return;
    }
    if (exec.cancelRequested) {
      this.finishCancelled(exec);
      return;
    }
    if (exec.releasing) {
      this.releaseAttempt(exec);
      return;
    }
    let output: unknown = null;
    if (result.ok && result.output !== undefined) {
      try {
        output = copyPayload(
          result.output,
          'output',
          this.options.maxPayloadBytes,
          ErrorCode.OUTPUT_NOT_SERIALIZABLE,
        );
      } catch (error) {
        result = { ok: false, error };
      }
    }
    if (result.ok) {
      task.outputData = output;
      this.door.send(task, { type: 'SUCCEED' }, actor);
      this.committer.stageCompletion({
        taskId: task.id,
        executionId: exec.id,
        attempt: task.attempts,
        completedAt: now,
      });
      this.finish(exec, null);
      return;
    }
    // The task machine decides whether the task runs again, and after what delay.
    const failure = failureOf(result.error, this.options.random());
    const status = this.door.send(task, { type: 'FAIL', interrupted, ...failure }, actor);
    const cause = interrupted ? interruptionError(actor) : result.error;
    const error = normalizeError(cause, task.attempts, now, status === 'PENDING', exec.lastMetadata);
    task.errors.push(error);
    if (status === 'FAILED') this.finish(exec, error);
    else exec.phase = 'backoff';
  }

  private finishCancelled(exec: Execution): void {
    const task = exec.task;
    this.door.send(task, { type: 'CANCEL' }, exec.actor);
    const now = this.options.clock.now();
    this.finish(exec, normalizeError(new ExecutionCancelledError(), task.attempts, now, false));
  }

  private finish(exec: Execution, error: Execution['task']['errors'][number] | null): void {
    this.drop(exec);
    const result = resultOf(exec, error, this.options.clock.now());
    this.committer.afterCommit((failure) => (failure ? exec.reject(failure) : exec.resolve(result)));
    this.moveLaneOn(exec);
  }

  /**
   * Calls the execution's `onFinal` once, in a microtask: after the current settle batch, so the
   * next execution of a lane is staged behind this one's final state and the store never shows it
   * started before this one ended.
   */
  private moveLaneOn(exec: Execution): void {
    const onFinal = exec.onFinal;
    exec.onFinal = null;
    if (onFinal) queueMicrotask(onFinal);
  }

  private reportSettled(agentKey: string, executions: readonly SettledExecution[]): void {
    let ok = 0;
    let cancelled = 0;
    for (const execution of executions) {
      if (execution.ok) ok += 1;
      else if (execution.cancelled) cancelled += 1;
    }
    this.load.trigger.settled({
      agentId: agentKey,
      ok,
      cancelled,
      failed: executions.length - ok - cancelled,
    });
  }

  private refuse(executionIds: readonly string[]): void {
    let back = 0;
    for (const id of executionIds) {
      const exec = this.byId.get(id);
      if (!exec) continue;
      this.queues.get(exec.agentKey)!.push(exec, exec.priority);
      exec.phase = 'queued';
      this.withWork.add(exec.agentKey);
      back += 1;
    }
    if (back > 0) this.executor.send({ type: 'SETTLED', count: back });
    if (back > 0) this.executor.send({ type: 'ENQUEUED', count: back });
  }

  private onRetryDue(exec: Execution | undefined): void {
    if (exec?.phase === 'backoff') this.enqueue(exec);
  }

  private onTimeout(exec: Execution | undefined): void {
    if (!exec || exec.phase !== 'running') return;
    const error = new ExecutionTimeoutError(exec.timeoutMs);
    exec.token += 1;
    abortAttempt(exec, error);
    this.queueSettle(exec, { ok: false, error });
  }

  /**
   * Records an attempt cut short by `stop`: the error is kept, the task waits in the store
   * (PENDING, or FAILED when no attempt is left) for the next engine, and the caller's promise
   * rejects with ENGINE_STOPPED.
   */
  private releaseAttempt(exec: Execution): void {
    const task = exec.task;
    const actor = exec.actor!;
    // Due at once: the next engine takes it up without waiting for a backoff.
    const failure = { ...failureOf(new AttemptInterruptedError()), retryAfterMs: 0 };
    const status = this.door.send(task, { type: 'FAIL', interrupted: true, ...failure }, actor);
    const now = this.options.clock.now();
    task.errors.push(normalizeError(interruptionError(actor), task.attempts, now, status === 'PENDING'));
    this.letGo(exec);
    this.committer.afterCommit(() => exec.reject(new EngineStoppedError()));
  }

  /** Forgets a live execution and records that no engine holds its task any more (engine stop). */
  private letGo(exec: Execution): void {
    exec.task.leaseOwner = null;
    exec.task.leaseExpiresAt = null;
    this.committer.stageTaskState(exec.task);
    this.drop(exec);
  }

  /** Forgets a live execution without touching its row. */
  private drop(exec: Execution): void {
    exec.phase = 'done';
    if (exec.actor) {
      exec.actor.stop();
      this.byActor.delete(exec.actor);
      exec.actor = null;
    }
    exec.detach?.();
    this.byId.delete(exec.id);
    if (this.watches.size > 0) this.touch(exec.task.id);
    if (this.byTask.get(exec.task.id) === exec) {
      this.byTask.delete(exec.task.id);
      if (exec.workflowId !== null) this.leaveWorkflow(exec.workflowId);
    }
  }

  /**
   * Counts an execution of the workflow out; the last one out lets the workflow's actor go once
   * its final changes have committed (it is loaded again from the store when next needed), so a
   * long-lived engine keeps in memory only the workflows it is working on.
   */
  private leaveWorkflow(workflowId: string): void {
    const left = (this.liveByWorkflow.get(workflowId) ?? 1) - 1;
    if (left > 0) {
      this.liveByWorkflow.set(workflowId, left);
      return;
    }
    this.liveByWorkflow.delete(workflowId);
    this.committer.afterCommit(() => {
      if (!this.liveByWorkflow.has(workflowId)) this.workflows.forget(workflowId);
    });
  }

  /**
   * The store stayed unreachable past `storeRetryMs`: every live execution is let go without a
   * record (the store keeps its last committed rows, which `recover()` resumes) and its promise
   * rejects with `error`; running attempts are aborted and free their slots as they settle. No
   * lane moves on, so nothing new starts from this work.
   */
  private abandon(error: Error): void {
    this.announce();
    for (const exec of [...this.byTask.values()]) {
      exec.onFinal = null;
      if (exec.phase === 'running') {
        this.lost.set(exec, error);
        if (exec.pending) continue; // settled already; applied with the next batch
        exec.token += 1;
        abortAttempt(exec, error);
        this.queueSettle(exec, { ok: false, error });
        continue;
      }
      if (exec.phase === 'queued') this.executor.send({ type: 'DEQUEUED', count: 1 });
      this.drop(exec);
      exec.reject(error);
    }
  }

  /**
   * Stops taking work. Queued and waiting executions stay in the store for the next engine
   * (their promises reject with ENGINE_STOPPED); running attempts get `graceMs` to finish, then
   * are aborted and released with the attempt recorded. Finally every actor stops.
   */
  async stop(graceMs = Infinity): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.announce();
    for (const exec of [...this.byTask.values()]) {
      if (
        exec.phase === 'reserved' ||
        exec.phase === 'queued' ||
        exec.phase === 'held' ||
        exec.phase === 'backoff'
      ) {
        if (exec.phase === 'queued') this.executor.send({ type: 'DEQUEUED', count: 1 });
        this.letGo(exec);
        exec.reject(new EngineStoppedError());
      }
    }
    await this.drained(graceMs);
    if (this.executor.getSnapshot().context.inFlight > 0) {
      for (const exec of [...this.byTask.values()]) {
        // An attempt whose result came is applied as it is, not recorded as interrupted.
        if (exec.phase !== 'running' || exec.pending?.ok) continue;
        exec.releasing = true;
        exec.token += 1;
        abortAttempt(exec, new EngineStoppedError());
        this.queueSettle(exec, { ok: false, error: new EngineStoppedError() }, true);
      }
      // Released now, not at the end of the phase: their rows and rejections then belong to the
      // commit that stop() waits for, so callers see those rejections as stop() resolves.
      this.flushSettled();
      await this.drained(Infinity);
    }
    this.engine.send({ type: 'STOP' });
    this.control.stop();
    await this.committer.settle();
    this.engine.stop();
    this.workflows.stopAll();
  }

  /** Resolves when nothing is in flight, or after `timeoutMs` on the engine's clock. */
  private drained(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      let timer: unknown = null;
      const done = () => {
        subscription.unsubscribe();
        if (timer !== null) this.options.clock.clearTimeout(timer);
        resolve();
      };
      const subscription = this.executor.subscribe(() => {
        if (this.executor.getSnapshot().context.inFlight === 0) done();
      });
      if (this.executor.getSnapshot().context.inFlight === 0 || timeoutMs <= 0) done();
      else if (Number.isFinite(timeoutMs)) timer = this.options.clock.setTimeout(done, timeoutMs);
    });
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

export type { Task };
