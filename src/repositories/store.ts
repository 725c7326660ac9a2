import type { ScheduleStore } from '../schedules/schedule.js';
import type { AgentConfig } from '../domain/agent-config.js';
import type { StoredBreaker } from './breakers.js';
import type { RateBucketGrant, RateBucketOp, RateBucketsRead, RateLimit } from '../domain/rate-limit.js';
import type { TaskKeyOutcome, TaskKeyRequest } from '../domain/task-keys.js';
import type { WorkflowKeyRequest } from '../domain/workflow-keys.js';
import type { ClaimWorkflowsOptions, SubmittedWorkflow, WorkflowPlan } from './workflow-runs.js';
import type { Task } from '../domain/task.js';
import type { Workflow } from '../domain/workflow.js';
import type { ClaimedTasks, ClaimRunnableOptions } from './claim-runnable.js';
import type { HeldLoad, HeldLoadOptions } from './held-load.js';
import type { Repository } from './repository.js';
import type { EventPage, EventQuery, EventRecord, EventRetention } from './events.js';
import type { CoordinationFence } from './coordination.js';

/** The one record of a task's completion; a store keeps at most one per task. */
export interface CompletionRecord {
  taskId: string;
  executionId: string;
  attempt: number;
  /** Epoch milliseconds of the engine's clock. */
  completedAt: number;
}

/**
 * A steering command (PAUSE, RESUME, CANCEL) for a workflow or for one task, written through the
 * store so that the engine holding its target applies it, whichever process sent it.
 */
export interface ControlCommand {
  id: string;
  /** The workflow steered; for a task command, the task's workflow (or null). */
  workflowId: string | null;
  /** The task steered; null for a workflow command. */
  taskId: string | null;
  type: 'PAUSE' | 'RESUME' | 'CANCEL';
  createdAt: number;
}

/** A command as stored: `seq` grows with every command written. */
export interface StoredCommand extends ControlCommand {
  seq: number;
}

/**
 * An engine's sign of life on a shared store, written by its control loop every `controlPollMs`.
 * Other processes read it (as a `StoredBeat`) to tell whether the engine that leased a task or
 * holds a workflow is still there. It carries no time of the engine's clock: the store stamps it
 * with its own clock, so engines whose clocks disagree still agree on who is alive.
 */
export interface EngineBeat {
  engineId: string;
  /** How long, in ms of the store's clock, the beat counts as a sign of life (the engine beats again well before). */
  ttlMs: number;
  /** True once the engine has stopped cleanly: it holds nothing any more. */
  stopped: boolean;
}

/** An engine's last beat as the store keeps it, timed and judged by the store's clock. */
export interface StoredBeat {
  engineId: string;
  /** When the store received it: epoch milliseconds of the store's clock. */
  beatAt: number;
  /** `beatAt` plus the beat's `ttlMs`. */
  expiresAt: number;
  stopped: boolean;
  /** Not a stop, and `expiresAt` is still ahead of the store's clock when read. */
  alive: boolean;
}

/** An engine's answer to a control command: whether it held the workflow and applied it. */
export interface CommandAck {
  commandId: string;
  engineId: string;
  applied: boolean;
  /** Why the holding engine refused to apply it (its machines' INVALID_STATE message), or null. */
  error: string | null;
  /** Epoch milliseconds of the acknowledging engine's clock. */
  ackedAt: number;
}

/** A named signal sent to a workflow (`registry.signal`), kept until a wait takes it. */
export interface Signal {
  id: string;
  workflowId: string;
  name: string;
  /** JSON payload (already copied / size-checked by the caller); null when none. */
  payload: unknown;
  /** Epoch milliseconds of the sending engine's clock. */
  sentAt: number;
}

/** A signal as stored: `seq` grows with every signal written (the order waits take them in). */
export interface StoredSignal extends Signal {
  seq: number;
  /** The task (a wait node) that took it, or null while it waits to be taken. */
  takenBy: string | null;
  takenAt: number | null;
}

/** A wait node takes a signal. */
export interface SignalTake {
  signalId: string;
  taskId: string;
  at: number;
}

