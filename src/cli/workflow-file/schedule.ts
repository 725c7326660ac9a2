import { z } from 'zod';
import { SymphonyError } from '../../errors/symphony-error.js';
import { cronOf } from '../../schedules/occurrences.js';

/**
 * A workflow file's `schedule` (docs/policies.md, "Cron schedules"): what `symphony schedule add
 * <file>` registers. `symphony run <file>` ignores it and runs the workflow once.
 */
export const fileScheduleSchema = z
  .strictObject({
    cron: z
      .string()
      .min(1)
      .describe('A cron expression croner reads: 5 fields (minute first), or 6 with seconds first.'),
    timezone: z
      .string()
      .min(1)
      .optional()
      .describe('The IANA time zone the expression is read in, e.g. Europe/Paris. Default: UTC.'),
    catchUp: z
      .enum(['none', 'latest', 'all'])
      .optional()
      .describe(
        'Which occurrences missed while no engine fired them still start a workflow: none, the latest, or all (up to maxCatchUp). Default: latest.',
      ),
    maxCatchUp: z.int().min(1).optional().describe('Occurrences one firing starts at most. Default: 10.'),
    overlap: z
      .enum(['skip', 'allow'])
      .optional()
      .describe(
        "Whether an occurrence starts a workflow while the schedule's previous one has not ended. Default: allow.",
      ),
  })
  .describe(
    'A cron schedule: symphony schedule add <file> registers it, and workers start the workflow at each occurrence; symphony run <file> ignores it and runs the workflow once. Default: none.',
  );

export type FileSchedule = z.infer<typeof fileScheduleSchema>;

/** The problems of a file's schedule that its shape does not show: a cron or time zone croner refuses. */
export function scheduleProblems(schedule: FileSchedule | undefined): string[] {
  if (schedule === undefined) return [];
  try {
    cronOf(schedule.cron, schedule.timezone ?? null);
    return [];
  } catch (error) {
    if (!SymphonyError.isInstance(error)) throw error;
    return [`schedule.cron: ${error.message}`];
  }
}
