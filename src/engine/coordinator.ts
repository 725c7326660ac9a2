import type { WorkflowStatus } from '../../machines/status.js';
import type { Task } from '../domain/task.js';
import type { SubmittedWorkflow, WorkflowPlan } from '../repositories/workflow-runs.js';
import type { EngineClock } from './clock.js';
import { recoverExecutions, type AgentResolver, type RecoveryEngine } from './recovery.js';
import { CoordinatedWorkflows } from './coordinated-workflows.js';
import { CoordinationLostError } from '../errors/errors.js';

/** Runs (or joins the run of) a workflow's graph in this engine; resolves with its status at the run's next stop. */
export type RunWorkflow = (
  workflowId: string,
  plan: WorkflowPlan,
  resolveAgent: AgentResolver,
) => Promise<WorkflowStatus>;

/** What a worker's coordinator needs of the worker around it. */
export interface CoordinatorDeps {
  runtime: RecoveryEngine;
  /** The worker's agent resolver (a node not run yet is given the agent key it was submitted with). */
  resolveAgent: AgentResolver;
  runWorkflow: RunWorkflow;
  /** Ends this engine's run of a workflow's graph, its callers getting `error` (the workflow was lost). */
  endRun(workflowId: string, error: Error): void;
  /** Workflows coordinated at once (`WorkerOptions.maxWorkflows`). */
  maxWorkflows: number;
  /** How often a run that stopped short of its end is joined again. */
  pollMs: number;
  /** Told when a coordination ends (a slot for another workflow). */
  onEnd(): void;
}

/**
 * Waits `ms` on `clock`, or until the waker it adds to `wakers` is called (it removes itself either
 * way). The worker's claim loop and its coordinations wait this way.
 */
export function nap(clock: EngineClock, ms: number, wakers: Set<() => void>): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      wakers.delete(done);
      clock.clearTimeout(timer);
      resolve();
    };
    const timer = clock.setTimeout(done, ms);
    wakers.add(done);
  });
}

/**
 * The workflows with graph parts a worker coordinates (see docs/scale-out.md, "Graph workflows on
 * workers"): claims them from the store while it has room, runs each one's graph here until it
 * ends, and lets go of what is left when the worker stops.
 */
export class WorkflowCoordinator {
  /** Workflows coordinated now, with the work of each. */
  private readonly coordinating = new Map<string, Promise<void>>();
  /**
   * Workflows the store names this engine the coordinator of (claimed, not let go): the fence of
   * this engine's commits that write them (see `StoreBatch.coordination`).
   */
  private readonly held: CoordinatedWorkflows;
  /** Workflows a commit found taken over by another worker: their coordination here is over. */
  private readonly lost = new Set<string>();
  /** Coordinations waiting to join their run again. */
  private readonly idlers = new Set<() => void>();
  private stopping = false;
  /** Workflows taken to coordinate so far. */
  coordinated = 0;
  /** Of those, the ones another worker took over while this one coordinated them (COORDINATION_LOST). */
  lostCount = 0;

  constructor(private readonly deps: CoordinatorDeps) {
    const { runtime } = deps;
    this.held = new CoordinatedWorkflows(runtime.options.engineId);
    runtime.committer.fenceCoordination(this.held);
    this.held.onLost((workflowId) => this.onLost(workflowId));
  }

  /** Workflows coordinated now. */
  get size(): number {
    return this.coordinating.size;
  }

  /**
   * Claims submitted workflows while there is room and starts coordinating them; false when the
   * claim failed (the store unreachable, say: the worker tries again at its next poll).
   */
  async claim(): Promise<boolean> {
    const { runtime } = this.deps;
    const store = runtime.store;
    const limit = this.deps.maxWorkflows - this.coordinating.size;
    if (typeof store.claimWorkflows !== 'function' || limit <= 0 || this.stopping) return true;
    let runs: SubmittedWorkflow[];
    try {
      runs = await store.claimWorkflows({
        engineId: runtime.options.engineId,
        limit,
        running: [...this.coordinating.keys()],
      });
    } catch (error) {
      runtime.options.logger.warn(
        { engineId: runtime.options.engineId, error: (error as Error)?.message },
        'A worker could not claim workflows to coordinate; trying again at the next poll',
      );
      return false;
    }
    for (const run of runs) {
      this.coordinated += 1;
      this.lost.delete(run.workflowId);
      this.held.hold(run.workflowId);
      const work = this.coordinate(run).finally(() => {
        this.coordinating.delete(run.workflowId);
        this.deps.onEnd();
      });
      this.coordinating.set(run.workflowId, work);
    }
    return true;
  }