/**
 * The condition under which a state write of a task an engine holds applies: the stored row's
 * `leaseOwner` is `holder`, or, for the write by which an engine takes the task (`takenFrom` given),
 * the owner it found (null: nobody). A write whose condition fails changes nothing (fencing): an
 * engine that lost its task (another one took it over while this one was paused past its lease)
 * cannot overwrite what the new holder recorded.
 */
export interface TaskFence {
  holder: string;
  takenFrom?: string | null;
}

/** Whether a stored row passes a fence (see {@link TaskFence}). */
export function passesFence(stored: { leaseOwner: string | null }, fence: TaskFence | undefined): boolean {
  if (fence === undefined || stored.leaseOwner === fence.holder) return true;
  return fence.takenFrom !== undefined && stored.leaseOwner === fence.takenFrom;
}

/** A workflow's stored tasks as its status derivation reads them. */
export interface WorkflowTasks {
  /** Tasks per status. */
  counts: Record<Task['status'], number>;
  /** Some task made an attempt. */
  started: boolean;
}

/**
 * Status derivations a commit runs after its writes, in its transaction: for each workflow (in id
 * order), its stored row is locked (PostgreSQL: `FOR UPDATE`; SQLite and memory serialise writes
 * anyway), its tasks are counted by status, and `status` (the workflow machine's rule, a pure
 * function) gives the status to store; the row is written only if that changes it (`updatedAt` =
 * `at`). Two engines committing changes of one workflow's tasks at once are thus serialised on its
 * row, and the later one counts the earlier one's tasks: the last derivation sees every task.
 */
export interface WorkflowDerivation {
  workflowIds: readonly string[];
  status(row: Workflow, tasks: WorkflowTasks): Workflow['status'];
  at: number;
  /**
   * When given, each change of status the commit makes to a derived workflow's row, from the
   * status the row had under the lock before the batch's writes to the one the derivation leaves,
   * is a `workflow.status` event of this engine: stored after the batch's own events (unless
   * `storeEvents` is false) and returned in `CommitResult.derived`. The batch's own events hold
   * none of these workflows' status changes (the engine's view may be stale).
   */
  eventsBy?: string;
  /** With `eventsBy`: false returns the events without storing them. @default true */
  storeEvents?: boolean;
}

/** What a commit reports back. */
export interface CommitResult {
  /**
   * Ids of fenced state writes (see `StoreBatch.fences`) that were not applied: the row is held by
   * another engine, or is COMPLETED in the store while the write would move it elsewhere.
   */
  fenced: string[];
  /** The `workflow.status` events the batch's status derivations stored (see `WorkflowDerivation.eventsBy`). */
  derived?: EventRecord[];
  /**
   * Workflows of the batch's coordinator fence (`StoreBatch.coordination`) that the store names
   * another coordinator of (or none): none of their writes was applied, and their tasks' ids are
   * in `fenced`. Absent when there are none.
   */
  lost?: string[];
}

