import type { ExecutionResult } from '../domain/execution-result.js';
import type { Task } from '../domain/task.js';
import { resolvedAgent } from './expect-agent.js';
import { InvalidStateError } from '../errors/errors.js';
import type { TouchedTasks } from './live-executions.js';
import { storedWorkflowStatus } from './workflows.js';
import { adoptStored, type RecoveryEngine } from './recovery.js';
import { nap, WorkflowCoordinator, type RunWorkflow } from './coordinator.js';
import { rateTime } from './rate-limits.js';
import { CodeRateLimits } from './code-rate-limits.js';
import type { ResolvedWorkerOptions } from './worker-options.js';

export { resolveWorkerOptions, type WorkerOptions } from './worker-options.js';

/** Rounds of the claim loop between two checks of the tasks the store says this worker holds. */
const RECONCILE_EVERY = 20;
/**
 * How soon a worker claims again when a rate-limited gate's tokens are all spoken for by other
 * claimers' tasks that have not taken them yet (they do within a dispatch and a commit).
 */
const RATE_RECHECK_MS = 25;

/** A worker's counts so far. */
export interface WorkerStats {
  /** Claims made (each asks the store for up to `batchSize` tasks). */
  claims: number;
  /** Tasks claimed from the store. */
  claimed: number;
  /** Claimed tasks whose execution this worker started (adopted). */
  adopted: number;
  /** Claimed tasks no agent was resolved for (let go for other workers; their agent keys skipped). */
  unresolved: number;
  /** Adopted executions still going (running, or held here waiting for a slot: see `prefetch`). */
  running: number;
  /** Adopted executions that ended COMPLETED. */
  completed: number;
  /** Adopted executions that ended otherwise (FAILED, CANCELLED), or were let go when the engine stopped. */
  ended: number;
  /** Claims that failed (the store unreachable, say); the worker tries again at the next poll. */
  claimErrors: number;
  /** Tasks the store said this worker held but it did not run, taken up again (see `reconcile`). */
  reconciled: number;
  /** Workflows with graph parts this worker took to coordinate (see `maxWorkflows`). */
  coordinated: number;
  /** Of those, the ones it coordinates now. */
  coordinating: number;
  /**
   * Of those, the ones another worker took over while this one still coordinated them (it was
   * paused past its liveness window, say): the store refused its writes of them (COORDINATION_LOST).
   */
  coordinationsLost: number;
}

export interface WorkerHandle {
  /** The engine the worker claims for (`leaseOwner` of its tasks). */
  readonly engineId: string;
  stats(): WorkerStats;
  /**
   * Stops claiming, then stops the engine: running attempts get `graceMs` to finish, then are
   * aborted and released with the attempt recorded; tasks held but not running are released for
   * other workers. @default graceMs as long as they take
   */
  stop(options?: { graceMs?: number }): Promise<void>;
}

/** What the worker needs of the registry it runs in. */
export interface WorkerHost {
  /** Stops the engine (see `ServiceRegistry.stop`). */
  stopEngine(graceMs: number | undefined): Promise<void>;
  /**
   * Runs (or joins the run of) a workflow's graph here as `executeWorkflow` does, with the submitted
   * plan and this agent resolver; resolves with its status at the run's next stop.
   */
  runWorkflow: RunWorkflow;
  /** Ends this engine's run of a workflow's graph, its callers getting `error` (see `EnhancedExecutor.endRun`). */
  endRun(workflowId: string, error: Error): void;
}

/**
 * Takes runnable tasks of any workflow from the store while the engine has free slots
 * (`maxConcurrency`, plus `prefetch` held ahead) and runs them as recovery does (`adoptStored`). It claims again as soon as a
 * slot frees after a full claim, when woken (a NOTIFY on PostgreSQL), or every `pollMs`; between
 * those it waits on one timer and does no work.
 */
export class Worker implements WorkerHandle {
  private readonly counts: Omit<WorkerStats, 'coordinated' | 'coordinating' | 'coordinationsLost'> = {
    claims: 0,
    claimed: 0,
    adopted: 0,
    unresolved: 0,
    running: 0,
    completed: 0,
    ended: 0,
    claimErrors: 0,
    reconciled: 0,
  };
  /** When this worker's claims last let go of gone engines' tasks (its clock). */
  private releasedGoneAt = Number.NEGATIVE_INFINITY;
  /** Agent keys this worker found no agent for: it claims no more of their tasks. */
  private readonly unserved = new Set<string>();
  private readonly codeRateLimits: CodeRateLimits;
  /** The workflows with graph parts this worker coordinates. */
  private readonly coordinator: WorkflowCoordinator;
  private stopping = false;
  private stopped: Promise<void> | null = null;
  /** Whether the store may name this engine as the holder of tasks it does not run (see reconcile). */
  private unreconciled = true;
  private sinceReconcile = 0;
  /** Whether the last claim got all it asked for: more work is likely waiting. */
  private saturated = false;
  /**
   * Set when the last claim left tasks in the store for their rate limits: ms until one of their
   * gates may admit a start, so the loop claims again then rather than at the next poll.
   */
  private rateWait: { ms: number; earliestMs: number } | undefined;
  /** Set when something asks for a claim while one is in progress or the loop is about to wait. */
  private woken = false;
  /** The claim loop's wait between rounds (at most one). */
  private readonly wakers = new Set<() => void>();
  private unlisten: (() => Promise<void>) | null = null;
  private loop: Promise<void> | null = null;

