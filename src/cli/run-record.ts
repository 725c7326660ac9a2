import type { PriceTable, RateLimit, RetryPolicy, RoutingStrategy, Workflow } from '../index.js';
import type { TimeLimitOptions } from './workflow-file/time-limits.js';
import type { TaskOptionsMap } from '../services/task-options.js';

/** Where the CLI keeps, in a workflow's metadata, how it ran the workflow (for `symphony retry`). */
export const RUN_RECORD_KEY = 'symphonyCli';

/**
 * The agent config each task of a child workflow's definition runs on, by its key; a task that
 * runs a child workflow of its own maps to its definition's (a sleep or a wait: absent).
 */
export interface ChildAgents {
  [key: string]: string | ChildAgents;
}

export interface RunRecord {
  source: 'run' | 'demo';
  /** The workflow file, absolute. */
  file?: string;
  /** The agents module of the workflow file (or `--agents`), absolute. */
  agentsModule?: string;
  /**
   * Every agents module the run loaded, absolute: the file's first, then its child workflow files'.
   * Absent in records written before it: `agentsModule` alone.
   */
  agentsModules?: string[];
  /** The agent configs the run routed among: the workflow file's, then its child workflow files'. */
  agentConfigIds: string[];
  /**
   * The workflow file's own agent configs, among which its top-level tasks are routed. Absent in
   * records written before it: `agentConfigIds`.
   */
  mainAgentConfigIds?: string[];
  strategy: RoutingStrategy;
  /**
   * True when `run --submit` left the workflow's tasks to workers: `retry` then leaves its retries
   * to them too (unless told `--no-submit`). Absent when the run ran them itself.
   */
  submitted?: boolean;
  concurrency?: number;
  retry?: Partial<RetryPolicy>;
  timeoutMs?: number;
  /** The file's fairness key and its limits (every task of the run); absent: none. */
  concurrencyKey?: string;
  keyConcurrency?: number;
  keyRateLimits?: RateLimit[];
  /**
   * The file's time limits (delayMs, runAt as epoch ms, scheduleToStartMs, scheduleToCloseMs,
   * heartbeatTimeoutMs): a retried task and a resumed graph's new nodes run under them too. Absent:
   * none (or a record written before them).
   */
  timeLimits?: TimeLimitOptions;
  /** The file's fallback policy; a task falls back among `mainAgentConfigIds`. Absent: none. */
  fallback?: { maxAgents: number };
  /** The file's price table: what `symphony show` prices the spend by; absent: none. */
  prices?: PriceTable;
  /**
   * The agents of the tasks of child workflows made from definitions, by the id of the workflow's
   * task that runs the child (a group loop's: its iterations' children). Absent in records written
   * before it, and when the file has no child workflow.
   */
  childAgents?: Record<string, ChildAgents>;
  /**
   * The policies tasks of the file set for themselves (ExecuteWorkflowOptions.taskOptions, runAt as
   * epoch ms), by task key, else by task id: retry and resume run those tasks under them. Absent:
   * none (or a record written before them).
   */
  taskPolicies?: TaskOptionsMap;
}

/** The run record of a workflow the CLI ran, or null. */
export function runRecordOf(workflow: Workflow): RunRecord | null {
  const record = workflow.metadata[RUN_RECORD_KEY] as RunRecord | undefined;
  if (typeof record !== 'object' || record === null || !Array.isArray(record.agentConfigIds)) return null;
  return record;
}

/** The agents modules a run loaded, the workflow file's first (an older record: its one module). */
export function agentsModulesOf(record: RunRecord | null): string[] {
  if (Array.isArray(record?.agentsModules)) return record.agentsModules;
  return record?.agentsModule === undefined ? [] : [record.agentsModule];
}

/** The agent configs a workflow's own tasks are routed among (an older record: all of its configs). */
export function mainConfigIdsOf(record: RunRecord): string[] {
  return Array.isArray(record.mainAgentConfigIds) ? record.mainAgentConfigIds : record.agentConfigIds;
}

/** Drops undefined fields, so the record stays plain JSON. */
export function toMetadata(record: RunRecord): Record<string, unknown> {
  return { [RUN_RECORD_KEY]: JSON.parse(JSON.stringify(record)) as unknown };
}