/** Writes applied together: all of them or none. */
export interface StoreBatch {
  tasks?: readonly Task[];
  /**
   * State changes of tasks already stored: only the lifecycle fields (`TASK_STATE_FIELDS`) are
   * written, the others stay as stored; a row missing from the store is inserted whole. A task
   * COMPLETED in the store stays COMPLETED: a state write that would move it elsewhere is skipped.
   * Never holds a task that `tasks` holds too.
   */
  taskStates?: readonly Task[];
  /**
   * Fences of state writes, by task id (see {@link TaskFence}): such a write applies only where its
   * condition holds, and the commit reports the others (`CommitResult.fenced`). A write of a row
   * missing from the store is inserted whole, as without a fence.
   */
  fences?: ReadonlyMap<string, TaskFence>;
  /**
   * The coordinator fence (see {@link CoordinationFence}): the writes of these submitted workflows
   * (their tasks' rows, whole or state, their workflow rows and derivations, the completion
   * records, signal takes and events of those) apply only while the store names this engine their
   * coordinator; those of a workflow it does not are left out, the rest of the batch applies, and
   * the commit reports them (`CommitResult.lost`). Stores without `submitWorkflow` ignore it.
   */
  coordination?: CoordinationFence;
  workflows?: readonly Workflow[];
  /**
   * Workflows whose status is derived again from their stored tasks in the batch's transaction,
   * after its writes (see {@link WorkflowDerivation}): what keeps a workflow's status right while
   * several engines change its tasks at once.
   */
  deriveWorkflows?: WorkflowDerivation;
  agentConfigs?: readonly AgentConfig[];
  /**
   * Inserted after the batch's task writes, for tasks that are then COMPLETED in the store; one whose
   * task is not COMPLETED, or already has a completion record, is skipped (never doubled).
   */
  completions?: readonly CompletionRecord[];
  /** Control commands, appended. */
  commands?: readonly ControlCommand[];
  /** Engine beats; each replaces the engine's previous one. */
  beats?: readonly EngineBeat[];
  /** Command acknowledgements; a second one by the same engine for the same command is skipped. */
  acks?: readonly CommandAck[];
  /** Signals, appended; an id already stored (or twice in the batch) fails the batch (DUPLICATE_ID). */
  signals?: readonly Signal[];
  /**
   * Takes, applied after the batch's task writes and signals: each marks its signal taken where it
   * is not taken yet; a signal already taken (or missing) stays as it was, never taken twice.
   */
  signalTakes?: readonly SignalTake[];
  /**
   * Events reporting the batch's changes (see src/repositories/events.ts), appended in order in the
   * same transaction; an event whose `taskId` names a fenced state write the commit did not apply
   * (`CommitResult.fenced`) is left out. A payload that is not a JSON object fails the batch.
   */
  events?: readonly EventRecord[];
}

export type StoreKind = 'memory' | 'sqlite' | 'postgres';

/** Whether a batch has nothing to write. */
export function isEmptyBatch(batch: StoreBatch): boolean {
  return (
    !batch.tasks?.length &&
    !batch.taskStates?.length &&
    !batch.deriveWorkflows?.workflowIds.length &&
    !batch.workflows?.length &&
    !batch.agentConfigs?.length &&
    !batch.completions?.length &&
    !batch.commands?.length &&
    !batch.beats?.length &&
    !batch.acks?.length &&
    !batch.signals?.length &&
    !batch.signalTakes?.length &&
    !batch.events?.length
  );
}

/**
 * Everything an engine keeps. `commit` is the engine's write path: one transaction per batch of
 * transitions (group commit). The repositories serve reads and direct edits.
 */
/** How `Store.open` opens a store. */
export interface StoreOpenOptions {
  /**
   * Only read a store that is there: create nothing (no file, schema or table), migrate nothing,
   * and refuse, with a StoreError `STORE_NOT_FOUND`, a place that holds no Symphony store (a
   * missing or empty SQLite file, another application's file, a PostgreSQL schema without
   * Symphony's tables); a store of an older schema version is refused with `STORE_UNAVAILABLE`
   * (opening it to write migrates it). The connections are read-only: a write fails with
   * `STORE_READ_ONLY`. Stores private to the process (`MemoryStore`, SQLite `':memory:'`) open as
   * usual.
   * @default false
   */
  readOnly?: boolean;
}

