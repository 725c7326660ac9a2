import type { AnyActorRef } from 'xstate';
import { EngineStoppedError } from '../errors/errors.js';
import type { Committer } from './committer.js';
import type { Execution, ExecutionPhase } from './execution.js';
import type { Fences } from './fences.js';
import type { WorkflowActors } from './workflows.js';

/** The tasks whose live execution started or ended here since a decision's rows were read. */
export interface TouchedTasks {
  has(taskId: string): boolean;
  /**
   * Whether the task's row was rewritten here since the decision began: by a live execution (as
   * `has`), or through the task door on its stored row (a pause of a node the graph is resolving).
   */
  rewritten(taskId: string): boolean;
}

/**
 * The executions live in one engine (queued, paused, running or waiting for a retry), by id, by
 * task and by task actor, with a count per workflow. A live execution's task row names this
 * engine as its lease owner. A workflow with no live execution left is unloaded from memory once
 * its last changes have committed.
 */
export class LiveExecutions {
  private readonly byId = new Map<string, Execution>();
  private readonly byTask = new Map<string, Execution>();
  /** Live executions per workflow; a workflow leaves memory once its count drops to zero. */
  private readonly perWorkflow = new Map<string, number>();
  /** Executions by their task actor, for the task machine's provided actions. */
  private readonly byActor = new Map<AnyActorRef, Execution>();
  /**
   * When each task's live execution last started or ended here (a running count), kept while any
   * `decideOnStored` is open: one entry per task, however many decisions overlap (a set per
   * decision grew with the square of concurrent executeTask calls: 20,000 ran out of memory).
   */
  private readonly touchedAt = new Map<string, number>();
  private touches = 0;
  /** As `touchedAt`, for stored rows the task door wrote (see TouchedTasks.rewritten). */
  private readonly rowWrittenAt = new Map<string, number>();
  private openDecisions = 0;
  /** Set once the engine stops: nothing may become live any more. */
  closed = false;

  constructor(
    private readonly engineId: string,
    private readonly committer: Committer,
    private readonly workflows: WorkflowActors,
    /** Stops an execution's task actor (through its parent, the agent actor). */
    private readonly release: (exec: Execution) => void,
    /** The fences of this engine's writes of the tasks it holds. */
    private readonly fences: Fences,
    /** The store refused a write of the execution's task: another engine holds it now. */
    private readonly lost: (exec: Execution) => void,
  ) {}

  get(executionId: string): Execution | undefined {
    return this.byId.get(executionId);
  }

  /** The live execution of a task, if any. */
  ofTask(taskId: string): Execution | undefined {
    return this.byTask.get(taskId);
  }

  /** The execution a task actor belongs to. */
  ofActor(actor: AnyActorRef): Execution | undefined {
    return this.byActor.get(actor);
  }

  /** True while the execution is live here (from `add` until `forget`). */
  isLive(exec: Execution): boolean {
    return this.byId.get(exec.id) === exec;
  }

  /**
   * Where an execution is: read from its task machine's state (see ExecutionPhase); `reserved`
   * while it is live with no task actor yet, `done` once it is no longer live here.
   */
  phaseOf(exec: Execution): ExecutionPhase {
    if (!this.isLive(exec)) return 'done';
    if (exec.actor === null) return 'reserved';
    const { value, status } = exec.actor.getSnapshot();
    if (status !== 'active') return 'done';
    if (typeof value === 'string') return value === 'PAUSED' ? 'paused' : 'done';
    const pending = (value as { PENDING?: string }).PENDING;
    if (pending === undefined) return 'running';
    return pending === 'ready' ? 'queued' : pending === 'held' ? 'paused' : 'backoff';
  }

  /** True while the workflow has a live execution here. */
  hasWorkflow(workflowId: string): boolean {
    return this.perWorkflow.has(workflowId);
  }

  /** A copy of the live executions, safe to iterate while they end. */
  all(): Execution[] {
    return [...this.byTask.values()];
  }

  values(): IterableIterator<Execution> {
    return this.byTask.values();
  }

