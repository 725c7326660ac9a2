import type { WorkflowStatus } from '../../machines/status.js';
import type { Agent } from '../domain/agent.js';
import type { ExecutionResult } from '../domain/execution-result.js';
import type { Task } from '../domain/task.js';
import {
  ConditionFailedError,
  EngineStoppedError,
  InvalidArgumentError,
  InvalidStateError,
  TaskNotFoundError,
} from '../errors/errors.js';
import type { ExecuteOptions } from '../engine/execution.js';
import type { LiveWorkflow } from '../engine/workflows.js';
import type { Runtime } from '../engine/runtime.js';
import { runChildNode, type ChildEngine } from './child-workflows.js';
import type { ExecuteWorkflowOptions, WorkflowAgentResolver, WorkflowResult } from './workflow-options.js';
import { expectTaskNames, taskOptionsOf, withTaskOptions, type TaskExecuteOptions } from './task-options.js';
import { makeCompensations, sagaOf } from '../engine/compensations.js';
import { fallBack, fallbackAgentOf, withFallbackAgent, type FallbackDoors } from './fallback.js';

/** What a run needs of the engine. */
export type WorkflowRunEngine = Pick<
  Runtime,
  | 'options'
  | 'store'
  | 'committer'
  | 'workflows'
  | 'graphs'
  | 'live'
  | 'executionOf'
  | 'hasLive'
  | 'holdGraph'
  | 'door'
> &
  ChildEngine;

/** What a run needs of the executor: one execution of one task. */
export type ExecuteOne = (
  taskId: string,
  agent: Agent,
  workflowId: string,
  options: ExecuteOptions,
) => Promise<ExecutionResult>;

interface Waiter {
  resolve(result: WorkflowResult): void;
  reject(error: unknown): void;
  since: number;
}

/**
 * Runs a workflow's graph in one engine: the nodes the workflow machine releases are executed, at
 * most `maxConcurrent` at once, each as `executeTask` would. The run lives while the workflow has
 * work: a call of `executeWorkflow` resolves once the workflow is COMPLETED, FAILED or CANCELLED
 * with nothing of the run still running, or PAUSED with nothing running (held executions stay and
 * go on when the workflow resumes; a later call joins the same run).
 */
export class WorkflowRun {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly inFlight = new Set<string>();
  /** What the run executed that no call has been given yet. */
  private results: ExecutionResult[] = [];
  private readonly waiters: Waiter[] = [];
  private options: ExecuteWorkflowOptions;
  private limit: number;
  private readonly stopListening: () => void;
  private readonly unsubscribe: () => void;
  private readonly agents = new Map<string, Promise<Agent>>();
  /** Child-workflow nodes whose child this run is running. */
  private readonly children = new Set<string>();
  private failure: unknown = null;
  /** Whether the compensations a failure calls for are made (checked on each stop of a FAILED workflow). */
  private saga: 'unchecked' | 'making' | 'made' = 'unchecked';
  ended = false;
  /** Ended from outside (the workflow was lost): nothing launched before starts after. */
  private abandoned = false;

  constructor(
    private readonly runtime: WorkflowRunEngine,
    private readonly entry: LiveWorkflow,
    options: ExecuteWorkflowOptions,
    private readonly executeOne: ExecuteOne,
    private readonly defaultAgent: WorkflowAgentResolver,
    private readonly fallback: FallbackDoors,
    private readonly onEnd: () => void,
    private readonly runChild: (childId: string, options: ExecuteWorkflowOptions) => Promise<WorkflowResult>,
  ) {
    this.options = options;
    this.limit = options.maxConcurrent ?? Number.POSITIVE_INFINITY;
    const unpin = runtime.workflows.pin(entry.row.id);
    const letGo = runtime.holdGraph(entry.row.id);
    const stopReleases = runtime.graphs.onRelease(entry.row.id, (ids) => this.release(ids));
    const stopSubflows = runtime.graphs.onSubflow(entry.row.id, (ids) => this.startChildren(ids));
    const stopStops = runtime.graphs.onStop(() => {
      this.failure ??= new EngineStoppedError();
      this.check();
    });
    this.stopListening = () => {
      stopStops();
      stopReleases();
      stopSubflows();
      letGo();
      unpin();
      runtime.live.unloadIfIdle(entry.row.id);
    };
    const subscription = entry.actor.subscribe(() => this.check());
    this.unsubscribe = () => subscription.unsubscribe();
  }

