import { definitionOf } from '../graph/node-options.js';
import type { EngineClock } from '../engine/clock.js';
import { nap } from '../engine/coordinator.js';
import type { Runtime } from '../engine/runtime.js';
import {
  InvalidArgumentError,
  InvalidStateError,
  DuplicateIdError,
  ScheduleNotFoundError,
} from '../errors/errors.js';
import { stageDefinedWorkflow } from '../services/child-workflows.js';
import { ErrorCode } from '../errors/codes.js';
import { SymphonyError } from '../errors/symphony-error.js';
import { goesAsWhole, untimedPlanOptions, type EnqueueWorkflowOptions } from '../services/enqueue.js';
import { planOptions } from '../services/plan-options.js';
import { expectFallback } from '../services/fallback.js';
import { checkTaskOptions, expectTaskOptions } from '../services/task-options.js';
import { expectFields, expectId, expectInteger, expectKnownKeys } from '../services/validate.js';
import { cronOf, planFirings } from './occurrences.js';
import type {
  CatchUp,
  Overlap,
  Schedule,
  ScheduleFiring,
  ScheduleStore,
  ScheduleTemplate,
} from './schedule.js';
import { firingWorkflowId, TEMPLATE_RUN_FIELDS, templateRunOptions } from './schedule.js';

/** What `Scheduler.create` takes. */
export interface CreateScheduleInput {
  /** @default a new id */
  id?: string;
  /** A cron expression: 5 fields (minute first), or 6 with seconds first. */
  cron: string;
  /** The IANA time zone the expression is read in. @default UTC */
  timezone?: string;
  template: ScheduleTemplate;
  /** Which missed occurrences start a workflow after downtime. @default 'latest' */
  catchUp?: CatchUp;
  /** Occurrences one firing starts at most. @default 10 */
  maxCatchUp?: number;
  /** How late an occurrence may be and still count as on time (ms). @default 60000 */
  graceMs?: number;
  /** Whether an occurrence starts while the previous workflow has not ended. @default 'allow' */
  overlap?: Overlap;
  /** @default false */
  paused?: boolean;
}

/** The fields `Scheduler.create` takes; any other is refused. */
const CREATE_FIELDS: ReadonlyArray<keyof CreateScheduleInput> = [
  'id',
  'cron',
  'timezone',
  'template',
  'catchUp',
  'maxCatchUp',
  'graceMs',
  'overlap',
  'paused',
];

/** How the scheduler behaves. */
export interface SchedulerOptions {
  /**
   * The crash window: a firing whose workflow is still not stored this long after it was recorded
   * (the engine that recorded it stopped first) is started by the next engine that ticks (ms).
   * `EngineOptions.scheduleRecoverAfterMs` gives it. @default 60000
   */
  recoverAfterMs?: number | undefined;
}

/** What the scheduler needs of the engine. */
export interface SchedulerHost {
  runtime(): Promise<Runtime>;
  /** Hands the made workflow to workers (`EnhancedExecutor.enqueueWorkflow`). */
  enqueue(workflowId: string, options: EnqueueWorkflowOptions): Promise<unknown>;
}

const CATCH_UPS: readonly CatchUp[] = ['none', 'latest', 'all'];
const OVERLAPS: readonly Overlap[] = ['skip', 'allow'];

function oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value as T))
    throw new InvalidArgumentError(
      `Expected \`${name}\` to be one of ${allowed.map((v) => `'${v}'`).join(', ')}, got ${JSON.stringify(value)}`,
    );
  return value as T;
}

const TEMPLATE_FIELDS = new Set<string>([
  'workflow',
  'agentKey',
  'maxConcurrent',
  'fallback',
  'taskOptions',
  ...TEMPLATE_RUN_FIELDS,
]);
/** When a workflow starts: what a schedule decides, not its template. */
const START_FIELDS = new Set(['delayMs', 'runAt', 'deadline']);

/** Refuses `delayMs`, `runAt` and `deadline` in `fields` (`name`): a schedule decides when. */
function refuseStartTimes(name: string, fields: Record<string, unknown>): void {
  const field = Object.keys(fields).find((given) => START_FIELDS.has(given));
  if (field !== undefined)
    throw new InvalidArgumentError(
      `Expected no \`${name}.${field}\`: a schedule decides when its workflows start (each at its occurrence)`,
    );
}

