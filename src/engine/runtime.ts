import { Holds } from './holds.js';
import type { Actor, ActorOptions, AnyActorLogic } from 'xstate';
import type { engineMachine, RuntimeEvent } from '../../machines/engine.machine.js';
import type { ExecutorMachine } from '../../machines/executor.machine.js';
import type { RouterMachine } from '../../machines/router.machine.js';
import { taskMachine, type TaskMachine } from '../../machines/task.machine.js';
import type { Workflow } from '../domain/workflow.js';
import { AttemptInterruptedError, EngineStoppedError, LeaseLostError } from '../errors/errors.js';
import type { Store } from '../repositories/store.js';
import { createLoadTable, type LoadTable } from '../routing/load-table.js';
import { ClusterLoad } from '../routing/cluster-load.js';
import { actorOptions } from './actors.js';
import { AgentLoadEvents } from './agent-load-events.js';
import { Breakers } from './breakers.js';
import { Committer } from './committer.js';
import { ControlPoller } from './control-poller.js';
import { Dispatcher } from './dispatcher.js';
import { RateGate } from './rate-limits.js';
import { Fences } from './fences.js';
import { EngineActors } from './engine-actors.js';
import { Graphs } from './graphs.js';
import { taskLimitsOf, type Execution } from './execution.js';
import type { Hooks } from './hooks.js';
import { LiveExecutions, type TouchedTasks } from './live-executions.js';
import type { ResolvedEngineOptions } from './options.js';
import { Settling } from './settling.js';
import { TimeLimits } from './time-limits.js';
import { createTaskActor, TaskDoor } from './task-door.js';
import { planOf } from './task-rows.js';
import { applyHere, applyWorkflowCommand, steerHere } from './workflow-control.js';
import { BudgetGate } from './budget-gate.js';
import { storedWorkflowStatus, WorkflowActors } from './workflows.js';
import { EventOutlet, type EngineEvents, type EventDraft } from './engine-events.js';
import type { BreakerState } from '../../machines/circuit-breaker.machine.js';

/**
 * The moving part of an engine: the actor system (EngineActors: engine, executor, agents,
 * router, and the way in), the live workflow and task actors, and the group committer, wired
 * together. Its parts, by concept: LiveExecutions (what this engine holds), Dispatcher (queues and slots), Settling (attempts
 * started, settled and ended), TaskDoor (every task status change); here the way an execution
 * enters (submit, reserve, adopt), is steered (pause, resume, cancel), and the engine stops.
 */
export class Runtime {
  readonly committer: Committer;
  readonly workflows: WorkflowActors;
  /** The one door through which task statuses change. */
  readonly door: TaskDoor;
  readonly live: LiveExecutions;
  readonly load: LoadTable;
  readonly hooks: Hooks = { pre: [], post: [] };
  readonly actorOptions: ActorOptions<AnyActorLogic>;
  readonly engine: Actor<typeof engineMachine>;
  readonly executor: Actor<ExecutorMachine>;
  readonly router: Actor<RouterMachine>;
  readonly control: ControlPoller;
  /** Keeps the load table's view of the other engines on the store (cluster routing). */
  readonly cluster: ClusterLoad;
  /** Acts on the steps of the workflows' graphs. */
  readonly graphs: Graphs;
  /** The circuit breakers of the agent configs that have one. */
  readonly breakers: Breakers;
  /** Where the engine's events go: the store and its listeners. */
  readonly outlet: EventOutlet;
  /** Checks workflow budgets and agent quotas before each attempt. */
  readonly budgets: BudgetGate;
  private readonly dispatcher: Dispatcher;
  private readonly rates: RateGate;
  private readonly settling: Settling;
  private readonly limits: TimeLimits;
  private readonly taskLogic: TaskMachine;
  private readonly actors: EngineActors;
  private readonly loadEvents: AgentLoadEvents;
  private stopping = false;
  /** Runs of workflow graphs in this engine, by workflow id (see holdGraph). */
  private readonly graphRuns = new Holds<string>();

