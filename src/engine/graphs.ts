import { Holds } from './holds.js';
import { noSteps, type GraphSteps } from '../../machines/graph.js';
import type { RuntimeEvent } from '../../machines/engine.machine.js';
import type { AttemptError, Task } from '../domain/task.js';
import { ConditionFailedError } from '../errors/errors.js';
import { SymphonyError } from '../errors/symphony-error.js';
import { ErrorCode } from '../errors/codes.js';
import { copyPayload } from './payload.js';
import type { Store } from '../repositories/store.js';
import type { EngineClock } from './clock.js';
import type { Committer } from './committer.js';
import type { Execution } from './execution.js';
import type { TouchedTasks } from './live-executions.js';
import type { Logger } from './logger.js';
import { GraphMakers } from './graph-makers.js';
import { GraphWaits } from './graph-waits.js';
import type { TaskDoor } from './task-door.js';
import type { GraphData, LiveWorkflow, WorkflowActors } from './workflows.js';
import { GraphFunctions, outputsByKey, type ProvidedFunctions, type Rule } from './graph-functions.js';

export interface GraphsDeps {
  store: Store;
  /** Largest payload (a fan-out item's input, a fan-out's outputs), as JSON bytes. */
  maxPayloadBytes: number;
  committer: Committer;
  door: TaskDoor;
  workflows: WorkflowActors;
  clock: EngineClock;
  logger: Logger;
  send(event: RuntimeEvent): void;
  executionOf(taskId: string): Execution | undefined;
  decideOnStored<R>(decide: (touched: TouchedTasks) => Promise<R>, taskIds?: readonly string[]): Promise<R>;
  /** Whether this engine holds the workflow (see GraphWaitsDeps.holds). */
  holds(workflowId: string): boolean;
}

/** Told of the nodes a workflow's graph released (they may run now). */
export type ReleaseListener = (taskIds: readonly string[]) => void;

/**
 * Acts on the steps the workflow machines' graphs call for (docs/workflows.md): evaluates the
 * conditions of nodes being decided and answers with DECIDED, ends skipped nodes SKIPPED and
 * rejected ones FAILED through the task door, and tells the workflow's runs which nodes were
 * released. It decides nothing itself: where each node stands is the workflow machine's.
 */
export class Graphs {
  private readonly listeners = new Map<string, Set<ReleaseListener>>();
  private readonly subflowListeners = new Map<string, Set<ReleaseListener>>();
  /** The graph's rules, evaluated; functions given in code kept until their task is done. */
  readonly functions = new GraphFunctions();
  private readonly waits: GraphWaits;
  private readonly makers: GraphMakers;
  /** Told when the engine stops (the runs reject their callers). */
  private readonly stopListeners = new Set<() => void>();
  private stopped = false;
  /** Per workflow, how many writes of skipped or rejected nodes are under way. */
  private readonly busy = new Holds<string>();
  /** Why a node was rejected: its condition's error, recorded in the task's errors. */
  private readonly rejections = new Map<string, Error>();

  constructor(private readonly deps: GraphsDeps) {
    this.waits = new GraphWaits({
      store: deps.store,
      committer: deps.committer,
      door: deps.door,
      clock: deps.clock,
      working: (workflowId, work) => this.working(workflowId, work),
      completeUnrun: (task, output, how) => this.completeUnrun(task, output, how),
      reject: (workflowId, taskIds, error) => {
        for (const taskId of taskIds) this.rejections.set(taskId, error);
        return this.finishUnrun(workflowId, taskIds, 'REJECT');
      },
      holds: (workflowId) => deps.holds(workflowId),
      isPaused: (workflowId) => deps.workflows.isPaused(workflowId),
    });
    this.makers = new GraphMakers({
      ...deps,
      functions: this.functions,
      working: (workflowId, work) => this.working(workflowId, work),
      completeUnrun: (task, output, how) => this.completeUnrun(task, output, how),
      finishUnrun: (workflowId, taskIds, type) => this.finishUnrun(workflowId, taskIds, type),
      reject: (taskId, error) => this.rejections.set(taskId, error),
      holds: (data, workflowId, taskId, rule, kind, outputs) =>
        this.holds(data, workflowId, taskId, rule, kind, outputs),
      outputsOf: (data, taskId, also) => this.outputsOf(data, taskId, also),
    });
    deps.workflows.handleSteps(
      (entry, steps) => this.onSteps(entry, steps),
      (taskId) => this.functions.forget(taskId),
    );
  }