/**
 * A template, checked: its definition makes a workflow, every task has an agent key, and its
 * policies (the run's and each task's) pass the checks `enqueueWorkflow` makes of them at every
 * firing (a refusal starts with "template: ").
 */
function checkTemplate(runtime: Runtime, value: unknown): ScheduleTemplate {
  const fields = expectFields('template', value);
  refuseStartTimes('template', fields);
  const unknown = Object.keys(fields).find((field) => !TEMPLATE_FIELDS.has(field));
  if (unknown !== undefined)
    throw new InvalidArgumentError(
      `Expected \`template\` to set only ${[...TEMPLATE_FIELDS].join(', ')}, got \`${unknown}\``,
    );
  const definition = definitionOf(fields.workflow, 'template.workflow');
  const { agentKey } = fields;
  if (typeof agentKey === 'string') expectId('template.agentKey', agentKey);
  else {
    const keys = expectFields('template.agentKey', agentKey);
    for (const task of definition.tasks) expectId(`template.agentKey.${task.key}`, keys[task.key]);
  }
  const fallback = asTemplateError(() => expectFallback(fields.fallback));
  const whole = goesAsWhole(definition.tasks, fallback);
  if (fields.maxConcurrent !== undefined) {
    expectInteger('template.maxConcurrent', fields.maxConcurrent, 1, 1);
    if (!whole)
      throw new InvalidArgumentError(
        'Expected no `template.maxConcurrent`: it limits a workflow with graph parts or a fallback',
      );
  }
  const keys = new Set(definition.tasks.map((task) => task.key));
  const taskOptions = expectTaskOptions(fields.taskOptions);
  for (const [key, own] of Object.entries(taskOptions ?? {})) {
    if (!keys.has(key))
      throw new InvalidArgumentError(
        `Expected \`template.taskOptions\` to name tasks of the template by key, got ${JSON.stringify(key)}`,
      );
    refuseStartTimes(`template.taskOptions.${key}`, own as Record<string, unknown>);
  }
  const run = templateRunOptions(fields);
  const check = whole ? untimedPlanOptions : planOptions;
  asTemplateError(() => {
    check(runtime, run);
    checkTaskOptions(run, taskOptions, (opts) => check(runtime, opts));
  });
  return structuredClone(fields) as unknown as ScheduleTemplate;
}

/** Runs a check of `enqueueWorkflow`'s; its refusal names the template. */
function asTemplateError<R>(check: () => R): R {
  try {
    return check();
  } catch (error) {
    if (!SymphonyError.isInstance(error) || error.code !== ErrorCode.INVALID_ARGUMENT) throw error;
    throw new InvalidArgumentError(`template: ${error.message}`, { cause: error });
  }
}

/**
 * Cron schedules that start workflows from a template (docs/policies.md, "Cron schedules"): kept in
 * the store; fired by `tick()`, which engines running a worker call every poll. Each occurrence
 * starts one workflow (id `<schedule id>-at-<occurrence ms>`) cluster-wide, handed to workers.
 * @example
 * const scheduler = registry.getScheduler();
 * await scheduler.create({ id: 'nightly', cron: '0 3 * * *', template: { workflow, agentKey: 'writer' } });
 */
export class Scheduler {
  private looping: Promise<void> | null = null;
  private stopping = false;
  private readonly wakers = new Set<() => void>();
  private readonly recoverAfterMs: number;
  /** When this scheduler last looked for firings without a workflow (engine clock); null: never. */
  private lastRecovery: number | null = null;

  constructor(
    private readonly host: SchedulerHost,
    options: SchedulerOptions = {},
  ) {
    this.recoverAfterMs = expectInteger('recoverAfterMs', options.recoverAfterMs, 60_000, 0);
  }