  /** No more claims, and coordinations waiting to join their run again end now. */
  halt(): void {
    this.stopping = true;
    for (const done of [...this.idlers]) done();
  }

  /**
   * Lets go of the workflows this engine coordinates and did not see end (call once the engine has
   * stopped, before the store closes): another worker takes them at once. Best effort: an engine
   * that cannot reach the store is known gone by its stopped or expired beat anyway.
   */
  async letGo(): Promise<void> {
    await Promise.allSettled([...this.coordinating.values()]);
    await Promise.all([...this.held.ids()].map((id) => this.release(id, null).catch(() => {})));
  }

  /**
   * A commit found the workflow coordinated by another worker (this one was paused past its
   * liveness window, say, and the other took it over): nothing this engine wrote of it since was
   * applied. Its run here ends (its callers get COORDINATION_LOST) and the coordination with it;
   * the executions of its tasks that the new coordinator took are dropped by their own fences.
   */
  private onLost(workflowId: string): void {
    const { runtime } = this.deps;
    const engineId = runtime.options.engineId;
    this.lost.add(workflowId);
    this.lostCount += 1;
    runtime.options.logger.warn(
      { workflowId, engineId },
      'Another worker took over a workflow this engine coordinated; this engine dropped its coordination',
    );
    this.deps.endRun(workflowId, new CoordinationLostError(workflowId, engineId));
    // A coordination waiting to join its run again ends now.
    for (const done of [...this.idlers]) done();
  }

  /**
   * Coordinates one submitted workflow until it ends: takes up the nodes a gone coordinator held
   * (an interrupted attempt goes through its retry policy), then runs the graph here. A run that
   * stops short of the end (paused, or waiting for a signal or a sleep) is joined again every
   * `pollMs`; at the end the workflow is let go as ended. On failure it is let go for another.
   */
  private async coordinate(run: SubmittedWorkflow): Promise<void> {
    const { runtime } = this.deps;
    const resolveAgent = (task: Readonly<Task>) => this.deps.resolveAgent(withPlannedAgent(task, run.plan));
    try {
      // The tasks the coordinator it was taken from held are taken too, even if its beats came back.
      await recoverExecutions(runtime, resolveAgent, run.workflowId, run.takenFrom ?? null);
      for (;;) {
        if (this.lost.has(run.workflowId)) return;
        const status = await this.deps.runWorkflow(run.workflowId, run.plan, resolveAgent);
        if (this.lost.has(run.workflowId)) return;
        if (status === 'COMPLETED' || status === 'FAILED' || status === 'CANCELLED') {
          await this.release(run.workflowId, runtime.options.clock.now());
          return;
        }
        await nap(runtime.options.clock, this.deps.pollMs, this.idlers);
        if (this.stopping) return;
      }
    } catch (error) {
      // Stopping: the engine's runs end with it; `letGo` releases what is left. Lost: another
      // worker coordinates it now (onLost logged it), there is nothing to let go.
      if (this.stopping || this.lost.has(run.workflowId)) return;
      runtime.options.logger.warn(
        { workflowId: run.workflowId, error: (error as Error)?.message },
        'A worker could not coordinate a workflow; letting it go for another worker',
      );
      await this.release(run.workflowId, null).catch(() => {});
    }
  }

  /**
   * Lets the workflow go in the store, once this engine's writes of it have committed (still under
   * its fence); from then on they are not fenced.
   */
  private async release(workflowId: string, endedAt: number | null): Promise<void> {
    const { runtime } = this.deps;
    await runtime.committer.settle().catch(() => {});
    this.held.release(workflowId);
    await runtime.store.releaseWorkflow!(workflowId, runtime.options.engineId, endedAt);
  }
}

/**
 * A node of a submitted workflow as the worker's agent resolver reads it: one that has no execution
 * plan yet (never run) gets the agent key it was submitted with, a fan-out's item or a loop's
 * iteration its maker's, else the workflow's.
 */
function withPlannedAgent(task: Readonly<Task>, plan: WorkflowPlan): Readonly<Task> {
  if (task.execution !== null) return task;
  const maker = task.graph?.item?.of;
  const agentKey =
    plan.agentKeys[task.id] ?? (maker === undefined ? undefined : plan.agentKeys[maker]) ?? plan.agentKey;
  if (agentKey === null) return task;
  return { ...task, execution: { agentKey } as Task['execution'] };
}
