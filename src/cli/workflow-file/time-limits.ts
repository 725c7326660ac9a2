import type { ExecuteOptions } from '../../engine/execution.js';
import { epochMs } from './instant.js';
import type { WorkflowFile } from './schema.js';

type TimeLimitFields = Pick<
  WorkflowFile,
  'delayMs' | 'runAt' | 'scheduleToStartMs' | 'scheduleToCloseMs' | 'heartbeatTimeoutMs'
>;

/** The problems of a file's time limits that its schema cannot see: `runAt` with `delayMs`. */
export function timeLimitProblems(file: TimeLimitFields): string[] {
  if (file.runAt !== undefined && file.delayMs !== undefined)
    return ['runAt: a delayed start is runAt or delayMs, not both'];
  return [];
}

/** The execution options a file's time limits give. */
export type TimeLimitOptions = Pick<
  ExecuteOptions,
  'delayMs' | 'runAt' | 'scheduleToStartMs' | 'scheduleToCloseMs' | 'heartbeatTimeoutMs'
>;

/**
 * The execution options of a file's time limits (docs/policies.md "Delays, deadlines and
 * timeouts"): what `symphony run` passes for every task; {} when the file sets none.
 */
export function timeLimitOptions(file: TimeLimitFields): TimeLimitOptions {
  const { delayMs, runAt, scheduleToStartMs, scheduleToCloseMs, heartbeatTimeoutMs } = file;
  return {
    ...(delayMs === undefined ? {} : { delayMs }),
    ...(runAt === undefined ? {} : { runAt: epochMs(runAt) }),
    ...(scheduleToStartMs === undefined ? {} : { scheduleToStartMs }),
    ...(scheduleToCloseMs === undefined ? {} : { scheduleToCloseMs }),
    ...(heartbeatTimeoutMs === undefined ? {} : { heartbeatTimeoutMs }),
  };
}