  constructor(
    readonly options: ResolvedEngineOptions,
    readonly store: Store,
    /** Where the engine's events go (`registry.on`); null: nobody can listen. */
    readonly events: EngineEvents | null = null,
    /** Called after each commit that wrote events to the store. */
    eventsWritten: () => void = () => {},
  ) {
    this.actorOptions = actorOptions(options);
    const fences = new Fences(options.engineId);
    // Events are written where the store keeps them, unless the engine's option says not to.
    const stored = options.storeEvents && typeof store.readEvents === 'function';
    this.outlet = new EventOutlet(events, stored, eventsWritten);
    this.committer = new Committer(store, {
      clock: options.clock,
      random: options.random,
      retryMs: options.storeRetryMs,
      logger: options.logger,
      fences,
      events: this.outlet,
      engineId: options.engineId,
    });
    this.committer.onGiveUp((error) => this.abandon(error));
    // Attempts settled in this turn join this turn's batch (before the workflows derive their rows).
    this.committer.onBeforeFlush(() => this.settling.flush());
    this.taskLogic = taskMachine.provide({
      actions: {
        // PENDING.ready's entry and exit: synchronous, they only change the dispatcher's queues
        // (it sends nothing at once).
        ready: ({ self }) => {
          const exec = this.live.ofActor(self);
          if (exec) this.dispatcher.enqueue(exec);
        },
        unready: ({ self }) => {
          const exec = this.live.ofActor(self);
          if (exec) this.dispatcher.unqueue(exec);
        },
        // After the transition, never inside it: the abort it starts (which the agent's listeners
        // react to, a cancel say) sends the actor events of its own.
        timedOut: ({ self }) => queueMicrotask(() => this.settling.timedOut(this.live.ofActor(self))),
        limitPassed: ({ self, event }) => {
          const limit = (event as { limit: 'deadline' | 'close' }).limit;
          queueMicrotask(() => this.limits.passed(this.live.ofActor(self), limit));
        },
        heartbeatMissed: ({ self }) =>
          queueMicrotask(() => this.limits.heartbeatMissed(this.live.ofActor(self))),
      },
    });
    this.load = createLoadTable();
    this.actors = new EngineActors(options, this.actorOptions, this.load, {
      pump: () => this.dispatcher.schedulePump(),
      refuse: (executionIds) => this.refuse(executionIds),
      // An actor that fails takes the engine root with it: let the work go as when the store is lost.
      failed: (error) => {
        this.live.closed = true;
        this.abandon(error);
      },
      loadChanged: (agentId) => this.loadEvents.changed(agentId),
    });
    ({ engine: this.engine, executor: this.executor, router: this.router } = this.actors);
    const host = { parent: this.engine, send: (event: RuntimeEvent) => this.send(event) };
    this.workflows = new WorkflowActors(store, this.committer, options.clock, host, this.outlet);
    this.door = new TaskDoor(this.committer, this.workflows, options.clock, this.outlet, (taskId) =>
      this.live.rowWritten(taskId),
    );
    this.live = new LiveExecutions(
      options.engineId,
      this.committer,
      this.workflows,
      (exec) => this.release(exec),
      fences,
      (exec) => this.leaseLost(exec),
    );
    this.graphs = new Graphs({
      store,
      maxPayloadBytes: options.maxPayloadBytes,
      committer: this.committer,
      door: this.door,
      workflows: this.workflows,
      clock: options.clock,
      logger: options.logger,
      send: (event) => this.send(event),
      executionOf: (taskId) => this.live.ofTask(taskId),
      decideOnStored: (decide, taskIds) => this.live.decideOnStored(decide, taskIds),
      holds: (workflowId) => this.holdsWorkflow(workflowId),
    });
    this.breakers = new Breakers({
      engineId: options.engineId,
      store,
      clock: options.clock,
      logger: options.logger,
      spawn: (agentId, breaker) => this.actors.spawnBreaker(agentId, breaker),
      maxAgeMs: () => this.control.pollMs,
      changed: (agentId, from, to, observed) => this.breakerChanged(agentId, from, to, observed),
    });
    this.rates = new RateGate({
      store,
      clock: options.clock,
      logger: options.logger,
      pump: () => this.dispatcher.schedulePump(),
    });
    this.dispatcher = new Dispatcher({
      rates: this.rates,
      executor: this.executor,
      send: (event) => this.send(event),
      agent: (key) => this.actors.agent(key)!,
      started: (executions) => this.settling.start(executions),
      isStopping: () => this.stopping,
    });
    this.settling = new Settling({
      options,
      committer: this.committer,
      door: this.door,
      live: this.live,
      hooks: this.hooks,
      breakers: this.breakers,
      send: (event) => this.send(event),
      workflowView: (workflowId) => this.workflowView(workflowId),
      dependencies: (task) => this.graphs.dependencies(task),
      freed: (executions) => this.dispatcher.settled(executions),
      rates: this.rates,
      admit: (exec) => this.budgets.check(exec),
    });
    this.budgets = new BudgetGate({
      store,
      prices: options.prices,
      quotas: options.quotas,
      clock: options.clock,
      // An engine that polls the store reads it again as often; one that does not reads it on every
      // check, but a memory store has no other writer than the engines of this process (docs/policies.md).
      maxAgeMs: () =>
        this.control.pollMs > 0 ? this.control.pollMs : store.kind === 'memory' ? Infinity : 0,
      cachedMetadata: (workflowId) => this.workflows.peek(workflowId)?.row.metadata,
      pause: (workflowId) => applyWorkflowCommand(this, workflowId, 'PAUSE'),
    });
    this.committer.onTaskRows((rows) => this.budgets.tasksTaken(rows));
    this.limits = new TimeLimits({
      clock: options.clock,
      door: this.door,
      live: this.live,
      settling: this.settling,
    });
    this.control = new ControlPoller({
      options,
      store,
      committer: this.committer,
      holds: ({ workflowId, taskId }) =>
        taskId !== null ? this.live.ofTask(taskId) !== undefined : this.holdsWorkflow(workflowId!),
      apply: ({ workflowId, taskId, type }) =>
        taskId !== null ? steerHere(this, taskId, type) : applyHere(this, workflowId!, type),
      unload: (workflowId) => this.workflows.unload(workflowId),
      polled: () => this.graphs.pollSignals(),
    });
    this.cluster = new ClusterLoad(
      {
        engineId: options.engineId,
        store,
        clock: options.clock,
        table: this.load,
        maxAgeMs: () => this.control.pollMs,
      },
      options.clusterLoad,
    );
    this.loadEvents = new AgentLoadEvents({
      outlet: this.outlet,
      committer: this.committer,
      clock: options.clock,
      agent: (agentId) => this.actors.agent(agentId),
    });
    // Last before a batch is taken: the loads after the attempts settled in it.
    this.committer.onBeforeFlush(() => this.loadEvents.flush());
  }

