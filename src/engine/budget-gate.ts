import type { Agent } from '../domain/agent.js';
import type { AgentConfig } from '../domain/agent-config.js';
import type { Task } from '../domain/task.js';
import type { Workflow } from '../domain/workflow.js';
import type { Repository } from '../repositories/repository.js';
import {
  budgetExceeded,
  budgetOf,
  isSpent,
  strictestQuota,
  type Budget,
  type PriceTable,
  type Quota,
  type Spend,
} from './budgets.js';
import { SpendCache, type SpendRow } from './spend-cache.js';

/** What the budget check needs of the engine around it. */
export interface BudgetGateDeps {
  store: {
    tasks: Pick<Repository<Task>, 'find'>;
    workflows: Pick<Repository<Workflow>, 'get'>;
    agentConfigs: Pick<Repository<AgentConfig>, 'get'>;
  };
  prices: PriceTable;
  /** The engine option's quotas, by agent key (the agent config id, else the agent id). */
  quotas: Record<string, Quota>;
  clock: { now(): number };
  /**
   * How long a read of the store (a spend, a workflow's budget) stays fresh, in ms: the engine's
   * control poll; Infinity for a store no other engine writes to, 0 to read on every check.
   */
  maxAgeMs(): number;
  /** The metadata of a workflow as this engine has it loaded (no store read); undefined when not loaded. */
  cachedMetadata(workflowId: string): Record<string, unknown> | undefined;
  /** Pauses a workflow through the engine's pause path. */
  pause(workflowId: string): Promise<unknown>;
}

/** The parts of an execution the check reads. */
export interface Gated {
  workflowId: string | null;
  agentKey: string;
  /**
   * Its agent: one built from an agent config carries the config's stored `quota` (null: none);
   * one with a `configId` and no `quota` gets its config's, read from the store.
   */
  agent: Pick<Agent, 'quota' | 'configId'>;
}

/** An agent config's quota as last read from the store. */
interface StoredQuota {
  quota: Quota | undefined;
  readAt: number;
}

/** A workflow's budget as last read from its stored row (or set by this engine). */
interface StoredBudget {
  budget: Budget | null;
  readAt: number;
}

type Verdict = Error | null;

const asError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error)));

/**
 * Decides, just before an attempt's agent runs, whether the attempt may go on: not when its
 * workflow's budget or its agent config's quota is already spent, as the store holds the usage of
 * every task (so engines sharing a store enforce one budget). The quota is the config's own (which
 * an agent built from it carries: a worker that did not create the config reads it from the store
 * as it builds the agent) and the engine option `quotas`' entry for the agent key, limit by limit
 * the smaller. Free when neither applies: no store read, no promise.
 *
 * Spends and budgets are cached (src/engine/spend-cache.ts): the store is read for a key at most
 * once per `maxAgeMs` (and once this engine alone spent half the headroom the last read left), this
 * engine's own usage is counted as it commits it (`tasksTaken`), and its own budget changes as it
 * makes them (`metadataChanged`). Other engines' usage and budget changes are seen at the next read.
 */
export class BudgetGate {
  private readonly hasQuotas: boolean;
  private readonly spends: SpendCache;
  private readonly budgets = new Map<string, StoredBudget>();
  private readonly budgetReads = new Map<string, Promise<Budget | null>>();
  private readonly configQuotas = new Map<string, StoredQuota>();

  constructor(private readonly deps: BudgetGateDeps) {
    this.hasQuotas = Object.keys(deps.quotas).length > 0;
    this.spends = new SpendCache(deps);
  }

  /**
   * Null when no budget or quota applies, or the cached spends let the attempt run; otherwise a
   * promise of the error the attempt fails with (BUDGET_EXCEEDED, or the store's error), or null to
   * let it run. A workflow whose budget says `pause` is paused before the promise resolves.
   */
  check(exec: Gated): Promise<Verdict> | null {
    const { quota: own, configId } = exec.agent;
    if (own === undefined && configId !== undefined) {
      const stored = this.configQuota(configId);
      if (stored instanceof Promise) return stored.then((quota) => this.checkWith(exec, quota), asError);
      return this.checkWith(exec, stored);
    }
    return this.checkWith(exec, own ?? undefined);
  }

  /** `check` with the agent's own quota known (its config's, as stored). */
  private checkWith(exec: Gated, own: Quota | undefined): Promise<Verdict> | null {
    // The engine option's quota and the agent's own (its config's, as stored): both apply.
    const quota = strictestQuota(this.hasQuotas ? this.deps.quotas[exec.agentKey] : undefined, own);
    const workflowId = exec.workflowId;
    try {
      let budgeted = false;
      if (workflowId !== null) {
        const metadata = this.deps.cachedMetadata(workflowId);
        // Not loaded here: the store tells. Loaded without a budget: none is read from the store.
        // A malformed stored budget throws here: the attempt fails with its INVALID_ARGUMENT.
        budgeted = metadata === undefined || budgetOf(metadata) !== null;
      }
      if (!budgeted && quota === undefined) return null;
      const verdict = this.decide(budgeted ? workflowId : null, exec.agentKey, quota);
      if (verdict === null) return null;
      // A failed read refuses the attempt with the store's error (retried by the policy like any).
      return verdict instanceof Promise ? verdict.catch(asError) : Promise.resolve(verdict);
    } catch (error) {
      return Promise.resolve(asError(error));
    }
  }

