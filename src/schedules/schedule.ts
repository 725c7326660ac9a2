import type { RetryPolicy } from '../engine/retry-policy.js';
import type { WorkflowDefinitionInput } from '../graph/node-options.js';
import type { EnqueueOptions } from '../services/enqueue.js';
import type { FallbackPolicy } from '../services/fallback.js';
import { TASK_OPTION_FIELDS, type TaskOptionsMap } from '../services/task-options.js';

type TaskOptionField = (typeof TASK_OPTION_FIELDS)[number];

/**
 * Cron schedules that start workflows from a template (docs/policies.md, "Cron schedules"). The
 * store keeps each schedule with its next due time and a record of every occurrence it fired, one
 * row per (schedule, occurrence): the record is what makes an occurrence fire once cluster-wide.
 */

/** Which of the occurrences that fell due while no engine fired them still start a workflow. */
export type CatchUp = 'none' | 'latest' | 'all';
/** Whether an occurrence starts a workflow while the schedule's previous one has not ended. */
export type Overlap = 'skip' | 'allow';

/**
 * The options of `enqueueWorkflow` a template carries, with their names and meanings: each firing
 * passes them on, so time limits count from the firing's enqueue. Not `delayMs`, `runAt` nor
 * `deadline`, at the template's level or a task's: a schedule decides when its workflows start.
 */
export const TEMPLATE_RUN_FIELDS = TASK_OPTION_FIELDS.filter(
  (field): field is Exclude<TaskOptionField, 'delayMs' | 'runAt'> => field !== 'delayMs' && field !== 'runAt',
);

/** The options of `enqueueWorkflow` a template gives: those of `TEMPLATE_RUN_FIELDS` it sets. */
export function templateRunOptions(template: object): EnqueueOptions {
  const fields = template as Record<string, unknown>;
  return Object.fromEntries(
    TEMPLATE_RUN_FIELDS.flatMap((field) => (fields[field] === undefined ? [] : [[field, fields[field]]])),
  );
}

/** What each occurrence starts: a workflow made from `workflow`, handed to workers. */
export interface ScheduleTemplate extends Pick<EnqueueOptions, (typeof TEMPLATE_RUN_FIELDS)[number]> {
  /** The workflow's definition: its tasks name their dependencies by key (CEL conditions only). */
  workflow: WorkflowDefinitionInput;
  /** The agent config (or agent id) of every task, or one per task key. */
  agentKey: string | Record<string, string>;
  /** The tasks' retry policy. @default the engine's */
  retry?: Partial<RetryPolicy>;
  /** How long an attempt may run; 0: no limit. @default the engine's */
  timeoutMs?: number;
  /**
   * A task's first attempt must start within this many ms of the firing's enqueue, else it ends
   * FAILED with DEADLINE_EXCEEDED. Not with graph parts (workers take those untimed). @default none
   */
  scheduleToStartMs?: number;
  /**
   * A task must end within this many ms of the firing's enqueue, across its attempts (its plan's
   * `closeBy`), else SCHEDULE_TO_CLOSE_TIMEOUT. Not with graph parts. @default none
   */
  scheduleToCloseMs?: number;
  /** An attempt without a heartbeat for this many ms is aborted and retried. Not with graph parts. @default none */
  heartbeatTimeoutMs?: number;
  /** The tasks' fairness key, shared with every run of the key in the store. @default none */
  concurrencyKey?: string;
  /** Tasks of `concurrencyKey` running at once, cluster-wide; 0: no limit. @default 0 */
  keyConcurrency?: number;
  /** Token buckets of `concurrencyKey`. @default none */
  keyRateLimits?: EnqueueOptions['keyRateLimits'];
  /**
   * A workflow with graph parts, or with `fallback`: executions of it at once (refused at `create`
   * otherwise, as `enqueueWorkflow` refuses it). @default no limit
   */
  maxConcurrent?: number;
  /**
   * Fallback agents (`EnqueueWorkflowOptions.fallback`): a task whose agent's breaker is open runs
   * on another candidate; the workflow then goes to workers as a whole. @default none
   */
  fallback?: FallbackPolicy;
  /**
   * Options of single tasks over these, by task key (`EnqueueWorkflowOptions.taskOptions`): any
   * `TaskExecuteOptions` field but `delayMs` and `runAt`. @default none
   */
  taskOptions?: TaskOptionsMap;
}

