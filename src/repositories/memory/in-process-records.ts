import type { AgentConfig } from '../../domain/agent-config.js';
import type { Task } from '../../domain/task.js';
import type { Workflow } from '../../domain/workflow.js';
import { BreakerLog, type StoredBreaker } from '../breakers.js';
import type { RateBucketState, RateLimit } from '../../domain/rate-limit.js';
import { afterClaims, claimRunnableInProcess } from '../claim-in-process.js';
import { pruneFairMarksInProcess } from '../fair-marks-prune.js';
import type { ClaimedTasks, ClaimRunnableOptions } from '../claim-runnable.js';
import { heldLoadInRepository, type HeldLoad, type HeldLoadOptions } from '../held-load.js';
import { claimInRepository, type Repository } from '../repository.js';
import type {
  CommandAck,
  CompletionRecord,
  StoredBeat,
  StoreBatch,
  StoredCommand,
  StoredSignal,
} from '../store.js';
import { CommandLog, type StoreClock } from './command-log.js';
import { EventLog } from './event-log.js';
import type { EventPage, EventQuery, EventRetention } from '../events.js';
import { SignalLog } from './signal-log.js';
import {
  WorkflowRunLog,
  type ClaimWorkflowsOptions,
  type SubmittedWorkflow,
  type WorkflowPlan,
} from '../workflow-runs.js';

/**
 * What the in-process stores (MemoryStore, the store of replaced repositories) keep besides their
 * repositories: completion records, control records and signals, in process memory.
 */
export abstract class InProcessRecords {
  abstract readonly tasks: Repository<Task>;
  abstract readonly workflows: Repository<Workflow>;
  abstract readonly agentConfigs: Repository<AgentConfig>;
  private readonly completionRecords = new Map<string, CompletionRecord>();
  private readonly commandLog: CommandLog;
  private readonly signalLog = new SignalLog();
  private readonly workflowRuns = new WorkflowRunLog();
  private readonly breakerLog = new BreakerLog();
  private readonly eventLog: EventLog;
  /** The serve marks of fairness groups ('' for the tasks without a key), see src/repositories/fair-order.ts. */
  private readonly fairMarks = new Map<string, number>();
  /** The rate limits of agents defined in code, by agent key (`Store.saveAgentRateLimits`). */
  private readonly codeRateLimits = new Map<string, RateLimit[]>();
  private readonly storeClock: StoreClock;
  /** Claims of workflows in flight, one at a time (their reads await). */
  private claimingWorkflows: Promise<unknown> = Promise.resolve();

  /**
   * `clock` stamps and judges engine beats, as a database server's clock does for the SQL stores;
   * `maxEvents` caps the stored events kept (see EventLog).
   */
  constructor(clock: StoreClock = { now: () => Date.now() }, maxEvents?: number) {
    this.commandLog = new CommandLog(clock);
    this.eventLog = new EventLog(maxEvents);
    this.storeClock = clock;
  }

  /**
   * Checks and encodes a batch's events (a payload that is not JSON fails it) and returns the
   * function that appends them, given the commit's fenced writes; call it last.
   */
  protected prepareEvents(batch: StoreBatch): (fenced: readonly string[]) => void {
    return this.eventLog.prepare(batch.events);
  }

  async readEvents(query: EventQuery): Promise<EventPage> {
    return this.eventLog.read(query);
  }

  /** A stored rate bucket (stores with `takeRateTokens` keep them); claims read it for rate limits. */
  protected rateBucket(_id: string): RateBucketState | undefined {
    return undefined;
  }

  /**
   * Checks and copies a batch's signals and takes (a known signal id fails it) and returns the
   * function that writes them; call it after the batch's task writes.
   */
  protected prepareSignals(batch: StoreBatch): () => void {
    return this.signalLog.prepare(batch);
  }

  /**
   * Keeps a batch's completion records (the first per task, for tasks `isCompleted` says are
   * COMPLETED once the batch's rows are written) and control records.
   */
  protected keepRecords(batch: StoreBatch, isCompleted: (taskId: string) => boolean): void {
    for (const record of batch.completions ?? []) {
      if (!this.completionRecords.has(record.taskId) && isCompleted(record.taskId))
        this.completionRecords.set(record.taskId, { ...record });
    }
    this.commandLog.apply(batch);
  }