  private async store(): Promise<{ runtime: Runtime; schedules: ScheduleStore }> {
    const runtime = await this.host.runtime();
    const schedules = runtime.store.schedules;
    if (!schedules)
      throw new InvalidStateError(
        `Schedules need a store that keeps them (memory, SQLite or PostgreSQL); the ${runtime.store.kind} store given has none`,
      );
    return { runtime, schedules };
  }

  /** Stores a new schedule; its first occurrence is the first after now. */
  async create(input: CreateScheduleInput): Promise<Schedule> {
    const fields = expectFields('input', input);
    expectKnownKeys('', fields, CREATE_FIELDS);
    const { runtime, schedules } = await this.store();
    const id = fields.id === undefined ? runtime.options.idGenerator() : expectId('id', fields.id);
    if (typeof fields.cron !== 'string')
      throw new InvalidArgumentError(
        `Expected \`cron\` to be a cron expression, got ${JSON.stringify(fields.cron)}`,
      );
    if (fields.timezone !== undefined && typeof fields.timezone !== 'string')
      throw new InvalidArgumentError('Expected `timezone` to be an IANA time zone name');
    const timezone = (fields.timezone as string | undefined) ?? null;
    const next = cronOf(fields.cron, timezone);
    const now = runtime.options.clock.now();
    const schedule: Schedule = {
      id,
      cron: fields.cron,
      timezone,
      template: checkTemplate(runtime, fields.template),
      catchUp: oneOf('catchUp', fields.catchUp, CATCH_UPS, 'latest'),
      maxCatchUp: expectInteger('maxCatchUp', fields.maxCatchUp, 10, 1),
      graceMs: expectInteger('graceMs', fields.graceMs, 60_000, 0),
      overlap: oneOf('overlap', fields.overlap, OVERLAPS, 'allow'),
      paused: fields.paused === true,
      nextRunAt: next(now),
      lastWorkflowId: null,
      createdAt: now,
      updatedAt: now,
    };
    if (await schedules.get(id)) throw new DuplicateIdError('schedule', id);
    await schedules.save(schedule);
    return schedule;
  }

  async list(): Promise<Schedule[]> {
    return (await this.store()).schedules.list();
  }

  async get(id: string): Promise<Schedule> {
    const sid = expectId('scheduleId', id);
    const schedule = await (await this.store()).schedules.get(sid);
    if (!schedule) throw new ScheduleNotFoundError(sid);
    return schedule;
  }

  /** Stops firing it; nothing it started is touched. */
  async pause(id: string): Promise<Schedule> {
    return this.update(id, (schedule) => ({ ...schedule, paused: true }));
  }

  /** Fires it again from the next occurrence after now: those that fell while paused are not caught up. */
  async resume(id: string): Promise<Schedule> {
    return this.update(id, (schedule, now) => ({
      ...schedule,
      paused: false,
      nextRunAt: cronOf(schedule.cron, schedule.timezone)(now),
    }));
  }

  /** Deletes it and its firing records; workflows it started stay. */
  async delete(id: string): Promise<void> {
    const sid = expectId('scheduleId', id);
    if (!(await (await this.store()).schedules.delete(sid))) throw new ScheduleNotFoundError(sid);
  }

  /** Starts one workflow from its template now, outside its cron (paused or not); returns the firing. */
  async trigger(id: string): Promise<ScheduleFiring> {
    const schedule = await this.get(id);
    const { runtime, schedules } = await this.store();
    const now = runtime.options.clock.now();
    const firing: ScheduleFiring = {
      scheduleId: schedule.id,
      occurrenceAt: now,
      workflowId: firingWorkflowId(schedule.id, now),
      firedBy: runtime.options.engineId,
      firedAt: now,
    };
    if (!(await schedules.recordFiring(firing)))
      throw new InvalidStateError(`Schedule ${schedule.id} fired at ${now} already`, {
        scheduleId: schedule.id,
      });
    await this.start(runtime, schedule, firing);
    return firing;
  }

  /** The occurrences the schedule fired, oldest first. */
  async firings(id: string): Promise<ScheduleFiring[]> {
    const schedule = await this.get(id);
    return (await this.store()).schedules.firings(schedule.id);
  }

