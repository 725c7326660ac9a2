import type { ExecuteOptions } from '../index.js';
import type { TaskOptionsMap } from '../services/task-options.js';
import type { ExecuteWorkflowOptions } from '../services/workflow-options.js';
import { mainConfigIdsOf, type RunRecord } from './run-record.js';
import { fairnessOptions } from './workflow-file/policies.js';

// What `retry` and `resume` run tasks under, read from a run record. Apart from run-record.ts, so
// that a command that only reads the record (`list`) does not load the workflow file's code.

/**
 * The execution options of a run's policies, as its record keeps them: the fairness key and its
 * limit, and the time limits. What `retry` and `resume` run tasks under, as `run` did.
 */
export function recordedPolicies(record: RunRecord | null): ExecuteOptions {
  return { ...fairnessOptions(record ?? {}), ...record?.timeLimits };
}

/** The tasks' own policies a run's record keeps (`ExecuteWorkflowOptions.taskOptions`); {} without any. */
export function recordedTaskOptions(record: RunRecord | null): { taskOptions?: TaskOptionsMap } {
  const map = record?.taskPolicies;
  if (typeof map !== 'object' || map === null || Object.keys(map).length === 0) return {};
  return { taskOptions: map };
}

/** A run's fallback policy over the file's own configs (`ExecuteWorkflowOptions.fallback`); {} without one. */
export function recordedFallback(record: RunRecord | null): Pick<ExecuteWorkflowOptions, 'fallback'> {
  if (record?.fallback === undefined) return {};
  return { fallback: { maxAgents: record.fallback.maxAgents, candidates: mainConfigIdsOf(record) } };
}
