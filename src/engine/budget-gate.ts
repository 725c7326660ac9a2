import type { Agent } from '../domain/agent.js';
import type { Task } from '../domain/task.js';
import type { Workflow } from '../domain/workflow.js';
import type { Repository } from '../repositories/repository.js';
import {
  budgetExceeded,
  budgetOf,
  isSpent,
  spendOf,
  strictestQuota,
  type Budget,
  type PriceTable,
  type Quota,
} from './budgets.js';

/** What the budget check needs of the engine around it. */
export interface BudgetGateDeps {
  store: { tasks: Pick<Repository<Task>, 'find'>; workflows: Pick<Repository<Workflow>, 'get'> };
  prices: PriceTable;
  /** The engine option's quotas, by agent key (the agent config id, else the agent id). */
  quotas: Record<string, Quota>;
  /** The metadata of a workflow as this engine has it loaded (no store read); undefined when not loaded. */
  cachedMetadata(workflowId: string): Record<string, unknown> | undefined;
  /** Pauses a workflow through the engine's pause path. */
  pause(workflowId: string): Promise<unknown>;
}

/** The parts of an execution the check reads. */
export interface Gated {
  workflowId: string | null;
  agentKey: string;
  /** Its agent: one built from an agent config carries the config's stored `quota`. */
  agent: Pick<Agent, 'quota'>;
}

/**
 * Decides, just before an attempt's agent runs, whether the attempt may go on: not when its
 * workflow's budget or its agent config's quota is already spent, as the store holds the usage of
 * every task (so engines sharing a store enforce one budget). The quota is the config's own (which
 * an agent built from it carries: a worker that did not create the config reads it from the store
 * as it builds the agent) and the engine option `quotas`' entry for the agent key, limit by limit
 * the smaller. Free when neither applies: no store read, no promise.
 */
export class BudgetGate {
  private readonly hasQuotas: boolean;

  constructor(private readonly deps: BudgetGateDeps) {
    this.hasQuotas = Object.keys(deps.quotas).length > 0;
  }

  /**
   * Null at once when no budget or quota applies; otherwise a promise of the error the attempt
   * fails with (BUDGET_EXCEEDED, or the store's error), or null to let it run. A workflow whose budget says `pause` is
   * paused before the promise resolves.
   */
  check(exec: Gated): Promise<Error | null> | null {
    // The engine option's quota and the agent's own (its config's, as stored): both apply.
    const quota = strictestQuota(
      this.hasQuotas ? this.deps.quotas[exec.agentKey] : undefined,
      exec.agent.quota,
    );
    const workflowId = exec.workflowId;
    let budgeted = false;
    if (workflowId !== null) {
      const metadata = this.deps.cachedMetadata(workflowId);
      // Not loaded here: the store tells. Loaded without a budget: none is read from the store.
      budgeted = metadata === undefined || budgetOf(metadata) !== null;
    }
    if (!budgeted && quota === undefined) return null;
    // A failed read refuses the attempt with the store's error (retried by the policy like any).
    return this.decide(budgeted ? workflowId : null, exec.agentKey, quota).catch((error: unknown) =>
      error instanceof Error ? error : new Error(String(error)),
    );
  }

  private async decide(
    workflowId: string | null,
    agentKey: string,
    quota: Quota | undefined,
  ): Promise<Error | null> {
    if (workflowId !== null) {
      // The stored row: another process may have raised the budget since this one loaded it.
      const row = await this.deps.store.workflows.get(workflowId);
      const budget: Budget | null = row ? budgetOf(row.metadata) : null;
      if (budget !== null) {
        const spend = spendOf(await this.deps.store.tasks.find({ where: { workflowId } }), this.deps.prices);
        if (isSpent(spend, budget)) {
          if (budget.onExceeded === 'pause') await this.deps.pause(workflowId);
          return budgetExceeded('workflow', workflowId, spend, budget);
        }
      }
    }
    if (quota !== undefined) {
      const spend = spendOf(
        await this.deps.store.tasks.find({ where: { agentId: agentKey } }),
        this.deps.prices,
      );
      if (isSpent(spend, quota)) return budgetExceeded('agent', agentKey, spend, quota);
    }
    return null;
  }
}
