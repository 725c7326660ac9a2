import type { Agent } from '../domain/agent.js';
import type { ExecutionResult } from '../domain/execution-result.js';
import type { Task } from '../domain/task.js';
import { newExecution } from './execution.js';
import { resolveRetryPolicy } from './retry-policy.js';
import type { Runtime } from './runtime.js';

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
 * Resumes the executions the store holds: every unfinished task with an execution plan. A task
 * that was RUNNING counts as an interrupted attempt (unless another engine's lease on it is still
 * valid); a task waiting for a retry waits until its recorded due time.
 */
export async function recoverExecutions(
  runtime: Runtime,
  resolveAgent: AgentResolver,
): Promise<RecoveryReport> {
  const now = runtime.options.clock.now();
  const report: Omit<RecoveryReport, 'results'> = { recovered: [], unresolved: [], leasedElsewhere: [] };
  const promises: Promise<ExecutionResult>[] = [];
  const seen = new Set<string>();
  for (const status of RESUMABLE) {
    for (const task of await runtime.store.tasks.find({ where: { status } })) {
      const plan = task.execution;
      // A task recovered under an earlier status may have moved on since: the row read here is stale.
      if (!plan || seen.has(task.id) || runtime.executionOf(task.id)) continue;
      seen.add(task.id);
      if (
        status === 'RUNNING' &&
        task.leaseOwner !== runtime.options.engineId &&
        (task.leaseExpiresAt ?? 0) > now
      ) {
        report.leasedElsewhere.push(task.id);
        continue;
      }
      const agent = await resolveAgent(task);
      if (!agent) {
        report.unresolved.push(task.id);
        continue;
      }
      if (task.workflowId !== null) await runtime.workflows.get(task.workflowId);
      const exec = newExecution({
        id: runtime.options.idGenerator(),
        task,
        agent,
        workflowId: task.workflowId,
        policy: resolveRetryPolicy(plan, runtime.options.retry),
        attemptLimit: plan.attemptLimit,
        timeoutMs: plan.timeoutMs,
        priority: plan.priority,
        metadata: plan.metadata,
        startedAt: now,
      });
      promises.push(
        new Promise<ExecutionResult>((resolve, reject) => {
          exec.resolve = resolve;
          exec.reject = reject;
        }),
      );
      runtime.adopt(exec);
      report.recovered.push(task.id);
    }
  }
  // What recovery changed (interrupted attempts recorded, retries re-armed) is committed before
  // the report is returned.
  await runtime.committer.settle();
  const results = Promise.all(promises);
  // Callers that never await `results` must not see an unhandled rejection when the engine stops.
  results.catch(() => {});
  return { ...report, results };
}