  /**
   * The stored quota of an agent config, for an agent that names the config but not its quota:
   * read at most once per `maxAgeMs`, like spends. A config that is gone has none.
   */
  private configQuota(configId: string): Quota | undefined | Promise<Quota | undefined> {
    const now = this.deps.clock.now();
    const known = this.configQuotas.get(configId);
    if (known !== undefined && now - known.readAt < this.deps.maxAgeMs()) return known.quota;
    return this.deps.store.agentConfigs.get(configId).then((config) => {
      const quota = config?.quota ?? undefined;
      this.configQuotas.set(configId, { quota, readAt: now });
      return quota;
    });
  }

  /** This engine's task rows of a batch it is about to commit; see SpendCache.taken. */
  tasksTaken(rows: readonly Task[]): (() => void) | null {
    return this.spends.taken(rows);
  }

  /** This engine changed a workflow's metadata: its budget, as the store will hold it, applies now. */
  metadataChanged(workflowId: string, metadata: Record<string, unknown>): void {
    this.budgetReads.delete(workflowId);
    try {
      this.budgets.set(workflowId, { budget: budgetOf(metadata), readAt: this.deps.clock.now() });
    } catch {
      // A malformed budget: the next check reads the row and refuses with the parse error.
      this.budgets.delete(workflowId);
    }
  }

  private decide(
    workflowId: string | null,
    agentKey: string,
    quota: Quota | undefined,
  ): Verdict | Promise<Verdict> {
    if (workflowId !== null) {
      const budget = this.storedBudget(workflowId);
      if (budget instanceof Promise) {
        return budget.then((read) => this.decideBudget(workflowId, read, agentKey, quota));
      }
      return this.decideBudget(workflowId, budget, agentKey, quota);
    }
    return this.decideQuota(agentKey, quota);
  }

  private decideBudget(
    workflowId: string,
    budget: Budget | null,
    agentKey: string,
    quota: Quota | undefined,
  ): Verdict | Promise<Verdict> {
    if (budget === null) return this.decideQuota(agentKey, quota);
    const spend = this.spends.spend('workflow', workflowId, budget, () => this.rows({ workflowId }));
    const then = (spent: Spend): Verdict | Promise<Verdict> => {
      if (!isSpent(spent, budget)) return this.decideQuota(agentKey, quota);
      const error = budgetExceeded('workflow', workflowId, spent, budget);
      return budget.onExceeded === 'pause' ? this.deps.pause(workflowId).then(() => error) : error;
    };
    return spend instanceof Promise ? spend.then(then) : then(spend);
  }

  private decideQuota(agentKey: string, quota: Quota | undefined): Verdict | Promise<Verdict> {
    if (quota === undefined) return null;
    const verdict = (spent: Spend): Verdict =>
      isSpent(spent, quota) ? budgetExceeded('agent', agentKey, spent, quota) : null;
    const spend = this.spends.spend('agent', agentKey, quota, () => this.rows({ agentId: agentKey }));
    return spend instanceof Promise ? spend.then(verdict) : verdict(spend);
  }

  private rows(where: { workflowId: string } | { agentId: string }): Promise<readonly SpendRow[]> {
    return this.deps.store.tasks.find({ where });
  }

  /**
   * The workflow's budget as its stored row holds it (another process may have raised it since this
   * engine loaded the workflow), read again once older than `maxAgeMs`.
   */
  private storedBudget(workflowId: string): Budget | null | Promise<Budget | null> {
    const known = this.budgets.get(workflowId);
    if (known !== undefined && this.deps.clock.now() - known.readAt < this.deps.maxAgeMs()) {
      return known.budget;
    }
    let reading = this.budgetReads.get(workflowId);
    if (reading === undefined) {
      const readAt = this.deps.clock.now();
      reading = (async () => {
        const row = await this.deps.store.workflows.get(workflowId);
        const budget = row ? budgetOf(row.metadata) : null;
        // A budget this engine set meanwhile is newer than the row read.
        if (this.budgetReads.get(workflowId) === reading) {
          this.budgets.delete(workflowId);
          this.budgets.set(workflowId, { budget, readAt });
          if (this.budgets.size > MAX_BUDGETS) this.budgets.delete(this.budgets.keys().next().value!);
        }
        return budget;
      })().finally(() => {
        if (this.budgetReads.get(workflowId) === reading) this.budgetReads.delete(workflowId);
      });
      this.budgetReads.set(workflowId, reading);
    }
    return reading;
  }
}

/** Budgets kept; the least recently read go first. */
const MAX_BUDGETS = 1_024;
