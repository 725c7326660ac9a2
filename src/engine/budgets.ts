import type { Quota } from '../domain/agent-config.js';
import type { Task } from '../domain/task.js';
import { taskUsageRecords, type TokenUsage } from '../ai/usage.js';
import { BudgetExceededError, InvalidArgumentError } from '../errors/errors.js';
import { show } from './validate-ids.js';

/**
 * A workflow's token and cost budget, kept in its row's `metadata.budget` (so every engine on the
 * store reads the same one). A task about to start while the workflow's spend already reached a
 * limit (`spent >= limit`) ends `BUDGET_EXCEEDED`.
 */
export interface Budget extends Quota {
  /**
   * What the workflow does once a task ended BUDGET_EXCEEDED: `fail` (it is FAILED, as any failed
   * task makes it) or `pause` (it is paused; raise the budget and resume to go on). @default 'fail'
   */
  onExceeded?: 'fail' | 'pause';
}

export type { Quota };

/** The price of a model's tokens, in US dollars per million tokens. */
export interface ModelPrice {
  inputPerMTok: number;
  outputPerMTok: number;
}

/**
 * Prices by model id (as the provider names it in the AI SDK agent's `outputData.modelId`), by
 * agent config id, or `'*'` for anything else.
 */
export type PriceTable = Record<string, ModelPrice>;

/** What a set of tasks used: tokens, their cost, and tokens no price applied to. */
export interface Spend {
  tokens: number;
  costUsd: number;
  /** Tokens of attempts that matched no entry of the price table (they cost nothing). */
  unpricedTokens: number;
}

/** The key under which a workflow's row metadata holds its budget. */
export const BUDGET_METADATA_KEY = 'budget';

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function expectLimit(where: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new InvalidArgumentError(`Expected \`${where}\` to be a number >= 0, got ${show(value)}`);
  }
  return value;
}

/** A budget checked: limits are numbers >= 0, `onExceeded` is `fail` or `pause`; unknown keys refused. */
export function parseBudget(value: unknown, where = 'budget'): Budget {
  if (!isRecord(value)) {
    throw new InvalidArgumentError(`Expected \`${where}\` to be an object, got ${show(value)}`);
  }
  for (const key of Object.keys(value)) {
    if (!['tokens', 'costUsd', 'onExceeded'].includes(key)) {
      throw new InvalidArgumentError(
        `Expected \`${where}\` to have only tokens, costUsd and onExceeded, got ${key}`,
      );
    }
  }
  const onExceeded = value.onExceeded;
  if (onExceeded !== undefined && onExceeded !== 'fail' && onExceeded !== 'pause') {
    throw new InvalidArgumentError(
      `Expected \`${where}.onExceeded\` to be 'fail' or 'pause', got ${String(onExceeded)}`,
    );
  }
  const budget: Budget = {};
  const tokens = expectLimit(`${where}.tokens`, value.tokens);
  const costUsd = expectLimit(`${where}.costUsd`, value.costUsd);
  if (tokens !== undefined) budget.tokens = tokens;
  if (costUsd !== undefined) budget.costUsd = costUsd;
  if (onExceeded !== undefined) budget.onExceeded = onExceeded;
  return budget;
}

/** A price table checked: each entry `{ inputPerMTok, outputPerMTok }`, numbers >= 0. */
export function parsePrices(value: unknown, where = 'prices'): PriceTable {
  if (!isRecord(value)) {
    throw new InvalidArgumentError(`Expected \`${where}\` to be an object, got ${String(value)}`);
  }
  const table: PriceTable = {};
  for (const [key, price] of Object.entries(value)) {
    if (!isRecord(price)) {
      throw new InvalidArgumentError(`Expected \`${where}.${key}\` to be an object, got ${String(price)}`);
    }
    table[key] = {
      inputPerMTok: expectLimit(`${where}.${key}.inputPerMTok`, price.inputPerMTok ?? Number.NaN)!,
      outputPerMTok: expectLimit(`${where}.${key}.outputPerMTok`, price.outputPerMTok ?? Number.NaN)!,
    };
  }
  return table;
}

/** A quota checked: `tokens` and `costUsd` numbers >= 0, nothing else. */
export function parseQuota(value: unknown, where = 'quota'): Quota {
  if (isRecord(value)) {
    const other = Object.keys(value).find((key) => key !== 'tokens' && key !== 'costUsd');
    if (other !== undefined) {
      const why = other === 'onExceeded' ? ' (a spent quota fails the task)' : '';
      throw new InvalidArgumentError(
        `Expected \`${where}\` to have only tokens and costUsd, got ${other}${why}`,
      );
    }
  }
  return parseBudget(value, where);
}

/** Quotas checked, by agent config id (or agent id). */
export function parseQuotas(value: unknown, where = 'quotas'): Record<string, Quota> {
  if (!isRecord(value)) {
    throw new InvalidArgumentError(`Expected \`${where}\` to be an object, got ${String(value)}`);
  }
  const quotas: Record<string, Quota> = {};
  for (const [key, quota] of Object.entries(value)) quotas[key] = parseQuota(quota, `${where}.${key}`);
  return quotas;
}