  get workflowId(): string {
    return this.entry.row.id;
  }

  /** New options for the run (a later call's), and the conditions given in code. */
  configure(options: ExecuteWorkflowOptions): void {
    this.options = options;
    this.limit = options.maxConcurrent ?? Number.POSITIVE_INFINITY;
    const graph = this.entry.graph;
    if (!graph) return;
    // The functions themselves reach the graph through Graphs.provide (before the workflow loads);
    // here each name must be a task of the workflow, by key or id.
    const keys = new Set<string>();
    for (const spec of graph.specs.values()) if (spec.key !== null) keys.add(spec.key);
    // Any task of the workflow, by id (a plain task has no spec, but an input or an output).
    const isTask = (id: string) => graph.specs.has(id) || graph.inputs.has(id) || graph.outputs.has(id);
    expectTaskNames(options.taskOptions, this.workflowId, (name) => keys.has(name) || isTask(name));
    for (const [option, functions] of [
      ['conditions', options.conditions],
      ['forEach', options.forEach],
      ['until', options.until],
    ] as const) {
      for (const [name, fn] of Object.entries(functions ?? {})) {
        if (typeof fn !== 'function')
          throw new InvalidArgumentError(`Expected \`${option}.${name}\` to be a function`);
        if (!keys.has(name) && !graph.specs.has(name)) {
          throw new InvalidArgumentError(
            `No task with key or id ${JSON.stringify(name)} in workflow ${this.workflowId}`,
          );
        }
      }
    }
  }

  /** Resolves at the run's next stop (see the class). */
  wait(): Promise<WorkflowResult> {
    return new Promise<WorkflowResult>((resolve, reject) => {
      this.waiters.push({ resolve, reject, since: this.runtime.options.clock.now() });
      this.pump();
      this.check();
    });
  }

  /** Queues the nodes the graph has released so far that are PENDING and run nowhere. */
  seed(): void {
    const ready: string[] = [];
    const subflows: string[] = [];
    for (const [taskId, node] of this.entry.actor.getSnapshot().context.graph?.nodes ?? []) {
      if (node.state === 'ready') ready.push(taskId);
      if (node.awaiting === 'workflow') subflows.push(taskId);
    }
    this.release(ready);
    this.startChildren(subflows);
  }

  /**
   * Runs the child workflows of these nodes (each once at a time), with this run's options and the
   * node's own (`taskOptions`) over them.
   */
  private startChildren(taskIds: readonly string[]): void {
    const { conditions: _c, forEach: _f, until: _u, taskOptions: _t, ...options } = this.options;
    for (const taskId of taskIds) {
      if (this.children.has(taskId) || this.ended) continue;
      this.children.add(taskId);
      const own = this.ownOptions(taskId);
      void runChildNode(
        this.runtime,
        this.workflowId,
        taskId,
        (childId) => this.runChild(childId, withTaskOptions(options, own)),
        () => this.ended,
      )
        .catch((error: unknown) => {
          this.failure ??= error;
        })
        .finally(() => {
          this.children.delete(taskId);
          this.check();
        });
    }
  }

  private release(taskIds: readonly string[]): void {
    for (const id of taskIds) {
      if (this.queued.has(id) || this.inFlight.has(id) || this.runtime.executionOf(id)) continue;
      this.queued.add(id);
      this.queue.push(id);
    }
    this.pump();
    // Also how the graph says its work on the workflow ended (nothing released): a stop may be due.
    this.check();
  }

  private pump(): void {
    while (!this.ended && this.failure === null && this.inFlight.size < this.limit && this.queue.length > 0) {
      const taskId = this.queue.shift()!;
      this.queued.delete(taskId);
      this.inFlight.add(taskId);
      void this.launch(taskId);
    }
  }

