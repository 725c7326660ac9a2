import { childWorkflowTree } from '../graph/child-tree.js';
import type { Agent } from '../domain/agent.js';
import type { ExecutionResult } from '../domain/execution-result.js';
import type { Task } from '../domain/task.js';
import { newExecution } from './execution.js';
import type { TouchedTasks } from './live-executions.js';
import { resolveRetryPolicy } from './retry-policy.js';
import { resolvedAgent } from './expect-agent.js';
import { planRank } from './queue-order.js';
import type { Runtime } from './runtime.js';

/** What recovery needs of the engine. */
export type RecoveryEngine = Pick<
  Runtime,
  'options' | 'store' | 'committer' | 'workflows' | 'control' | 'executionOf' | 'decideOnStored' | 'adopt'
>;

/** Finds the agent that runs a recovered task; undefined leaves the task where it is. */
export type AgentResolver = (task: Readonly<Task>) => Agent | undefined | Promise<Agent | undefined>;

export interface RecoveryReport {
  /** Executions taken over, by task id. */
  recovered: string[];
  /** Unfinished tasks left alone: no agent could be resolved for them. */
  unresolved: string[];
  /** Tasks whose running attempt is leased by another engine that may still be alive. */
  leasedElsewhere: string[];
  /** Settles when every recovered execution has finished (in `recovered` order). */
  results: Promise<ExecutionResult[]>;
}

const RESUMABLE = ['RUNNING', 'PENDING', 'PAUSED'] as const;

/**
 * Rows read per page of unfinished tasks: the first page is small, so the first task starts soon
 * after the engine does; each next page doubles, up to the last size, so that a store that cannot
 * seek to a page (it reads every row of the status to find one) is asked a few times, not hundreds.
 */
const FIRST_PAGE = 500;
const LARGEST_PAGE = 16_000;

/**
 * The unfinished tasks of one status, in id order, a page at a time (keyset pagination): each page
 * is read after the caller has dealt with the previous one.
 */
async function* unfinishedTasks(
  runtime: RecoveryEngine,
  status: Task['status'],
  workflowId: string | undefined,
): AsyncGenerator<Task[]> {
  const where = workflowId === undefined ? { status } : { status, workflowId };
  let after: string | undefined;
  for (let limit = FIRST_PAGE; ; limit = Math.min(limit * 2, LARGEST_PAGE)) {
    const page = await runtime.store.tasks.find({ where, orderBy: 'id', after, limit });
    if (page.length === 0) return;
    yield page;
    if (page.length < limit) return;
    const last = page[page.length - 1]!.id;
    if (last === after) throw new Error('The task repository ignored `after`: recovery cannot page');
    after = last;
  }
}

/**
 * Resumes the executions the store holds (of one workflow and its child workflows, or all): every unfinished task with an
 * execution plan that no live engine holds. A task that was RUNNING counts as an interrupted
 * attempt; a task waiting for a retry waits until its recorded due time. A task is held elsewhere
 * while the engine named in its lease still beats on the store (an engine that never beat holds
 * only its running attempts, until their lease expires).
 */
export async function recoverExecutions(
  runtime: RecoveryEngine,
  resolveAgent: AgentResolver,
  workflowId?: string,
  /**
   * An engine whose tasks (of this workflow) are taken over even if it beats: the coordinator a
   * worker took the workflow from (see `SubmittedWorkflow.takenFrom`).
   */
  takeFrom: string | null = null,
): Promise<RecoveryReport> {
  const now = runtime.options.clock.now();
  const report: Omit<RecoveryReport, 'results'> = { recovered: [], unresolved: [], leasedElsewhere: [] };
  const promises: Promise<ExecutionResult>[] = [];
  const seen = new Set<string>();
  // Rows are read once this engine's own changes have committed, and a task whose execution
  // started or ended here since is left alone: its row may be stale (an attempt that completed
  // after the read), and taking it over would run it again over its completion.
  // A workflow's child workflows (at any depth) are recovered with it.
  const scopes =
    workflowId === undefined
      ? [undefined]
      : [...new Set([workflowId, ...(await childWorkflowTree(runtime.store, workflowId)).keys()])];
  await runtime.decideOnStored(async (touched) => {
    for (const scope of scopes) {
      await recoverPages(runtime, resolveAgent, scope, touched, report, promises, seen, now, takeFrom);
    }
  });
  // What recovery changed (interrupted attempts recorded, retries re-armed) is committed before
  // the report is returned.
  await runtime.committer.settle();
  const results = Promise.all(promises);
  // Callers that never await `results` must not see an unhandled rejection when the engine stops.
  results.catch(() => {});
  return { ...report, results };
}

