import { Cron } from 'croner';
import { InvalidArgumentError } from '../errors/errors.js';
import type { DueSchedule, FiringPlan, Schedule } from './schedule.js';

/**
 * When a schedule's occurrences fall (croner reads the expression) and which of them fire: the
 * catch-up and overlap rules, as one pure function every store's claim calls.
 */

/** Occurrences a claim enumerates at most before it stops looking (a long downtime of a busy cron). */
export const MAX_ENUMERATED = 100_000;

/** The next occurrence strictly after `after` (epoch ms), or null when the expression has none. */
export type NextOccurrence = (after: number) => number | null;

/** Reads a cron expression (and time zone); a bad one is an InvalidArgumentError. */
export function cronOf(expression: string, timezone: string | null): NextOccurrence {
  let cron: Cron;
  try {
    cron = new Cron(expression, { paused: true, ...(timezone === null ? {} : { timezone }) });
    cron.nextRun(new Date(0));
  } catch (error) {
    const what = timezone === null ? '' : ` in time zone ${JSON.stringify(timezone)}`;
    throw new InvalidArgumentError(
      `Expected \`cron\` to be a cron expression croner reads${what}, got ${JSON.stringify(expression)}: ${(error as Error).message}`,
      { cause: error, details: { field: 'cron' } },
    );
  }
  return (after) => cron.nextRun(new Date(after))?.getTime() ?? null;
}

/**
 * What a due schedule fires at `now`. The due occurrences are those from `nextRunAt` up to `now`;
 * those later than `now - graceMs` are on time, the others were missed (no engine fired them in
 * time: downtime). By `catchUp`:
 * - `none`: the on-time ones only;
 * - `latest`: the last due one, on time or not;
 * - `all`: every due one;
 * each time at most the last `maxCatchUp`. With `overlap: 'skip'`, at most the last one, and none
 * while the previous workflow runs. The next due time is the first occurrence after `now`.
 */
export function planFirings(due: DueSchedule, now: number, next: NextOccurrence): FiringPlan {
  const { schedule } = due;
  const occurrences: number[] = [];
  let at = schedule.nextRunAt;
  while (at !== null && at <= now) {
    occurrences.push(at);
    if (occurrences.length >= MAX_ENUMERATED) {
      at = next(now);
      break;
    }
    at = next(at);
  }
  return { occurrences: chosen(schedule, occurrences, now, due.previousRunning), nextRunAt: at };
}

function chosen(schedule: Schedule, due: number[], now: number, previousRunning: boolean): number[] {
  if (schedule.overlap === 'skip' && previousRunning) return [];
  let fired: number[];
  if (schedule.catchUp === 'none') fired = due.filter((at) => at > now - schedule.graceMs);
  else if (schedule.catchUp === 'latest') fired = due.slice(-1);
  else fired = due;
  const limit = schedule.overlap === 'skip' ? 1 : schedule.maxCatchUp;
  return fired.slice(-limit);
}
