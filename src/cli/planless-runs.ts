import type { Agent, ExecutionResult, RecoveryReport, ServiceRegistry, Task } from '../index.js';
import { recordedPolicies } from './recorded-options.js';
import type { RunRecord } from './run-record.js';

/** The plan-less tasks a resume runs, and their results (in `taskIds` order). */
export interface PlanlessRuns {
  taskIds: string[];
  results: Promise<ExecutionResult[]>;
}

/**
 * A waiting task (PENDING or PAUSED) of the workflow that no execution plan names and no engine
 * holds, but that an agent config has run before: a task given a new run (`retryTask`) from a
 * process other than the one that ran the workflow, which nothing else would run.
 */
function isPlanlessRerun(task: Task, recovered: ReadonlySet<string>): boolean {
  return (
    (task.status === 'PENDING' || task.status === 'PAUSED') &&
    task.execution === null &&
    task.leaseOwner === null &&
    task.agentId !== null &&
    !recovered.has(task.id)
  );
}

/**
 * Runs, for `symphony resume` of a workflow run from a file, its waiting tasks without an execution
 * plan that an agent config ran before (see isPlanlessRerun): each on the agent config that ran it
 * last, under the run's recorded policies, as `symphony retry` runs a retried task. A task that
 * never ran has no agent to go back to and stays as it is.
 */
export async function runPlanless(
  registry: ServiceRegistry,
  workflowId: string,
  record: RunRecord | null,
  report: RecoveryReport,
  agentOf: (configId: string) => Promise<Agent>,
): Promise<PlanlessRuns> {
  const recovered = new Set([...report.recovered, ...report.leasedElsewhere]);
  const tasks = await registry.getWorkflowTracker().getWorkflowTasks(workflowId);
  const pairs: Array<[string, Agent]> = [];
  for (const task of tasks) {
    if (isPlanlessRerun(task, recovered)) pairs.push([task.id, await agentOf(task.agentId!)]);
  }
  if (pairs.length === 0) return { taskIds: [], results: Promise.resolve([]) };
  const results = registry.getEnhancedExecutor().batchExecute(pairs, {
    ...recordedPolicies(record),
    workflowId,
    ...(record?.concurrency === undefined ? {} : { maxConcurrent: record.concurrency }),
  });
  return { taskIds: pairs.map(([taskId]) => taskId), results };
}