/**
 * Takes over one task this engine has claimed in the store: builds its execution from the stored
 * plan and adopts it (an interrupted attempt goes through its retry policy, a waiting retry waits
 * for its due time). Null when the task's execution started or ended here since its row was read
 * (`touched`, or live): the row is stale and the task is left alone. Used by recovery and workers.
 */
export async function adoptStored(
  runtime: RecoveryEngine,
  task: Task,
  agent: Agent,
  touched: TouchedTasks,
  now: number,
): Promise<{ done: Promise<ExecutionResult> } | null> {
  const plan = task.execution!;
  if (task.workflowId !== null) await runtime.workflows.get(task.workflowId);
  // Checked after the last await before adopt(): nothing can start or end it in between.
  if (touched.has(task.id) || runtime.executionOf(task.id)) return null;
  const exec = newExecution({
    id: runtime.options.idGenerator(),
    task,
    agent,
    workflowId: task.workflowId,
    policy: resolveRetryPolicy(plan, runtime.options.retry),
    attemptLimit: plan.attemptLimit,
    timeoutMs: plan.timeoutMs,
    priority: plan.priority,
    rank: planRank(plan),
    concurrencyKey: plan.concurrencyKey ?? null,
    keyConcurrency: plan.keyConcurrency ?? 0,
    keyRateLimits: plan.keyRateLimits ?? [],
    metadata: plan.metadata,
    deadline: plan.deadline ?? null,
    closeBy: plan.closeBy ?? null,
    heartbeatTimeoutMs: plan.heartbeatTimeoutMs ?? 0,
    startedAt: now,
  });
  const done = new Promise<ExecutionResult>((resolve, reject) => {
    exec.resolve = resolve;
    exec.reject = reject;
  });
  runtime.adopt(exec);
  return { done };
}

async function recoverPages(
  runtime: RecoveryEngine,
  resolveAgent: AgentResolver,
  workflowId: string | undefined,
  touched: TouchedTasks,
  report: Omit<RecoveryReport, 'results'>,
  promises: Promise<ExecutionResult>[],
  seen: Set<string>,
  now: number,
  takeFrom: string | null,
): Promise<void> {
  const leaseHolders = await runtime.control.leaseHolders();
  const leasedElsewhere = (owner: string | null, expiresAt: number | null) =>
    (takeFrom === null || owner !== takeFrom) && leaseHolders(owner, expiresAt);
  for (const status of RESUMABLE) {
    for await (const page of unfinishedTasks(runtime, status, workflowId)) {
      const candidates: Array<{ task: Task; agent: Agent }> = [];
      for (const task of page) {
        // A task recovered under an earlier status may have moved on since: the row read here is stale.
        if (!task.execution || seen.has(task.id) || runtime.executionOf(task.id)) continue;
        seen.add(task.id);
        if (leasedElsewhere(task.leaseOwner, task.leaseExpiresAt)) {
          report.leasedElsewhere.push(task.id);
          continue;
        }
        const agent = resolvedAgent(runtime.options.logger, task, await resolveAgent(task));
        if (!agent) report.unresolved.push(task.id);
        else candidates.push({ task, agent });
      }
      // Claimed in the store before they are adopted: of two engines recovering at once, each
      // task goes to one (the other finds it held and leaves it).
      const me = runtime.options.engineId;
      const from = [...new Set(candidates.flatMap(({ task }) => (task.leaseOwner ? [task.leaseOwner] : [])))];
      const claimed = new Set(
        candidates.length === 0
          ? []
          : await runtime.store.claimTasks(
              candidates.map(({ task }) => task.id),
              me,
              from.filter((owner) => owner !== me),
            ),
      );
      for (const { task, agent } of candidates) {
        if (!claimed.has(task.id)) {
          report.leasedElsewhere.push(task.id);
          continue;
        }
        const adopted = await adoptStored(runtime, task, agent, touched, now);
        if (adopted === null) continue;
        promises.push(adopted.done);
        report.recovered.push(task.id);
      }
      // This page's starts commit (and their agents run) before the next page is read.
      await runtime.committer.settle();
    }
  }
}