  /** Calls `listener` with the nodes released from now on; returns a function that stops it. */
  onRelease(workflowId: string, listener: ReleaseListener): () => void {
    return listen(this.listeners, workflowId, listener);
  }

  /** True while nodes of the workflow the graph will not run are being ended (SKIPPED, FAILED). */
  isBusy(workflowId: string): boolean {
    return this.busy.has(workflowId);
  }

  /**
   * Functions given in code for a workflow's tasks, by key or task id (executeWorkflow's
   * `conditions` and `forEach`), before or after the workflow is loaded: a node waiting for one is
   * decided (or expanded) now.
   */
  provide(workflowId: string, given: Partial<ProvidedFunctions>): void {
    const waiting = this.functions.provide(workflowId, given);
    const entry = this.deps.workflows.peek(workflowId);
    if (!entry?.graph || waiting.length === 0) return;
    // The steps they wait in, as the workflow machine says: a condition, a list, a loop's next step.
    const nodes = entry.actor.getSnapshot().context.graph?.nodes;
    const awaiting = (kind: string) => waiting.filter((taskId) => nodes?.get(taskId)?.awaiting === kind);
    this.onSteps(entry, {
      ...noSteps(),
      decide: awaiting('condition'),
      expand: awaiting('expansion'),
      iterate: awaiting('iteration'),
    });
  }

  /**
   * The outputs of a task's dependencies, by each one's key (its id when it has none), in the
   * order of `dependsOn`; empty for a task with no dependencies or not in a live graph.
   */
  dependencies(task: Pick<Task, 'id' | 'workflowId' | 'graph'>): Readonly<Record<string, unknown>> {
    if (!task.graph || task.workflowId === null) return outputsByKey(null, []);
    return outputsByKey(this.deps.workflows.peek(task.workflowId)?.graph, task.graph.dependsOn);
  }

  private onSteps(entry: LiveWorkflow, steps: GraphSteps): void {
    const workflowId = entry.row.id;
    if (steps.decide.length > 0 && entry.graph) {
      const decisions = steps.decide.flatMap((taskId) => {
        const holds = this.evaluate(entry.graph!, taskId, workflowId);
        return holds === undefined ? [] : [{ taskId, holds }];
      });
      if (decisions.length > 0) this.deps.send({ type: 'DECIDED', workflowId, decisions });
    }
    if (steps.expand.length > 0) void this.makers.expand(entry, steps.expand);
    if (steps.sleep.length > 0) void this.waits.sleep(workflowId, steps.sleep);
    if (steps.wait.length > 0) void this.waits.wait(workflowId, steps.wait);
    if (steps.iterate.length > 0) void this.makers.iterate(entry, steps.iterate);
    if (steps.subflow.length > 0) tellAll(this.subflowListeners, workflowId, steps.subflow);
    if (steps.resolve.length > 0) void this.makers.resolve(entry, steps.resolve);
    if (steps.skip.length > 0) void this.finishUnrun(workflowId, steps.skip, 'SKIP');
    if (steps.reject.length > 0) void this.finishUnrun(workflowId, steps.reject, 'REJECT');
    if (steps.release.length > 0) this.tell(workflowId, steps.release);
  }

  private tell(workflowId: string, released: readonly string[]): void {
    tellAll(this.listeners, workflowId, released);
  }