  private async launch(taskId: string): Promise<void> {
    try {
      // A task that fails for good runs again here on its fallback agent, if the policy finds one.
      for (;;) {
        // The row as this engine's writes leave it (a retry that released the node may be staged).
        await this.runtime.committer.settleTasks([taskId]);
        if (this.abandoned) return;
        const task = await this.runtime.store.tasks.get(taskId);
        if (!task) throw new TaskNotFoundError(taskId);
        // Only what waits can run: a node ended meanwhile (cancelled, run by someone else) is left.
        if (task.status !== 'PENDING' || this.runtime.executionOf(taskId)) return;
        const agent = await this.agentFor(task);
        const {
          agent: _a,
          resolveAgent: _r,
          maxConcurrent: _m,
          conditions: _c,
          forEach: _f,
          until: _u,
          taskOptions: _t,
          fallback,
          ...runOptions
        } = this.options;
        const execute = withTaskOptions(runOptions, this.ownOptions(task.graph?.item?.of ?? taskId));
        // The answer this execution belongs to is the one pending when it started: a call that
        // resolved meanwhile (PAUSED as the task ended) holds this very array, so the result
        // lands in it, not in the next call's (graph-properties.test.ts, "ends while paused").
        const into = this.results;
        const result = await this.executeOne(taskId, agent, this.workflowId, execute);
        into.push(result);
        if (result.status !== 'FAILED' || fallback === undefined || this.ended) return;
        if ((await fallBack(this.runtime, taskId, fallback, this.fallback.route)) === null) return;
      }
    } catch (error) {
      if (!isRaceRefusal(error)) this.failure ??= error;
    } finally {
      this.inFlight.delete(taskId);
      this.pump();
      this.check();
    }
  }

  /** The options of a task of the workflow (`taskOptions`), by its key or id. */
  private ownOptions(taskId: string): TaskExecuteOptions | undefined {
    const key = this.entry.graph?.specs.get(taskId)?.key;
    return taskOptionsOf(this.options.taskOptions, { id: taskId, key });
  }

  private agentFor(task: Task): Promise<Agent> {
    if (this.options.agent) return Promise.resolve(this.options.agent);
    const fellBackTo = fallbackAgentOf(task);
    if (this.options.resolveAgent) {
      const subject = fellBackTo === undefined ? task : withFallbackAgent(task, fellBackTo);
      return Promise.resolve(this.options.resolveAgent(subject));
    }
    const routed = Promise.resolve(
      fellBackTo === undefined ? this.defaultAgent(task) : this.fallback.agentOf(fellBackTo),
    );
    // One agent per agent config for the run (an agent built from a config is keyed by it anyway).
    return routed.then((agent) => {
      const key = agent.configId ?? agent.id;
      let shared = this.agents.get(key);
      if (!shared) this.agents.set(key, (shared = Promise.resolve(agent)));
      return shared;
    });
  }

  /**
   * Resolves the waiters when the run reached a stop (each gets what ran since the last stop was
   * reported); ends the run when the workflow is over. A run that ended answers at once.
   */
  private check(): void {
    if (this.waiters.length === 0) {
      if (!this.ended && this.isOver()) this.end();
      return;
    }
    if (this.failure !== null) {
      const error = this.failure;
      for (const waiter of this.waiters.splice(0)) waiter.reject(error);
      this.end();
      return;
    }
    const status = this.status();
    let stalled = false;
    if (!this.ended) {
      const paused = status === 'PAUSED' && !this.anyRunning();
      // Over first: a FAILED workflow's compensations, once being made, keep it from stalling.
      const over = this.isOver();
      stalled = !paused && !over && this.isStalled();
      if (!paused && !over && !stalled) return;
      const missing = this.runtime.graphs.functions.missingFunctions(this.workflowId);
      if (stalled && missing.length > 0) {
        const error = new ConditionFailedError(
          `Tasks ${missing.join(', ')} of workflow ${this.workflowId} wait for a condition or list given in code, which this engine was not given (a restart): pass them in executeWorkflow's \`conditions\` / \`forEach\` / \`until\``,
          { details: { workflowId: this.workflowId, taskIds: missing } },
        );
        for (const waiter of this.waiters.splice(0)) waiter.reject(error);
        return;
      }
    }
    const now = this.runtime.options.clock.now();
    const results = this.results;
    this.results = [];
    const saga = status === 'FAILED' ? sagaOf(this.entry) : undefined;
    const compensated = saga?.declared === true ? saga.done : undefined;
    for (const waiter of this.waiters.splice(0)) {
      const result: WorkflowResult = {
        workflowId: this.workflowId,
        status,
        results,
        durationMs: now - waiter.since,
      };
      if (compensated !== undefined) result.compensated = compensated;
      if (stalled && status !== 'COMPLETED' && status !== 'FAILED' && status !== 'CANCELLED') {
        result.stalled = true;
      }
      waiter.resolve(result);
    }
    if (!this.ended && this.isOver()) this.end();
  }

