import type { Workflow } from '../domain/workflow.js';
import { ErrorCode } from '../errors/codes.js';
import { SymphonyError } from '../errors/symphony-error.js';
import {
  BUDGET_METADATA_KEY,
  budgetOf,
  isSpent,
  parseBudget,
  spendOf,
  strictestQuota,
  type Budget,
  type PriceTable,
  type Quota,
  type Spend,
} from '../engine/budgets.js';
import type { AgentFactory } from './agent-factory.js';
import type { TaskManager } from './task-manager.js';
import type { WorkflowTracker } from './workflow-tracker.js';

/** A workflow's spend against its budget, as the store holds its tasks' usage. */
export interface WorkflowSpend {
  /** Its budget; null when it has none. */
  budget: Budget | null;
  spend: Spend;
  /** Whether a limit of the budget is reached (`spent >= limit`): its next task would not start. */
  exceeded: boolean;
}

/** An agent config's (or agent's) spend against its quota, as the store holds its tasks' usage. */
export interface AgentSpend {
  /** Its quota in force (see {@link getAgentSpend}); null when it has none. */
  quota: Quota | null;
  spend: Spend;
  /** Whether a limit of the quota is reached (`spent >= limit`): its next task would not start. */
  exceeded: boolean;
}

type Registry = { getWorkflowTracker(): WorkflowTracker; getTaskManager(): TaskManager };

type AgentRegistry = {
  getTaskManager(): TaskManager;
  getAgentFactory(): AgentFactory;
  options?: { quotas?: Record<string, Quota> };
};

/**
 * What a workflow's tasks used (every attempt's usage, priced by `prices`: give the engine's
 * `prices`) against its budget.
 * @example
 * const { spend, budget } = await getWorkflowSpend(registry, workflow.id, prices);
 */
export async function getWorkflowSpend(
  registry: Pick<Registry, 'getWorkflowTracker'>,
  workflowId: string,
  prices: PriceTable = {},
): Promise<WorkflowSpend> {
  const tracker = registry.getWorkflowTracker();
  const workflow = await tracker.getWorkflow(workflowId);
  const budget = budgetOf(workflow.metadata);
  const spend = spendOf(await tracker.getWorkflowTasks(workflowId), prices);
  return { budget, spend, exceeded: budget !== null && isSpent(spend, budget) };
}

/**
 * What the tasks of an agent config (or of an agent defined in code, by its id) used, in every
 * workflow, against its quota: the config's stored `quota` and the registry's option `quotas` for
 * that key, limit by limit the smaller, as the engine applies them. Prices as for
 * {@link getWorkflowSpend}.
 * @example
 * const { spend, quota, exceeded } = await getAgentSpend(registry, config.id, prices);
 */
export async function getAgentSpend(
  registry: AgentRegistry,
  agentKey: string,
  prices: PriceTable = {},
): Promise<AgentSpend> {
  let stored: Quota | undefined;
  try {
    stored = (await registry.getAgentFactory().getAgentConfig(agentKey)).quota;
  } catch (error) {
    // An agent defined in code has no stored config: only the option's quota applies.
    if (!SymphonyError.isInstance(error) || error.code !== ErrorCode.AGENT_CONFIG_NOT_FOUND) throw error;
  }
  const quota = strictestQuota(registry.options?.quotas?.[agentKey], stored) ?? null;
  const tasks = await registry.getTaskManager().listTasks({ where: { agentId: agentKey } });
  const spend = spendOf(tasks, prices);
  return { quota, spend, exceeded: quota !== null && isSpent(spend, quota) };
}

/**
 * Sets (or raises) a workflow's budget, stored in its `metadata.budget`, and lets it go on: its
 * tasks that ended BUDGET_EXCEEDED run again (`retryTask`, their history kept) and a paused
 * workflow is resumed. Run the workflow again (`executeWorkflow`) where no engine holds it.
 */
export async function setWorkflowBudget(
  registry: Registry,
  workflowId: string,
  budget: Budget,
): Promise<Workflow> {
  const checked = parseBudget(budget);
  const tracker = registry.getWorkflowTracker();
  await tracker.updateWorkflowMetadata(workflowId, { [BUDGET_METADATA_KEY]: checked });
  for (const task of await tracker.getWorkflowTasks(workflowId)) {
    if (task.status === 'FAILED' && task.errors.at(-1)?.code === ErrorCode.BUDGET_EXCEEDED) {
      await registry.getTaskManager().retryTask(task.id);
    }
  }
  const workflow = await tracker.getWorkflow(workflowId);
  return workflow.paused ? tracker.resumeWorkflow(workflowId) : workflow;
}