  /**
   * Announces an event that reports no change of a row (a breaker's, a worker's): it is stored with
   * the next commit and published once that has committed. Resolves once it has.
   */
  announce(draft: EventDraft): Promise<void> {
    if (!this.outlet.wants(draft.name)) return Promise.resolve();
    this.committer.announce(null, () => [draft]);
    return this.committer.settle();
  }

  /** A breaker's change: its own is announced; one observed in the store was stored by its maker. */
  private breakerChanged(agentId: string, from: BreakerState, to: BreakerState, observed: boolean): void {
    const payload = { agentId, from, to, observed, at: this.options.clock.now() };
    if (observed) this.outlet.publish([{ name: 'agent.circuit', payload }]);
    else void this.announce({ name: 'agent.circuit', payload }).catch(() => {});
  }

  /** See {@link EngineActors.send}. */
  send(event: RuntimeEvent): void {
    this.actors.send(event);
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  /** The live execution of a task, if it is queued, paused, running or waiting to retry. */
  executionOf(taskId: string): Execution | undefined {
    return this.live.ofTask(taskId);
  }

  /**
   * Joins the other processes on the store: beats and answers commands every `pollMs`. From then on
   * the store derives the status of the workflows each commit writes from their stored tasks: a
   * change another process made to a task of a workflow this engine runs (a retry, a task created
   * in it) is missing from this engine's counts, and must not be overwritten by them.
   */
  async startControl(pollMs: number): Promise<void> {
    this.committer.deriveWorkflowStatuses(storedWorkflowStatus);
    await this.control.start(pollMs);
  }

  /** True while this engine has a live execution of the workflow. */
  hasLive(workflowId: string): boolean {
    return this.live.hasWorkflow(workflowId);
  }

  /**
   * Counts a run of the workflow's graph (`executeWorkflow`) in this engine until the returned
   * function is called: while it runs, this engine holds the workflow even with nothing executing
   * (its nodes wait for a signal, a sleep, a child workflow), so steering from other processes
   * reaches it.
   */
  holdGraph(workflowId: string): () => void {
    return this.graphRuns.hold(workflowId);
  }

  /** This engine holds the workflow: it executes some of its tasks, or runs its graph. */
  holdsWorkflow(workflowId: string): boolean {
    return this.hasLive(workflowId) || this.graphRuns.has(workflowId);
  }

  /** See {@link LiveExecutions.decideOnStored}. */
  decideOnStored<R>(decide: (touched: TouchedTasks) => Promise<R>, taskIds?: readonly string[]): Promise<R> {
    return this.live.decideOnStored(decide, taskIds);
  }

  /** See {@link LiveExecutions.queuedByAgent}. */
  queuedByAgent(): Map<string, number> {
    return this.live.queuedByAgent();
  }

  /**
   * Submits a reserved execution: its task actor is created from its row and, in PENDING.ready,
   * queued (PAUSED or held, it waits for RESUME or UNHOLD, whose way into PENDING.ready queues it).
   * It settles with its result once the final state has committed.
   */
  submit(exec: Execution): void {
    if (!this.live.isLive(exec)) {
      // Cancelled while reserved: already final, so its lane moves on at once.
      this.settling.moveLaneOn(exec);
      return;
    }
    exec.task.execution = planOf(exec);
    this.committer.stageTaskState(exec.task);
    // A cancelled workflow starts nothing (an execution recovered after the cancel, say).
    if (exec.signal?.aborted === true || this.workflows.isCancelled(exec.workflowId)) {
      this.settling.cancelled(exec);
      return;
    }
    exec.actor ??= this.taskActor(exec);
    if (this.limits.expireDue(exec) || this.waitUntilDue(exec)) return;
    if (exec.actor.getSnapshot().hasTag('startable')) this.dispatcher.enqueue(exec);
  }

  /**
   * A PENDING task not due yet (a delayed task, a retry's backoff recorded in `runAfter`) waits in
   * PENDING.backoff (WAIT) and is queued when due. True when it waits.
   */
  private waitUntilDue(exec: Execution): boolean {
    const delay = (exec.task.runAfter ?? 0) - this.options.clock.now();
    if (delay <= 0 || exec.task.status !== 'PENDING') return false;
    this.door.send(exec.task, { type: 'WAIT', delay }, exec.actor);
    return true;
  }

  /**
   * Takes over an execution found in the store: an attempt that was RUNNING when its engine died
   * counts as interrupted and goes through the retry policy; a waiting one waits until `runAfter`.
   */
  adopt(exec: Execution): void {
    const task = exec.task;
    this.register(exec);
    if (task.status !== 'RUNNING') {
      // Restored in PENDING.ready (no entry action); not due yet, into backoff: queued when due.
      this.submit(exec);
      return;
    }
    exec.actor = this.taskActor(exec);
    this.settling.apply(exec, { ok: false, error: new AttemptInterruptedError() }, true);
    // Its retry waits in backoff, unless the task's close limit passed while no engine held it.
    if (this.live.isLive(exec)) this.limits.expireDue(exec);
  }

  /**
   * Registers an execution that will be submitted later (a batch waiting for a free lane), so it
   * counts as live: it cannot be started twice, and pausing or cancelling its task reaches it.
   */
  reserve(exec: Execution): void {
    this.register(exec);
    // Recorded now, so a restart resumes the task even if its turn in the batch never came.
    exec.task.execution = planOf(exec);
    this.committer.stageTaskState(exec.task);
  }

  /**
   * Tells the live task actors of a workflow that it was paused (HOLD: a task waiting to start
   * stays in PENDING.held) or resumed (UNHOLD). Actors created later take it from the workflow.
   */
  holdWorkflow(workflowId: string, held: boolean): void {
    const taskIds: string[] = [];
    for (const exec of this.live.values()) {
      if (exec.workflowId === workflowId && exec.actor?.getSnapshot().status === 'active')
        taskIds.push(exec.task.id);
    }
    if (taskIds.length > 0) this.send({ type: held ? 'HOLD' : 'UNHOLD', taskIds });
  }

  /** Cancels a live execution: a running attempt is aborted and its slot freed at once. */
  cancel(exec: Execution, reason = 'The task was cancelled'): void {
    const phase = this.live.phaseOf(exec);
    if (phase === 'done') return;
    if (phase === 'running') {
      this.settling.cancelRunning(exec, reason);
      return;
    }
    // CANCEL takes a queued one out of PENDING.ready, so out of its queue (action `unready`).
    this.settling.cancelled(exec);
  }

  /** Cancels every live execution of a workflow, in one synchronous step. */
  cancelWorkflowExecutions(workflowId: string, reason: string): void {
    for (const exec of this.live.all()) {
      if (exec.workflowId === workflowId) this.cancel(exec, reason);
    }
  }

  /** The task actor of an execution, resumed from its row, held if its workflow is paused. */
  private taskActor(exec: Execution): NonNullable<Execution['actor']> {
    const limits = { ...taskLimitsOf(exec), held: this.workflows.isPaused(exec.workflowId) };
    const parent = this.actors.agent(exec.agentKey)!;
    const actor = createTaskActor(
      this.taskLogic,
      exec.task,
      limits,
      parent,
      this.actorOptions.inspect !== undefined,
    );
    this.live.addActor(actor, exec);
    exec.actor = actor;
    this.limits.arm(exec);
    return actor;
  }

  /** A copy of a live workflow's row for an agent's context; agents never hold the live one. */
  private workflowView(workflowId: string | null): Workflow | null {
    const row = workflowId === null ? undefined : this.workflows.peek(workflowId)?.row;
    return row ? { ...row } : null;
  }

  /** Makes an execution live here, with an agent actor for its agent key. */
  private register(exec: Execution): void {
    this.live.add(exec);
    this.actors.ensureAgent(exec.agent, exec.agentKey);
    this.breakers.ensure(exec.agentKey, exec.agent.circuitBreaker);
  }

  /**
   * Stops the task actor of an execution that is no longer live here (its agent is its parent),
   * and takes it out of its queue: a stopped actor runs no exit action.
   */
  private release(exec: Execution): void {
    this.dispatcher.unqueue(exec);
    const actor = exec.actor;
    if (!actor || actor.getSnapshot().status !== 'active') return;
    this.send({ type: 'RELEASE', agents: [{ agentId: exec.agentKey, executions: [exec.task.id] }] });
  }

  private refuse(executionIds: readonly string[]): void {
    const back: Execution[] = [];
    for (const id of executionIds) {
      const exec = this.live.get(id);
      if (exec) back.push(exec);
    }
    this.dispatcher.requeue(back);
  }

  /**
   * The store refused a write of a task this engine held (fencing): another engine took it over.
   * The execution is dropped without another write (the new holder's record stands), a running
   * attempt is aborted, and the caller's promise rejects with LEASE_LOST; one that had already
   * ended here rejects instead of resolving. A batch's lane moves on.
   */
  private leaseLost(exec: Execution): void {
    const error = new LeaseLostError(exec.task.id, this.options.engineId);
    this.options.logger.warn(
      { taskId: exec.task.id, executionId: exec.id },
      'Another engine took over a task this engine held; this engine dropped its execution',
    );
    exec.lost = error;
    if (!this.live.isLive(exec)) return;
    if (this.live.phaseOf(exec) === 'running') this.settling.lose(exec, error);
    else {
      this.live.forget(exec);
      exec.reject(error);
    }
    this.settling.moveLaneOn(exec);
  }

  /**
   * The store stayed unreachable past `storeRetryMs`: every live execution is let go without a
   * record (the store keeps its last committed rows, which `recover()` resumes) and its promise
   * rejects with `error`; running attempts are aborted and free their slots as they settle. No
   * lane moves on, so nothing new starts from this work.
   */
  private abandon(error: Error): void {
    for (const exec of this.live.all()) {
      exec.onFinal = null;
      if (this.live.phaseOf(exec) === 'running') {
        this.settling.lose(exec, error);
        continue;
      }
      this.live.forget(exec);
      exec.reject(error);
    }
  }

  /**
   * Stops taking work. Queued and waiting executions stay in the store for the next engine
   * (their promises reject with ENGINE_STOPPED); running attempts get `graceMs` to finish, then
   * are aborted and recorded as interrupted. Finally every actor stops.
   */
  async stop(graceMs = Infinity): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.live.closed = true;
    this.letGoWaiting();
    await this.drained(graceMs);
    // Attempts that failed during the grace period with a retry left are waiting now: let go too.
    this.letGoWaiting();
    if (this.executor.getSnapshot().context.inFlight > 0) {
      for (const exec of this.live.all()) {
        // An attempt whose result came is applied as it is, not recorded as interrupted.
        if (this.live.phaseOf(exec) !== 'running' || exec.pending?.ok) continue;
        this.settling.interrupt(exec);
      }
      // Their slots are freed now, not at the end of the phase: their rows and rejections belong
      // to the commit that stop() waits for, so callers see those rejections as stop() resolves.
      this.settling.flush();
      await this.drained(Infinity);
      this.letGoWaiting();
    }
    this.control.stop();
    this.rates.stop();
    this.graphs.stop();
    try {
      // The last rows are derived while the actors still take events (a stopped engine takes none).
      await this.committer.settle();
      this.workflows.releaseAll();
    } finally {
      this.engine.send({ type: 'STOP' });
      await this.committer.settle();
      this.engine.stop();
    }
  }

  /**
   * Lets go of every live execution that is not running (queued, reserved, paused, waiting for a
   * retry): it stays in the store for the next engine, and its promise rejects with ENGINE_STOPPED.
   */
  private letGoWaiting(): void {
    for (const exec of this.live.all()) {
      if (this.live.phaseOf(exec) === 'running') continue;
      this.settling.unlease(exec);
      exec.reject(new EngineStoppedError());
    }
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