  private status(): WorkflowStatus {
    return this.entry.actor.getSnapshot().value as WorkflowStatus;
  }

  /** Over: the workflow ended (COMPLETED, FAILED, CANCELLED) and nothing of the run is left to do. */
  private isOver(): boolean {
    const status = this.status();
    if (status !== 'COMPLETED' && status !== 'FAILED' && status !== 'CANCELLED') return false;
    if (this.inFlight.size > 0 || this.queue.length > 0) return false;
    // Executions of the workflow this engine runs outside the run (recovered after a crash, say)
    // release nodes when they end: not over while there are any.
    if (this.runtime.hasLive(this.workflowId)) return false;
    // A FAILED workflow's other branches go on while the graph still acts on them.
    if (status !== 'FAILED') return true;
    if (this.runtime.graphs.isBusy(this.workflowId) || this.anyDeciding()) return false;
    return !this.compensating();
  }

  /**
   * A FAILED workflow with nothing else to do: its compensations are made if they are missing
   * (their nodes are then released to this run); true while that is under way or made some.
   */
  private compensating(): boolean {
    if (this.failure !== null) return false;
    if (this.saga === 'making') return true;
    const saga = sagaOf(this.entry);
    // A released compensation is on its way to this run (or runs elsewhere): not over yet.
    if (saga.moving) return true;
    if (this.saga === 'made') return false;
    if (!saga.declared) {
      this.saga = 'made';
      return false;
    }
    this.saga = 'making';
    makeCompensations(this.runtime, this.entry).then(
      (made) => {
        // Made some: they run now, and once the workflow stops again the plan is checked anew.
        this.saga = made > 0 ? 'unchecked' : 'made';
        this.check();
      },
      (error: unknown) => {
        this.saga = 'made';
        this.failure ??= error;
        this.check();
      },
    );
    return true;
  }

  private anyDeciding(): boolean {
    for (const node of this.entry.actor.getSnapshot().context.graph?.nodes.values() ?? []) {
      if (node.state === 'deciding') return true;
    }
    return false;
  }

  /**
   * Nothing left that moves on its own: nothing of the run queued or in flight, and no node running
   * or being decided (a workflow with no tasks; nodes paused one by one, waiting for a resume).
   */
  private isStalled(): boolean {
    if (this.inFlight.size > 0 || this.queue.length > 0 || this.saga === 'making') return false;
    if (this.runtime.graphs.isBusy(this.workflowId) || this.runtime.hasLive(this.workflowId)) return false;
    const missing = new Set(this.runtime.graphs.functions.missingFunctions(this.workflowId));
    for (const [taskId, { state, paused }] of this.entry.actor.getSnapshot().context.graph?.nodes ?? []) {
      // A node the engine acts on (a sleep, a wait, a loop) moves, unless its task is paused.
      if (state === 'running' || (state === 'deciding' && !missing.has(taskId) && !paused)) return false;
      if (state === 'ready' && this.runtime.executionOf(taskId)) return false;
    }
    return true;
  }

  /** An attempt of the workflow is running here (of this run, or recovered outside it). */
  private anyRunning(): boolean {
    for (const exec of this.runtime.live.all()) {
      if (exec.workflowId === this.workflowId && this.runtime.live.phaseOf(exec) === 'running') return true;
    }
    return false;
  }

  /** Ends the run with `error` for its callers: nothing queued is launched (see WorkflowRuns.abandon). */
  abandon(error: Error): void {
    this.abandoned = true;
    this.failure ??= error;
    this.queue.length = 0;
    this.queued.clear();
    this.check();
    this.end();
  }

  /** Stops the run: it launches nothing more and lets the workflow go. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.stopListening();
    this.unsubscribe();
    this.onEnd();
  }
}

/** Refusals that only mean the node was taken or ended meanwhile (another call, a cancel). */
function isRaceRefusal(error: unknown): boolean {
  return error instanceof InvalidStateError;
}