export interface Store {
  readonly kind: StoreKind;
  /**
   * How many commits the engine may have in flight at once (absent: 1). With more than one, a
   * batch of task writes that shares no task with the batches in flight may commit beside them, and
   * a large one is split in two (never a batch that writes a workflow row or records of other
   * kinds): a store with several connections then works on two batches while the engine prepares
   * the next. Each commit must stay atomic on its own.
   */
  readonly commitLanes?: number;
  readonly tasks: Repository<Task>;
  readonly workflows: Repository<Workflow>;
  readonly agentConfigs: Repository<AgentConfig>;
  /**
   * Opens connections and applies migrations; called once before any other method. With
   * `{ readOnly: true }` nothing is created or migrated (see StoreOpenOptions).
   */
  open(options?: StoreOpenOptions): Promise<void>;
  /**
   * Writes the batch, all of it or nothing. Its rows are the engine's live objects, which change
   * as soon as `commit` returns its promise: read (or copy) everything from them before the first
   * `await`. The store contract tests check it. Resolves with the fenced writes it did not apply
   * (a store wrapper may resolve with nothing: no write was fenced out).
   */
  commit(batch: StoreBatch): Promise<CommitResult | void>;
  /** Completion records of the given task, or of every task when none is given. */
  completions(taskId?: string): Promise<CompletionRecord[]>;
  /** Commands with `seq` greater than `afterSeq`, oldest first, at most `limit`. */
  commandsAfter(afterSeq: number, limit?: number): Promise<StoredCommand[]>;
  /** The `seq` of the newest command, or 0 when there is none. */
  latestCommandSeq(): Promise<number>;
  /** The last beat of every engine that ever beat on this store, by engine id; `alive` by the store's clock. */
  engineBeats(): Promise<StoredBeat[]>;
  /** The acknowledgements of one command, oldest first. */
  commandAcks(commandId: string): Promise<CommandAck[]>;
  /**
   * Marks the unfinished tasks (not COMPLETED, FAILED or CANCELLED) as held by `engineId` where
   * their `leaseOwner` is still null, `engineId`, or one of `from` (engines found dead); returns the
   * ids it marked. A task that finished meanwhile is left as it is. Atomic: of two engines claiming
   * the same task at once, one gets it (recovery claims before it adopts).
   */
  claimTasks(ids: readonly string[], engineId: string, from: readonly string[]): Promise<string[]>;
  /**
   * Marks up to `limit` runnable tasks as held by `engineId` and returns their rows, higher plan
   * priority first, then oldest (see `ClaimRunnableOptions` for what is runnable, and how fairness
   * keys and rate limits choose among them). Atomic: of two engines claiming at once, each task goes
   * to one. Workers (`registry.startWorker`) need it.
   */
  claimRunnable?(options: ClaimRunnableOptions): Promise<ClaimedTasks>;
  /**
   * The load engines put on each agent key, counted in the store: the unfinished tasks (PENDING,
   * RUNNING, PAUSED) with an execution plan held by a live engine (its `leaseOwner`, alive by the
   * claim's rule: see `ClaimRunnableOptions`), one row per agent key and holder, ordered by agent key
   * then holder. What routers of several engines add up so that load holds across workers (see
   * `TaskRouter.getLoad`). PostgreSQL reads it through the index of held tasks, not the table.
   */
  heldLoad?(options: HeldLoadOptions): Promise<HeldLoad[]>;
  /**
   * Calls `onWake` when a commit elsewhere leaves work to claim (PostgreSQL: LISTEN on the schema's
   * channel, which such commits NOTIFY); resolves, once listening, to the function that stops it.
   * Stores that cannot push have none: their workers poll.
   */
  listenForWork?(onWake: () => void): Promise<() => Promise<void>>;
  /**
   * Hands a workflow to workers as a whole (see src/repositories/workflow-runs.ts): kept with its
   * plan, not yet coordinated; submitting it again replaces the plan and makes an ended one
   * claimable again. Its tasks are never claimed one by one (`claimRunnable` leaves them to its
   * coordinator). Stores that can wake workers do so. Graph workflows on workers need it.
   */
  submitWorkflow?(workflowId: string, plan: WorkflowPlan, now: number): Promise<void>;
  /**
   * Marks up to `limit` claimable submitted workflows (see `isClaimableRun`) as coordinated by
   * `engineId` and returns them, oldest submission first. Atomic: of two engines claiming at once,
   * each workflow goes to one.
   */
  claimWorkflows?(options: ClaimWorkflowsOptions): Promise<SubmittedWorkflow[]>;
  /**
   * Lets go of a submitted workflow `engineId` coordinates (nothing if another engine does now);
   * `endedAt` (epoch ms) marks it ended for good: its coordinator saw it COMPLETED, FAILED or CANCELLED.
   */
  releaseWorkflow?(workflowId: string, engineId: string, endedAt: number | null): Promise<void>;
  /** Every submitted workflow, oldest submission first. */
  submittedWorkflows?(): Promise<SubmittedWorkflow[]>;
  /**
   * Records a transition of an agent config's circuit breaker (see src/repositories/breakers.ts):
   * the row replaces the stored one only if its `changedAt` is later. Resolves to whether it did.
   * Engines share their breakers through it; a store without it keeps every breaker per engine.
   */
  saveBreaker?(row: StoredBreaker): Promise<boolean>;
  /** Every stored breaker row, by agent id. */
  breakers?(): Promise<StoredBreaker[]>;
  /**
   * Deletes control records older than `before` (epoch ms): commands created before it (always
   * keeping the newest, so `seq` keeps growing) with their acknowledgements, and beats of engines
   * that stopped or whose last beat expired before it. With `events`, stored events past that
   * retention go too (older than `events.before`, or beyond the newest `events.maxEvents`).
   */
  pruneControl(before: number, events?: EventRetention): Promise<void>;
  /**
   * Deletes the serve marks of fairness keys claims no longer need (src/repositories/fair-marks-prune.ts):
   * of keys with no unfinished task, served before every group with a task waiting at `now` (epoch
   * ms). A key that comes back counts as never served. One engine at a time on PostgreSQL (the others
   * leave it to that one). Resolves to the marks deleted. Stores without claims keep no marks.
   */
  pruneFairMarks?(now: number): Promise<number>;
  /**
   * Records the rate limits of an agent defined in code (no stored config of its key): claims then
   * take its tasks within them, as they do a config's `rateLimits` (docs/policies.md "Rate limits").
   * Workers record those of the agents they run; the last recorded wins; an empty list deletes them.
   * A stored config of the key takes precedence. Stores without claims need not keep them.
   */
  saveAgentRateLimits?(agentKey: string, rateLimits: readonly RateLimit[], now: number): Promise<void>;
  /**
   * The stored events after a cursor, oldest first (see `EventQuery`): in the order their commits
   * landed, so that a reader following the cursor sees every committed event once. A cursor this
   * store did not hand out is refused (INVALID_ARGUMENT). Stores without it keep no events.
   */
  readEvents?(query: EventQuery): Promise<EventPage>;
  /**
   * Applies operations to token buckets (rate limits, see src/domain/rate-limit.ts), each atomically
   * by the law of `applyRateOp`: refill from the time elapsed, add, block, grant. Keys are distinct
   * within a call. Times are the store's clock where an operation gives no `at`. Rate limits need it.
   */
  takeRateTokens?(ops: readonly RateBucketOp[]): Promise<RateBucketGrant[]>;
  /**
   * Reads token buckets as stored, changing nothing (no refill written, no row created): for views
   * of the store (the dashboard's agents page), which apply `applyRateOp` to a copy at `now`. Stores
   * with `takeRateTokens` have it.
   */
  readRateBuckets?(keys: readonly string[]): Promise<RateBucketsRead>;
  /**
   * Asks for a debounce or singleton key for a task: reads the key's holder and its task row, decides
   * by the law of `decideTaskKey` and stores the new holder, atomically (of two requests for one key
   * at once, the second sees the first's outcome). Debounce and singletons need it.
   */
  takeTaskKey?(request: TaskKeyRequest): Promise<TaskKeyOutcome>;
  /** The task holding a debounce or singleton key (finished or not); null: none ever did. */
  taskKeyHolder?(key: string): Promise<string | null>;
  /**
   * `takeTaskKey` for a workflow's key (docs/policies.md "Debounce and singleton"): the holder is a
   * workflow, decided by the law of `decideWorkflowKey` (it is queued while none of its tasks has
   * started an attempt), in the same table under the `workflow:` namespace, atomically as task keys
   * are. Stores with `takeTaskKey` have it.
   */
  takeWorkflowKey?(request: WorkflowKeyRequest): Promise<TaskKeyOutcome>;
  /** The workflow holding a workflow's debounce or singleton key (finished or not); null: none ever did. */
  workflowKeyHolder?(key: string): Promise<string | null>;
  /** The workflow's signals, oldest first (by `seq`); with `pending: true` only those not taken. */
  signals(workflowId: string, options?: { pending?: boolean }): Promise<StoredSignal[]>;
  /** Cron schedules and their firings (src/schedules/schedule.ts). Schedules need it. */
  readonly schedules?: ScheduleStore;
  close(): Promise<void>;
}
