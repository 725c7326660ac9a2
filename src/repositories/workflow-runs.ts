import type { RateLimit } from '../domain/rate-limit.js';
import type { RetryPolicy } from '../engine/retry-policy.js';
import type { Workflow } from '../domain/workflow.js';
import type { StoredBeat } from './store.js';
import type { TaskOptionsMap } from '../services/task-options.js';

/**
 * Workflows handed to workers as a whole (`EnhancedExecutor.enqueueWorkflow` of a workflow with graph
 * parts): one worker at a time, its coordinator, runs the workflow's graph as `executeWorkflow`
 * would; another worker takes it over when the coordinator is gone. Kept by the store beside the
 * workflow (PostgreSQL and SQLite: the `workflow_runs` table).
 */

/** How a submitted workflow's nodes run: the options of `executeWorkflow` that can be stored. */
export interface WorkflowPlan {
  /** The agent config (or agent id) of every node not in `agentKeys`; null: none. */
  agentKey: string | null;
  /**
   * The agent config (or agent id) of each task, by id, as submitted; a task made later (a fan-out's
   * item, a loop's iteration) runs on its maker's.
   */
  agentKeys: Record<string, string>;
  /** Higher runs first among queued work; absent: each task's own priority. */
  priority?: number;
  /** Every task's fairness key and its limit (ExecuteOptions); absent: none. */
  concurrencyKey?: string;
  keyConcurrency?: number;
  keyRateLimits?: RateLimit[];
  retry: RetryPolicy;
  timeoutMs: number;
  metadata: Record<string, unknown>;
  /** Executions of the workflow running at once; null: no limit beyond the coordinator's own. */
  maxConcurrent: number | null;
  /** Fallback agents for tasks that fail for good (docs/policies.md); absent: none. */
  fallback?: { maxAgents: number };
  /**
   * A debounced workflow's start (docs/policies.md "Debounce and singleton"): its tasks' first
   * attempts start no earlier (epoch ms of the engines' clock); absent: at once.
   */
  runAt?: number;
  /** Options of single tasks over these, by task key or id (`ExecuteWorkflowOptions.taskOptions`); absent: none. */
  taskOptions?: TaskOptionsMap;
}

/** A workflow handed to workers, as the store keeps it. */
export interface SubmittedWorkflow {
  workflowId: string;
  plan: WorkflowPlan;
  /** The engine coordinating it now, if any. */
  coordinator: string | null;
  submittedAt: number;
  /** When its coordinator saw it end (COMPLETED, FAILED or CANCELLED); it is not claimed after. */
  endedAt: number | null;
  /**
   * In what `claimWorkflows` returns: the coordinator the claim took it from (gone: stopped, or its
   * beats expired), or null. Its new coordinator takes that engine's tasks of the workflow even if
   * its beats come back (a paused process resumed): they are the workflow's, which it lost.
   */
  takenFrom?: string | null;
}

/** What `Store.claimWorkflows` is asked. */
export interface ClaimWorkflowsOptions {
  /** The engine that takes them (written as their coordinator). */
  engineId: string;
  /** Workflows taken at most. */
  limit: number;
  /** Workflows this engine coordinates already (not returned again). */
  running: readonly string[];
}

/**
 * Whether a submitted workflow may be claimed by `engineId`. Claimable: not ended; its workflow
 * exists, is neither paused nor cancelled nor COMPLETED; and no live engine coordinates it: its
 * coordinator is null, `engineId` itself (a restart under the same id), or an engine whose last
 * beat is a stop or expired by the store's clock. An engine that never beat keeps what it
 * coordinates until it lets it go (as it keeps tasks it holds without a lease).
 */
export function isClaimableRun(
  run: SubmittedWorkflow,
  workflow: Workflow | undefined,
  engineId: string,
  beat: (engineId: string) => StoredBeat | undefined,
): boolean {
  if (run.endedAt !== null || !workflow) return false;
  if (workflow.paused || workflow.cancelled || workflow.status === 'COMPLETED') return false;
  if (run.coordinator === null || run.coordinator === engineId) return true;
  const last = beat(run.coordinator);
  return last !== undefined && !last.alive;
}

/** Claim order: oldest submission first, then by workflow id. */
export function bySubmission(a: SubmittedWorkflow, b: SubmittedWorkflow): number {
  if (a.submittedAt !== b.submittedAt) return a.submittedAt - b.submittedAt;
  return a.workflowId < b.workflowId ? -1 : a.workflowId > b.workflowId ? 1 : 0;
}

/** The submitted workflows of an in-process store (memory, replaced repositories). */
export class WorkflowRunLog {
  private readonly runs = new Map<string, SubmittedWorkflow>();

  /** Whether the workflow was handed to workers as a whole (its tasks are not claimed one by one). */
  has(workflowId: string): boolean {
    return this.runs.has(workflowId);
  }

  submit(workflowId: string, plan: WorkflowPlan, now: number): void {
    const known = this.runs.get(workflowId);
    this.runs.set(workflowId, {
      workflowId,
      plan: structuredClone(plan),
      coordinator: known?.coordinator ?? null,
      submittedAt: known?.submittedAt ?? now,
      endedAt: null,
    });
  }

  claim(
    options: ClaimWorkflowsOptions,
    workflow: (id: string) => Workflow | undefined,
    beats: readonly StoredBeat[],
  ): SubmittedWorkflow[] {
    const byEngine = new Map(beats.map((beat) => [beat.engineId, beat]));
    const running = new Set(options.running);
    const taken = [...this.runs.values()]
      .filter(
        (run) =>
          !running.has(run.workflowId) &&
          isClaimableRun(run, workflow(run.workflowId), options.engineId, (id) => byEngine.get(id)),
      )
      .sort(bySubmission)
      .slice(0, Math.max(0, options.limit));
    const from = taken.map((run) => run.coordinator);
    for (const run of taken) run.coordinator = options.engineId;
    return taken.map((run, i) => ({
      ...structuredClone(run),
      takenFrom: from[i] === options.engineId ? null : (from[i] ?? null),
    }));
  }

  /** The engine the run names its coordinator (null: none); undefined when it was not submitted. */
  coordinatorOf(workflowId: string): string | null | undefined {
    return this.runs.get(workflowId)?.coordinator;
  }

  release(workflowId: string, engineId: string, endedAt: number | null): void {
    const run = this.runs.get(workflowId);
    if (!run || run.coordinator !== engineId) return;
    run.coordinator = null;
    if (endedAt !== null) run.endedAt = endedAt;
  }

  list(): SubmittedWorkflow[] {
    return [...this.runs.values()].sort(bySubmission).map((run) => structuredClone(run));
  }
}

/** A row of `workflow_runs` as the SQL stores' statements return it. */
export interface WorkflowRunRow {
  workflow_id: string;
  plan: string;
  coordinator: string | null;
  submitted_at: number | string;
  ended_at: number | string | null;
  /** Claims only: the coordinator before the claim. */
  taken_from?: string | null;
}

export function toSubmittedWorkflow(row: WorkflowRunRow): SubmittedWorkflow {
  return {
    workflowId: row.workflow_id,
    plan: JSON.parse(row.plan) as WorkflowPlan,
    coordinator: row.coordinator,
    submittedAt: Number(row.submitted_at),
    endedAt: row.ended_at === null ? null : Number(row.ended_at),
    ...(row.taken_from === undefined ? {} : { takenFrom: row.taken_from }),
  };
}