  /** Calls `listener` with the child-workflow nodes to run from now on; returns a function that stops it. */
  onSubflow(workflowId: string, listener: ReleaseListener): () => void {
    return listen(this.subflowListeners, workflowId, listener);
  }

  /**
   * Ends a child-workflow node with its child's outcome: completed unrun with `output`, or failed
   * unrun (REJECT) with `error`; a node that moved on meanwhile (cancelled, say) is left as it is.
   */
  async finishSubflow(
    workflowId: string,
    taskId: string,
    outcome: { output: unknown } | { error: Error },
  ): Promise<void> {
    if ('error' in outcome) {
      this.rejections.set(taskId, outcome.error);
      return this.finishUnrun(workflowId, [taskId], 'REJECT');
    }
    const { store, committer } = this.deps;
    await this.working(workflowId, async () => {
      await committer.settleTasks([taskId]);
      const task = await store.tasks.get(taskId);
      if (task?.status !== 'PENDING') return;
      let output: unknown;
      try {
        output = copyPayload(
          outcome.output,
          'output',
          this.deps.maxPayloadBytes,
          ErrorCode.OUTPUT_NOT_SERIALIZABLE,
        );
      } catch (error) {
        this.rejections.set(taskId, error as Error);
        await this.finishUnrun(workflowId, [taskId], 'REJECT');
        return;
      }
      if (this.completeUnrun(task, output, 'workflow')) await committer.settle();
    });
  }

  /**
   * Completes a node unrun (RESOLVE) with this output and a completion record named `how:<id>`,
   * staged together; false (nothing staged) when its task moved on and the machine refuses.
   */
  private completeUnrun(task: Task, output: unknown, how: string): boolean {
    task.outputData = output;
    try {
      this.deps.door.send(task, { type: 'RESOLVE' });
    } catch (error) {
      if (!(SymphonyError.isInstance(error) && error.code === 'INVALID_STATE')) throw error;
      return false;
    }
    this.deps.committer.stageCompletion({
      taskId: task.id,
      executionId: `${how}:${task.id}`,
      attempt: task.attempts,
      completedAt: this.deps.clock.now(),
    });
    return true;
  }

  /** Counts work on the workflow's graph under way (see isBusy), keeps it loaded, tells the runs after. */
  private async working(workflowId: string, work: () => Promise<void>): Promise<void> {
    const done = this.busy.hold(workflowId);
    const unpin = this.deps.workflows.pin(workflowId);
    try {
      await work();
    } catch (error) {
      this.deps.logger.error({ err: error, workflowId }, 'Could not act on a workflow graph');
    } finally {
      unpin();
      done();
      this.tell(workflowId, []);
    }
  }

  /** Calls `fn` when the engine stops; returns a function that forgets it. */
  onStop(fn: () => void): () => void {
    this.stopListeners.add(fn);
    return () => this.stopListeners.delete(fn);
  }

  /** The engine stops: sleeps and waits are let go (their due times stay stored), the runs are told. */
  stop(): void {
    this.stopped = true;
    this.waits.stop();
    for (const fn of [...this.stopListeners]) fn();
  }

  /**
   * A run of the workflow's graph starts here: its sleeps and waits under way are armed here (again:
   * their timers may have fired while no run held the workflow; due times stay as stored) and its
   * waits take the signals sent meanwhile.
   */
  armWaits(entry: LiveWorkflow): void {
    const sleeps: string[] = [];
    const waits: string[] = [];
    for (const [taskId, node] of entry.actor.getSnapshot().context.graph?.nodes ?? []) {
      if (node.awaiting === 'sleep') sleeps.push(taskId);
      if (node.awaiting === 'signal') waits.push(taskId);
    }
    if (sleeps.length > 0) void this.waits.sleep(entry.row.id, sleeps);
    if (waits.length > 0) void this.waits.wait(entry.row.id, waits);
  }

  /** Signals may have come for the workflow (sent here, or seen by a poll): its waits here take them. */
  signalled(workflowId: string): Promise<void> {
    return this.waits.signalled(workflowId);
  }