  /**
   * Fires what is due now by the engine's clock (up to `limit` schedules): claims them, records
   * their firings and starts a workflow for each. Then, at most once per `recoverAfterMs`, starts
   * the firings recorded at least `recoverAfterMs` ago whose workflow was never stored (an engine
   * stopped between the two; the workflow's id is the firing's, so it is made once). Returns the
   * firings this call recorded or started again.
   */
  async tick(limit = 100): Promise<ScheduleFiring[]> {
    const { runtime, schedules } = await this.store();
    const now = runtime.options.clock.now();
    const claimed = new Map<string, Schedule>();
    const fired = await schedules.claimDue({
      now,
      engineId: runtime.options.engineId,
      limit,
      plan: (due) => {
        claimed.set(due.schedule.id, due.schedule);
        return planFirings(due, now, cronOf(due.schedule.cron, due.schedule.timezone));
      },
    });
    for (const firing of fired) await this.start(runtime, claimed.get(firing.scheduleId)!, firing);
    return [...fired, ...(await this.recover(runtime, schedules, now, limit))];
  }

  /** Starts the firings left without a workflow (`ScheduleStore.claimUnstarted`). */
  private async recover(
    runtime: Runtime,
    schedules: ScheduleStore,
    now: number,
    limit: number,
  ): Promise<ScheduleFiring[]> {
    if (this.lastRecovery !== null && now - this.lastRecovery < this.recoverAfterMs) return [];
    this.lastRecovery = now;
    const unstarted = await schedules.claimUnstarted({
      firedBefore: now - this.recoverAfterMs,
      now,
      engineId: runtime.options.engineId,
      limit,
    });
    const started: ScheduleFiring[] = [];
    for (const firing of unstarted) {
      const schedule = await schedules.get(firing.scheduleId);
      if (!schedule) continue;
      await this.start(runtime, schedule, firing);
      started.push(firing);
    }
    return started;
  }

  /** Calls `tick()` every `pollMs` on the engine's clock until `stop()` (engines running a worker). */
  run(pollMs: number, clock: EngineClock, onError: (error: unknown) => void): void {
    if (this.looping) return;
    this.looping = (async () => {
      while (!this.stopping) {
        await this.tick().catch(onError);
        if (this.stopping) break;
        await nap(clock, pollMs, this.wakers);
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const wake of [...this.wakers]) wake();
    await this.looping;
  }

  /** Rewrites one schedule (a firing meanwhile cannot fire twice: its record is unique). */
  private async update(id: string, change: (schedule: Schedule, now: number) => Schedule): Promise<Schedule> {
    const schedule = await this.get(id);
    const { runtime, schedules } = await this.store();
    const now = runtime.options.clock.now();
    const changed = { ...change(schedule, now), updatedAt: now };
    await schedules.save(changed);
    return changed;
  }

  /** Makes the firing's workflow (once: fixed ids) and hands it to workers. */
  private async start(runtime: Runtime, schedule: Schedule, firing: ScheduleFiring): Promise<void> {
    const { template } = schedule;
    const made = await stageDefinedWorkflow(
      runtime,
      firing.workflowId,
      definitionOf(template.workflow, 'template.workflow'),
      { metadata: { scheduleId: schedule.id, occurrenceAt: firing.occurrenceAt }, inputData: {} },
    );
    await runtime.committer.settle();
    if (!made) return;
    const keys = template.agentKey;
    const prefix = `${firing.workflowId}-`;
    await this.host.enqueue(firing.workflowId, {
      agentKey:
        typeof keys === 'string'
          ? keys
          : (task) => keys[task.graph?.key ?? task.id.slice(prefix.length)] ?? Object.values(keys)[0]!,
      ...templateRunOptions(template),
      ...(template.maxConcurrent === undefined ? {} : { maxConcurrent: template.maxConcurrent }),
      ...(template.fallback === undefined ? {} : { fallback: template.fallback }),
      // By key in the template; by id here, as the firing's tasks are named.
      ...(template.taskOptions === undefined
        ? {}
        : {
            taskOptions: Object.fromEntries(
              Object.entries(template.taskOptions).map(([key, own]) => [`${prefix}${key}`, own]),
            ),
          }),
    });
  }
}