  constructor(
    private readonly runtime: RecoveryEngine,
    private readonly options: ResolvedWorkerOptions,
    private readonly host: WorkerHost,
  ) {
    this.codeRateLimits = new CodeRateLimits(runtime.store, () => runtime.options.clock.now());
    this.coordinator = new WorkflowCoordinator({
      runtime,
      resolveAgent: options.resolveAgent,
      runWorkflow: host.runWorkflow,
      endRun: (workflowId, error) => host.endRun(workflowId, error),
      maxWorkflows: options.maxWorkflows,
      pollMs: options.pollMs,
      onEnd: () => this.wake(),
    });
  }

  get engineId(): string {
    return this.runtime.options.engineId;
  }

  /** Starts listening for wake-ups (where the store can push them) and the claim loop. */
  async start(): Promise<void> {
    const store = this.runtime.store;
    if (typeof store.claimRunnable !== 'function') {
      throw new InvalidStateError(
        `Workers need a store with claimRunnable (memory, SQLite or PostgreSQL); the ${store.kind} store given has none`,
      );
    }
    for (const agent of this.options.agents) await this.codeRateLimits.note(agent.id, agent);
    // Other workers change this engine's workflows' tasks too: the store derives their status.
    this.runtime.committer.deriveWorkflowStatuses(storedWorkflowStatus);
    if (typeof store.listenForWork === 'function')
      this.unlisten = await store.listenForWork(() => this.wake());
    this.loop = this.run();
  }

  stats(): WorkerStats {
    return {
      ...this.counts,
      coordinated: this.coordinator.coordinated,
      coordinating: this.coordinator.size,
      coordinationsLost: this.coordinator.lostCount,
    };
  }

  stop(options: { graceMs?: number } = {}): Promise<void> {
    this.stopped ??= (async () => {
      await this.halt();
      await this.host.stopEngine(options.graceMs);
    })();
    return this.stopped;
  }

  /** Stops claiming and listening; the engine goes on (the registry stops it). */
  async halt(): Promise<void> {
    this.stopping = true;
    this.wake();
    this.coordinator.halt();
    await this.loop;
    const unlisten = this.unlisten;
    this.unlisten = null;
    await unlisten?.().catch(() => {});
  }

  private wake(): void {
    this.woken = true;
    for (const waker of [...this.wakers]) waker();
  }

  private async run(): Promise<void> {
    const { clock, maxConcurrency } = this.runtime.options;
    while (!this.stopping) {
      this.woken = false;
      if (this.unreconciled || (this.sinceReconcile += 1) >= RECONCILE_EVERY) await this.reconcile();
      if (!(await this.coordinator.claim())) this.counts.claimErrors += 1;
      const window = maxConcurrency + this.options.prefetch;
      const free = window - this.counts.running;
      if (free > 0) {
        const asked = Math.min(free, this.options.batchSize);
        const got = await this.claim(asked);
        this.saturated = got === asked;
        if (this.saturated && this.counts.running < window) continue;
      }
      if (this.stopping || this.woken) continue;
      await nap(clock, Math.min(this.options.pollMs, this.rateNapMs()), this.wakers);
    }
  }

  /**
   * How long to wait for a rate limit's next token before claiming again (Infinity: no hint). The
   * next start comes between the claim's two hints (ClaimedTasks.rateWaitEarliestMs, rateWaitMs):
   * nap until the earliest, or RATE_RECHECK_MS when that is now (other claimers' tasks are about
   * to take the tokens), never past the latest.
   */
  private rateNapMs(): number {
    if (this.rateWait === undefined) return Infinity;
    const { ms, earliestMs } = this.rateWait;
    return Math.max(1, Math.min(ms, Math.max(earliestMs, RATE_RECHECK_MS)));
  }