  /**
   * Executions waiting to start, per agent key: queued, or reserved by a batch, and neither their
   * task nor their workflow paused. Read-only; O(live executions), for routing snapshots.
   */
  queuedByAgent(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const exec of this.byTask.values()) {
      const phase = this.phaseOf(exec);
      // A queued one's machine is in PENDING.ready: neither it nor its workflow is paused.
      if (phase === 'reserved') {
        if (exec.task.status === 'PAUSED' || this.workflows.isPaused(exec.workflowId)) continue;
      } else if (phase !== 'queued') continue;
      counts.set(exec.agentKey, (counts.get(exec.agentKey) ?? 0) + 1);
    }
    return counts;
  }

  /** Makes an execution live here; its task row names this engine as its lease owner. */
  add(exec: Execution): void {
    if (this.closed) throw new EngineStoppedError();
    const fresh = this.byTask.get(exec.task.id) !== exec;
    if (fresh) this.fences.hold(exec.task.id, exec.task.leaseOwner, () => this.lost(exec));
    exec.task.leaseOwner = this.engineId;
    if (this.openDecisions > 0) this.touch(exec.task.id);
    this.byId.set(exec.id, exec);
    this.byTask.set(exec.task.id, exec);
    if (fresh && exec.workflowId !== null) this.enterWorkflow(exec.workflowId);
  }

  /** A live execution's task joined a workflow: it counts there from now on. */
  joinWorkflow(exec: Execution, workflowId: string): void {
    if (exec.workflowId === workflowId) return;
    if (exec.workflowId !== null) this.leaveWorkflow(exec.workflowId);
    exec.workflowId = workflowId;
    if (this.byTask.get(exec.task.id) === exec) this.enterWorkflow(workflowId);
  }

  /** Links a task actor to its execution. */
  addActor(actor: AnyActorRef, exec: Execution): void {
    this.byActor.set(actor, exec);
  }

  /** Forgets a live execution (and stops its task actor) without touching its row. */
  forget(exec: Execution): void {
    if (exec.actor) {
      this.release(exec);
      this.byActor.delete(exec.actor);
      exec.actor = null;
    }
    exec.detach?.();
    this.byId.delete(exec.id);
    if (this.openDecisions > 0) this.touch(exec.task.id);
    if (this.byTask.get(exec.task.id) === exec) {
      this.byTask.delete(exec.task.id);
      this.fences.release(exec.task.id);
      if (exec.workflowId !== null) this.leaveWorkflow(exec.workflowId);
    }
  }

  /**
   * Runs `decide` for a decision taken on rows read from the store (executing, recovering,
   * steering or cancelling tasks): it starts once this engine's pending changes have committed
   * (with `taskIds`, only its changes of those tasks, and at once when there are none), and
   * `touched` collects, until it returns, the tasks whose live execution started or ended here
   * meanwhile. Their rows may be stale (an attempt that completed after the read), so `decide`
   * leaves them to that execution, reads them again, or refuses.
   */
  async decideOnStored<R>(
    decide: (touched: TouchedTasks) => Promise<R>,
    taskIds?: readonly string[],
  ): Promise<R> {
    const since = this.touches;
    const touched: TouchedTasks = {
      has: (taskId) => (this.touchedAt.get(taskId) ?? 0) > since,
      rewritten: (taskId) =>
        (this.touchedAt.get(taskId) ?? 0) > since || (this.rowWrittenAt.get(taskId) ?? 0) > since,
    };
    this.openDecisions += 1;
    try {
      await (taskIds ? this.committer.settleTasks(taskIds) : this.committer.settle());
      return await decide(touched);
    } finally {
      this.openDecisions -= 1;
      if (this.openDecisions === 0) {
        this.touchedAt.clear();
        this.rowWrittenAt.clear();
      }
    }
  }

  /** The task door wrote a stored row (no live execution): decisions open now see it rewritten. */
  rowWritten(taskId: string): void {
    if (this.openDecisions === 0) return;
    this.touches += 1;
    this.rowWrittenAt.set(taskId, this.touches);
  }

  private touch(taskId: string): void {
    this.touches += 1;
    this.touchedAt.set(taskId, this.touches);
  }

  private enterWorkflow(workflowId: string): void {
    this.perWorkflow.set(workflowId, (this.perWorkflow.get(workflowId) ?? 0) + 1);
  }

  /**
   * Counts an execution of the workflow out; the last one out unloads the workflow's actor once
   * its final changes have committed (it is loaded again from the store when next needed), so a
   * long-lived engine keeps in memory only the workflows it is working on.
   */
  private leaveWorkflow(workflowId: string): void {
    const left = (this.perWorkflow.get(workflowId) ?? 1) - 1;
    if (left > 0) {
      this.perWorkflow.set(workflowId, left);
      return;
    }
    this.perWorkflow.delete(workflowId);
    this.unloadWhenIdle(workflowId);
  }

  /**
   * Unloads the workflow's actor once its changes have committed, if no execution of it is live
   * here by then; a change made meanwhile (a task joining during the commit) puts it off to the
   * commit after.
   */
  /** Unloads the workflow's actor (once its changes have committed) if no execution of it is live here. */
  unloadIfIdle(workflowId: string): void {
    if (!this.perWorkflow.has(workflowId)) this.unloadWhenIdle(workflowId);
  }

  private unloadWhenIdle(workflowId: string): void {
    this.committer.afterCommit(() => {
      if (this.perWorkflow.has(workflowId) || this.closed) return;
      if (!this.workflows.unload(workflowId)) this.unloadWhenIdle(workflowId);
    });
  }
}
