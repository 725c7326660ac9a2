import type { CatchUp, Overlap, Schedule, ScheduleFiring, ScheduleTemplate } from './schedule.js';

/** The rows of `schedules` and `schedule_firings` as the SQL stores read and write them. */

export const SCHEDULE_COLUMNS = [
  'id',
  'cron',
  'timezone',
  'template',
  'catch_up',
  'max_catch_up',
  'grace_ms',
  'overlap',
  'paused',
  'next_run_at',
  'last_workflow_id',
  'created_at',
  'updated_at',
] as const;

export const FIRING_COLUMNS = [
  'schedule_id',
  'occurrence_at',
  'workflow_id',
  'fired_by',
  'fired_at',
] as const;

export interface ScheduleRow {
  id: string;
  cron: string;
  timezone: string | null;
  template: string | ScheduleTemplate;
  catch_up: string;
  max_catch_up: number | string;
  grace_ms: number | string;
  overlap: string;
  paused: boolean | number;
  next_run_at: number | string | null;
  last_workflow_id: string | null;
  created_at: number | string;
  updated_at: number | string;
}

export interface FiringRow {
  schedule_id: string;
  occurrence_at: number | string;
  workflow_id: string;
  fired_by: string;
  fired_at: number | string;
}

export function toSchedule(row: ScheduleRow): Schedule {
  return {
    id: row.id,
    cron: row.cron,
    timezone: row.timezone,
    template: (typeof row.template === 'string'
      ? JSON.parse(row.template)
      : row.template) as ScheduleTemplate,
    catchUp: row.catch_up as CatchUp,
    maxCatchUp: Number(row.max_catch_up),
    graceMs: Number(row.grace_ms),
    overlap: row.overlap as Overlap,
    paused: row.paused === true || row.paused === 1,
    nextRunAt: row.next_run_at === null ? null : Number(row.next_run_at),
    lastWorkflowId: row.last_workflow_id,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

/** A schedule's column values, in `SCHEDULE_COLUMNS` order (`paused` as the store stores booleans). */
export function scheduleValues(s: Schedule, bool: (value: boolean) => unknown): unknown[] {
  return [
    s.id,
    s.cron,
    s.timezone,
    JSON.stringify(s.template),
    s.catchUp,
    s.maxCatchUp,
    s.graceMs,
    s.overlap,
    bool(s.paused),
    s.nextRunAt,
    s.lastWorkflowId,
    s.createdAt,
    s.updatedAt,
  ];
}

export function toFiring(row: FiringRow): ScheduleFiring {
  return {
    scheduleId: row.schedule_id,
    occurrenceAt: Number(row.occurrence_at),
    workflowId: row.workflow_id,
    firedBy: row.fired_by,
    firedAt: Number(row.fired_at),
  };
}

export const firingValues = (f: ScheduleFiring): unknown[] => [
  f.scheduleId,
  f.occurrenceAt,
  f.workflowId,
  f.firedBy,
  f.firedAt,
];