  async completions(taskId?: string): Promise<CompletionRecord[]> {
    if (taskId !== undefined) {
      const record = this.completionRecords.get(taskId);
      return record ? [{ ...record }] : [];
    }
    return [...this.completionRecords.values()].map((record) => ({ ...record }));
  }

  async commandsAfter(afterSeq: number, limit?: number): Promise<StoredCommand[]> {
    return this.commandLog.after(afterSeq, limit);
  }

  async latestCommandSeq(): Promise<number> {
    return this.commandLog.latest();
  }

  async engineBeats(): Promise<StoredBeat[]> {
    return this.commandLog.allBeats();
  }

  async commandAcks(commandId: string): Promise<CommandAck[]> {
    return this.commandLog.acksOf(commandId);
  }

  async claimTasks(ids: readonly string[], engineId: string, from: readonly string[]): Promise<string[]> {
    return claimInRepository(this.tasks, ids, engineId, from);
  }

  async claimRunnable(options: ClaimRunnableOptions): Promise<ClaimedTasks> {
    return claimRunnableInProcess(
      {
        tasks: this.tasks,
        workflows: this.workflows,
        agentConfigs: this.agentConfigs,
        beats: () => this.engineBeats(),
        coordinated: (workflowId) => this.workflowRuns.has(workflowId),
        marks: this.fairMarks,
        codeRateLimits: (key) => this.codeRateLimits.get(key),
        bucket: (id) => this.rateBucket(id),
        now: () => this.storeClock.now(),
      },
      options,
    );
  }

  async submitWorkflow(workflowId: string, plan: WorkflowPlan, now: number): Promise<void> {
    this.workflowRuns.submit(workflowId, plan, now);
  }

  async claimWorkflows(options: ClaimWorkflowsOptions): Promise<SubmittedWorkflow[]> {
    const claim = this.claimingWorkflows.then(async () => {
      const beats = await this.engineBeats();
      const ids = this.workflowRuns.list().map((run) => run.workflowId);
      const rows = new Map((await this.workflows.getMany(ids)).map((row) => [row.id, row]));
      return this.workflowRuns.claim(options, (id) => rows.get(id), beats);
    });
    this.claimingWorkflows = claim.catch(() => {});
    return claim;
  }

  /** The engine a submitted workflow names its coordinator (null: none; undefined: not submitted). */
  protected coordinatorOf(workflowId: string): string | null | undefined {
    return this.workflowRuns.coordinatorOf(workflowId);
  }

  async releaseWorkflow(workflowId: string, engineId: string, endedAt: number | null): Promise<void> {
    this.workflowRuns.release(workflowId, engineId, endedAt);
  }

  async submittedWorkflows(): Promise<SubmittedWorkflow[]> {
    return this.workflowRuns.list();
  }

  async heldLoad(options: HeldLoadOptions): Promise<HeldLoad[]> {
    return heldLoadInRepository(this.tasks, () => this.engineBeats(), options);
  }

  async saveBreaker(row: StoredBreaker): Promise<boolean> {
    return this.breakerLog.save(row);
  }

  async breakers(): Promise<StoredBreaker[]> {
    return this.breakerLog.list();
  }

  async pruneControl(before: number, events?: EventRetention): Promise<void> {
    this.commandLog.prune(before);
    if (events) this.eventLog.prune(events);
  }

  async saveAgentRateLimits(agentKey: string, rateLimits: readonly RateLimit[]): Promise<void> {
    if (rateLimits.length === 0) this.codeRateLimits.delete(agentKey);
    else this.codeRateLimits.set(agentKey, structuredClone([...rateLimits]));
  }

  async pruneFairMarks(now: number): Promise<number> {
    const source = { tasks: this.tasks, workflows: this.workflows, marks: this.fairMarks };
    // One at a time with claims, which write the marks.
    return afterClaims(this.tasks, () => pruneFairMarksInProcess(source, now));
  }

  async signals(workflowId: string, options: { pending?: boolean } = {}): Promise<StoredSignal[]> {
    return this.signalLog.list(workflowId, options.pending === true);
  }

  async open(): Promise<void> {}

  async close(): Promise<void> {}
}