  /** Delivers signals sent by other processes to the waits of this engine (the control poll). */
  async pollSignals(): Promise<void> {
    await Promise.all(this.waits.waitingWorkflows().map((workflowId) => this.waits.signalled(workflowId)));
  }

  /** Whether a node's condition (`when`) holds: see `holds`. */
  private evaluate(data: GraphData, taskId: string, workflowId: string): boolean | null | undefined {
    const when = data.specs.get(taskId)?.when ?? null;
    if (when === null) return true;
    return this.holds(data, workflowId, taskId, when, 'conditions', this.outputsOf(data, taskId));
  }

  /**
   * Whether a rule (a condition, a loop's `until`) holds over these outputs; null (and the reason
   * kept for the rejection) when it cannot be evaluated; undefined while its function was not given.
   */
  private holds(
    data: GraphData,
    workflowId: string,
    taskId: string,
    rule: Rule,
    kind: 'conditions' | 'untils',
    outputs: Readonly<Record<string, unknown>>,
  ): boolean | null | undefined {
    const holds = this.functions.holds(data, workflowId, taskId, rule, kind, outputs);
    if (!(holds instanceof Error)) return holds;
    this.rejections.set(taskId, holds);
    return null;
  }

  private outputsOf(
    data: GraphData,
    taskId: string,
    also?: { key: string; output: unknown },
  ): Readonly<Record<string, unknown>> {
    return outputsByKey(data, data.specs.get(taskId)?.dependsOn ?? [], also);
  }

  /**
   * Ends nodes the graph will not run: SKIPPED, or FAILED (REJECT) with their condition's error.
   * Through the door on the rows as this engine's writes left them; a task that moved meanwhile
   * (the machine refuses) is left as it is.
   */
  private async finishUnrun(
    workflowId: string,
    taskIds: readonly string[],
    type: 'SKIP' | 'REJECT',
  ): Promise<void> {
    const { store, committer, door } = this.deps;
    // Kept loaded until the rows are written: a workflow unloaded meanwhile would miss the change.
    await this.working(workflowId, async () => {
      await committer.settleTasks(taskIds);
      await this.deps.decideOnStored(async () => {
        const rows = await store.tasks.getMany(taskIds);
        for (const row of rows) {
          const exec = this.deps.executionOf(row.id);
          const task = exec?.task ?? row;
          if (type === 'REJECT') task.errors = [...task.errors, this.rejectionOf(task)];
          try {
            door.send(task, { type }, exec?.actor ?? null);
          } catch (error) {
            if (!(SymphonyError.isInstance(error) && error.code === 'INVALID_STATE')) throw error;
          }
          this.rejections.delete(row.id);
        }
      }, taskIds);
      // The runs see the new statuses once they are committed.
      await committer.settle();
    });
  }

  private rejectionOf(task: Task): AttemptError {
    const error = this.rejections.get(task.id) ?? new ConditionFailedError(`Task ${task.id} was rejected`);
    return {
      name: error.name,
      message: error.message,
      code: SymphonyError.isInstance(error) ? error.code : 'CONDITION_FAILED',
      attempt: task.attempts,
      at: this.deps.clock.now(),
      retryable: false,
    };
  }
}

/** Adds a listener of a workflow's; returns a function that removes it. */
function listen(
  listeners: Map<string, Set<ReleaseListener>>,
  workflowId: string,
  listener: ReleaseListener,
): () => void {
  let set = listeners.get(workflowId);
  if (!set) listeners.set(workflowId, (set = new Set()));
  set.add(listener);
  return () => {
    set.delete(listener);
    if (set.size === 0 && listeners.get(workflowId) === set) listeners.delete(workflowId);
  };
}

function tellAll(
  listeners: Map<string, Set<ReleaseListener>>,
  workflowId: string,
  taskIds: readonly string[],
): void {
  for (const listener of [...(listeners.get(workflowId) ?? [])]) listener(taskIds);
}