  /** One claim: takes up to `limit` tasks and adopts them; returns how many the store gave. */
  private async claim(limit: number): Promise<number> {
    const runtime = this.runtime;
    this.rateWait = undefined;
    try {
      return await runtime.decideOnStored(async (touched) => {
        const now = runtime.options.clock.now();
        const tasks = await runtime.store.claimRunnable!({
          engineId: runtime.options.engineId,
          limit,
          now,
          skipAgentKeys: [...this.unserved],
          releaseGone: this.releaseDue(now),
          ratesAt: rateTime(runtime.options.clock),
        });
        if (tasks.rateWaitMs !== undefined)
          this.rateWait = { ms: tasks.rateWaitMs, earliestMs: tasks.rateWaitEarliestMs ?? tasks.rateWaitMs };
        this.counts.claims += 1;
        this.counts.claimed += tasks.length;
        for (const task of tasks) {
          await this.adoptOne(task, touched, now).catch((error: unknown) => {
            runtime.options.logger.error(
              { taskId: task.id, error: (error as Error)?.message },
              'A worker could not take over a claimed task; it stays held until this engine stops',
            );
          });
        }
        return tasks.length;
      });
    } catch (error) {
      this.counts.claimErrors += 1;
      // The claim may have committed although its answer was lost: its tasks name this engine.
      this.unreconciled = true;
      runtime.options.logger.warn(
        { engineId: runtime.options.engineId, error: (error as Error)?.message },
        'A worker claim failed; trying again at the next poll',
      );
      return 0;
    } finally {
      // What the adoptions staged (their starts) commits before the next claim.
      await runtime.committer.settle().catch(() => {});
    }
  }

  /**
   * Takes up the tasks the store says this engine holds but that it does not run: a claim whose
   * commit landed while its answer was lost (the connection dropped at COMMIT), or work this engine
   * let go when the store stayed unreachable past `storeRetryMs`. No other engine takes them while
   * this one beats, so without this they would wait forever. Runs at start, after a failed claim,
   * and every RECONCILE_EVERY rounds of the loop.
   */
  private async reconcile(): Promise<void> {
    const runtime = this.runtime;
    const me = runtime.options.engineId;
    this.unreconciled = false;
    this.sinceReconcile = 0;
    try {
      await runtime.decideOnStored(async (touched) => {
        const now = runtime.options.clock.now();
        for (const status of ['PENDING', 'RUNNING'] as const) {
          for (const task of await runtime.store.tasks.find({ where: { leaseOwner: me, status } })) {
            if (task.execution === null || touched.has(task.id) || runtime.executionOf(task.id)) continue;
            this.counts.reconciled += 1;
            await this.adoptOne(task, touched, now).catch((error: unknown) => {
              runtime.options.logger.error(
                { taskId: task.id, error: (error as Error)?.message },
                'A worker could not take up a task the store says it holds',
              );
            });
          }
        }
      });
    } catch (error) {
      this.unreconciled = true;
      runtime.options.logger.warn(
        { engineId: me, error: (error as Error)?.message },
        'A worker could not read the tasks it holds; trying again at the next poll',
      );
    } finally {
      await runtime.committer.settle().catch(() => {});
    }
  }

  /**
   * Whether a claim lets go of gone engines' tasks: at most once every `pollMs` (a statement saved on
   * most claims of a busy worker; a takeover waits at most one poll longer).
   */
  private releaseDue(now: number): boolean {
    const due = !(now >= this.releasedGoneAt && now - this.releasedGoneAt < this.options.pollMs);
    if (due) this.releasedGoneAt = now;
    return due;
  }

  /** See `WorkflowCoordinator.letGo` (the registry calls it once the engine has stopped). */
  letGo(): Promise<void> {
    return this.coordinator.letGo();
  }

  private async adoptOne(task: Task, touched: TouchedTasks, now: number): Promise<void> {
    const agent = resolvedAgent(this.runtime.options.logger, task, await this.options.resolveAgent(task));
    if (!agent) {
      this.counts.unresolved += 1;
      const agentKey = task.execution!.agentKey;
      if (!this.unserved.has(agentKey)) {
        this.unserved.add(agentKey);
        this.runtime.options.logger.warn(
          { taskId: task.id, agentKey },
          'A worker claimed a task it has no agent for; it lets it go for another worker and skips its agent key from now on',
        );
      }
      // Let go as stop lets go of a queued task: only the holder changes (committed before the next claim).
      this.runtime.committer.stageTaskState({ ...task, leaseOwner: null, leaseExpiresAt: null });
      return;
    }
    await this.codeRateLimits.note(task.execution!.agentKey, agent).catch(() => {});
    const adopted = await adoptStored(this.runtime, task, agent, touched, now);
    if (adopted === null) return;
    this.counts.adopted += 1;
    this.counts.running += 1;
    adopted.done.then(
      (result: ExecutionResult) => this.settled(result.status === 'COMPLETED'),
      () => this.settled(false),
    );
  }

  private settled(completed: boolean): void {
    this.counts.running -= 1;
    if (completed) this.counts.completed += 1;
    else this.counts.ended += 1;
    // A slot freed: claim again if the last claim suggested more work is waiting. With tasks held
    // ahead (`prefetch`) the claim waits until half a batch is free or a slot is about to idle, so
    // that claims take batches, not one task each.
    if (!this.saturated) return;
    const { maxConcurrency } = this.runtime.options;
    const free = maxConcurrency + this.options.prefetch - this.counts.running;
    if (this.counts.running <= maxConcurrency || free >= Math.ceil(this.options.batchSize / 2)) this.wake();
  }
}