/** Whether a quota has a limit (`{}` has none). */
export const hasLimit = (quota: Quota): boolean => quota.tokens !== undefined || quota.costUsd !== undefined;

/**
 * The quota in force when two apply to one agent (the engine option's and its config's): both,
 * so limit by limit the smaller; undefined when neither has a limit.
 */
export function strictestQuota(a: Quota | undefined, b: Quota | undefined): Quota | undefined {
  if (a === undefined || !hasLimit(a)) return b !== undefined && hasLimit(b) ? b : undefined;
  if (b === undefined || !hasLimit(b)) return a;
  const quota: Quota = {};
  const tokens = Math.min(a.tokens ?? Infinity, b.tokens ?? Infinity);
  const costUsd = Math.min(a.costUsd ?? Infinity, b.costUsd ?? Infinity);
  if (tokens !== Infinity) quota.tokens = tokens;
  if (costUsd !== Infinity) quota.costUsd = costUsd;
  return quota;
}

/** Tokens of one usage record: `totalTokens`, else input plus output. */
export function tokensOf(usage: TokenUsage): number {
  return usage.totalTokens ?? (usage.inputTokens ?? 0) + (usage.outputTokens ?? 0);
}

/** US dollars of one usage record at `price` (input and output tokens; unreported counts as 0). */
export function costOf(usage: TokenUsage, price: ModelPrice): number {
  return (
    ((usage.inputTokens ?? 0) * price.inputPerMTok + (usage.outputTokens ?? 0) * price.outputPerMTok) / 1e6
  );
}

/** The price of an attempt: by its model id, else its task's agent (config) id, else `'*'`. */
export function priceFor(
  prices: PriceTable,
  modelId: string | null,
  agentId: string | null,
): ModelPrice | null {
  if (modelId !== null && Object.hasOwn(prices, modelId)) return prices[modelId]!;
  if (agentId !== null && Object.hasOwn(prices, agentId)) return prices[agentId]!;
  return Object.hasOwn(prices, '*') ? prices['*']! : null;
}

export const noSpend = (): Spend => ({ tokens: 0, costUsd: 0, unpricedTokens: 0 });

/** What tasks used, as the store holds them: every attempt's usage, each priced (see {@link priceFor}). */
export function spendOf(
  tasks: Iterable<Pick<Task, 'status' | 'outputData' | 'errors' | 'agentId'>>,
  prices: PriceTable,
): Spend {
  const spend = noSpend();
  for (const task of tasks) {
    for (const { usage, modelId } of taskUsageRecords(task)) {
      const tokens = tokensOf(usage);
      spend.tokens += tokens;
      const price = priceFor(prices, modelId, task.agentId);
      if (price === null) spend.unpricedTokens += tokens;
      else spend.costUsd += costOf(usage, price);
    }
  }
  return spend;
}

/** Whether a spend has reached a limit: `spent >= limit` for tokens or cost. */
export function isSpent(spend: Spend, limits: Quota): boolean {
  return (
    (limits.tokens !== undefined && spend.tokens >= limits.tokens) ||
    (limits.costUsd !== undefined && spend.costUsd >= limits.costUsd)
  );
}

/**
 * The budget a workflow's metadata holds; null when it has no `budget` key. A malformed one (not a
 * budget {@link parseBudget} accepts) throws INVALID_ARGUMENT.
 */
export function budgetOf(metadata: Record<string, unknown> | undefined): Budget | null {
  const value = metadata?.[BUDGET_METADATA_KEY];
  return value === undefined ? null : parseBudget(value, `metadata.${BUDGET_METADATA_KEY}`);
}

/**
 * Checks the `budget` key of metadata given to createWorkflow or updateWorkflowMetadata, as
 * setWorkflowBudget checks a budget; undefined (no budget, or removed by a merge) passes.
 */
export function expectMetadataBudget(metadata: Record<string, unknown>): void {
  budgetOf(metadata);
}

/** The typed error of a task refused by a spent budget or quota. */
export function budgetExceeded(
  scope: 'workflow' | 'agent',
  id: string,
  spend: Spend,
  limits: Quota,
): BudgetExceededError {
  const parts: string[] = [];
  if (limits.tokens !== undefined) parts.push(`${spend.tokens} of ${limits.tokens} tokens`);
  if (limits.costUsd !== undefined) parts.push(`$${spend.costUsd.toFixed(6)} of $${limits.costUsd}`);
  const what = scope === 'workflow' ? `Workflow ${id}'s budget` : `Agent config ${id}'s quota`;
  return new BudgetExceededError(`${what} is spent (${parts.join(', ')}): the task does not start`, {
    scope,
    id,
    spentTokens: spend.tokens,
    spentCostUsd: spend.costUsd,
    budgetTokens: limits.tokens ?? null,
    budgetCostUsd: limits.costUsd ?? null,
  });
}
