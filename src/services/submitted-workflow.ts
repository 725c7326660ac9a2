import type { WorkflowStatus } from '../../machines/status.js';
import type { AgentResolver } from '../engine/recovery.js';
import { InvalidStateError } from '../errors/errors.js';
import type { WorkflowPlan } from '../repositories/workflow-runs.js';
import type { EnhancedExecutor } from './enhanced-executor.js';

/**
 * Runs a submitted workflow's graph here, as its coordinator (see `Worker`): `executeWorkflow` with
 * the plan it was submitted with; a task no agent can be resolved for fails with INVALID_STATE.
 */
export async function runSubmittedWorkflow(
  executor: EnhancedExecutor,
  workflowId: string,
  plan: WorkflowPlan,
  resolveAgent: AgentResolver,
): Promise<WorkflowStatus> {
  const result = await executor.executeWorkflow(workflowId, {
    retry: plan.retry,
    timeoutMs: plan.timeoutMs,
    metadata: plan.metadata,
    ...(plan.priority === undefined ? {} : { priority: plan.priority }),
    ...(plan.concurrencyKey === undefined ? {} : { concurrencyKey: plan.concurrencyKey }),
    ...(plan.keyConcurrency === undefined ? {} : { keyConcurrency: plan.keyConcurrency }),
    ...(plan.keyRateLimits === undefined ? {} : { keyRateLimits: plan.keyRateLimits }),
    ...(plan.maxConcurrent === null ? {} : { maxConcurrent: plan.maxConcurrent }),
    ...(plan.fallback === undefined ? {} : { fallback: plan.fallback }),
    ...(plan.runAt === undefined ? {} : { runAt: plan.runAt }),
    ...(plan.taskOptions === undefined ? {} : { taskOptions: plan.taskOptions }),
    resolveAgent: async (task) => {
      const agent = await resolveAgent(task);
      if (!agent) {
        throw new InvalidStateError(
          `No agent for task ${task.id} of workflow ${workflowId} (agent key ${JSON.stringify(task.execution?.agentKey ?? null)}): give this worker the agent types of every task it may be handed`,
          { taskId: task.id, workflowId },
        );
      }
      return agent;
    },
  });
  return result.status;
}