/** A schedule as the store keeps it. */
export interface Schedule {
  id: string;
  /** A cron expression (5 fields, or 6 with seconds first), as croner reads it. */
  cron: string;
  /** The IANA time zone the expression is read in; null: UTC. */
  timezone: string | null;
  template: ScheduleTemplate;
  catchUp: CatchUp;
  /** Occurrences started by one firing at most (the bound of catch-up). */
  maxCatchUp: number;
  /** How late an occurrence may be and still count as on time with `catchUp: 'none'` (ms). */
  graceMs: number;
  overlap: Overlap;
  paused: boolean;
  /** The first occurrence not yet fired (epoch ms); null: the expression has no further one. */
  nextRunAt: number | null;
  /** The workflow the schedule started last; null: none yet. */
  lastWorkflowId: string | null;
  createdAt: number;
  updatedAt: number;
}

/** An occurrence a schedule fired: the workflow it started is `workflowId`. */
export interface ScheduleFiring {
  scheduleId: string;
  /** The occurrence's time (epoch ms); `trigger` uses the time it was called. */
  occurrenceAt: number;
  workflowId: string;
  /** The engine that fired it (or last restarted it after a crash: `claimUnstarted`), and when by its clock. */
  firedBy: string;
  firedAt: number;
}

/** What a claim of a due schedule decided: the occurrences to fire and the next due time. */
export interface FiringPlan {
  occurrences: number[];
  nextRunAt: number | null;
}

/** A due schedule as a claim reads it: with whether its last workflow has not ended yet. */
export interface DueSchedule {
  schedule: Schedule;
  previousRunning: boolean;
}

/** What `ScheduleStore.claimDue` is asked. */
export interface ClaimDueOptions {
  /** Due: `nextRunAt <= now` (the engine's clock). */
  now: number;
  engineId: string;
  /** Schedules taken at most. */
  limit: number;
  /** Decides, inside the claim, what each due schedule fires (pure: `planFirings`). */
  plan(due: DueSchedule): FiringPlan;
}

/**
 * Schedules in a store. Every method but `claimDue` reads or writes one row; `claimDue` takes due
 * schedules atomically (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: its write lock; memory: one
 * synchronous step), records their firings and advances `nextRunAt` in one transaction.
 */
export interface ScheduleStore {
  /** Writes the schedule (inserts, or replaces the row with its id). */
  save(schedule: Schedule): Promise<void>;
  get(id: string): Promise<Schedule | undefined>;
  /** Every schedule, by id. */
  list(): Promise<Schedule[]>;
  /** Deletes the schedule and its firings; false: there was none. */
  delete(id: string): Promise<boolean>;
  /**
   * For up to `limit` unpaused schedules due at `now`, oldest due first: records the firings the
   * plan gives (one per occurrence; an occurrence recorded already is not recorded again nor
   * returned), sets `nextRunAt` and `lastWorkflowId`. Returns the firings it recorded. Of two
   * engines claiming at once, each schedule goes to one.
   */
  claimDue(options: ClaimDueOptions): Promise<ScheduleFiring[]>;
  /**
   * Records one firing out of turn (`trigger`) and makes it the schedule's last workflow; false: the
   * occurrence was recorded already (nothing written).
   */
  recordFiring(firing: ScheduleFiring): Promise<boolean>;
  /** The schedule's firings, oldest occurrence first. */
  firings(scheduleId: string): Promise<ScheduleFiring[]>;
  /**
   * The crash window: takes up to `limit` firings fired at or before `firedBefore` whose workflow is
   * not stored (the engine that recorded them stopped before it made it), oldest first, and marks
   * each as fired again by `engineId` at `now`, so that another engine takes it only once `now` is
   * past the grace period again. Of two engines claiming at once, each firing goes to one.
   */
  claimUnstarted(options: ClaimUnstartedOptions): Promise<ScheduleFiring[]>;
}

/** What `ScheduleStore.claimUnstarted` is asked. */
export interface ClaimUnstartedOptions {
  /** Only firings with `firedAt <= firedBefore` (now minus the grace period). */
  firedBefore: number;
  now: number;
  engineId: string;
  limit: number;
}

/** The workflow an occurrence starts: its id follows from the schedule and the occurrence. */
export function firingWorkflowId(scheduleId: string, occurrenceAt: number): string {
  return `${scheduleId}-at-${occurrenceAt}`;
}

/** The firing a claim records for one occurrence of a due schedule. */
export function dueFiring(
  scheduleId: string,
  occurrenceAt: number,
  options: Pick<ClaimDueOptions, 'engineId' | 'now'>,
): ScheduleFiring {
  return {
    scheduleId,
    occurrenceAt,
    workflowId: firingWorkflowId(scheduleId, occurrenceAt),
    firedBy: options.engineId,
    firedAt: options.now,
  };
}
