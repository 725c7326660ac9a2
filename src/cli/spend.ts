import {
  getAgentSpend,
  getWorkflowSpend,
  type AgentConfig,
  type AgentSpend,
  type Quota,
  type ServiceRegistry,
  type Spend,
  type WorkflowSpend,
} from '../index.js';
import type { RunRecord } from './run-record.js';

/**
 * What `symphony show` reports of a workflow's spend: its tokens and cost against its budget,
 * priced by the prices of the workflow file it was run from (its run record); null when the
 * workflow has no budget and its tasks recorded no usage.
 */
export async function showSpend(
  registry: ServiceRegistry,
  workflowId: string,
  record: RunRecord | null,
): Promise<WorkflowSpend | null> {
  const spent = await getWorkflowSpend(registry, workflowId, record?.prices ?? {});
  return spent.budget === null && spent.spend.tokens === 0 ? null : spent;
}

/** An agent config of a workflow with a quota, and its spend (over every task it ran) against it. */
export interface QuotaSpend extends AgentSpend {
  agentId: string;
  name: string;
}

/**
 * What `symphony show` reports of the quotas of a workflow's agent configs: each config with a
 * quota, its spend in every workflow priced as the workflow's (its run record's prices).
 */
export async function showQuotas(
  registry: ServiceRegistry,
  configs: readonly AgentConfig[],
  record: RunRecord | null,
): Promise<QuotaSpend[]> {
  const out: QuotaSpend[] = [];
  for (const config of configs) {
    if (config.quota === undefined) continue;
    const spent = await getAgentSpend(registry, config.id, record?.prices ?? {});
    out.push({ agentId: config.id, name: config.name, ...spent });
  }
  return out;
}

const count = (n: number) => n.toLocaleString('en-US');
/** Dollars with 4 decimals ($0.0012): LLM calls cost fractions of a cent. */
export const usd = (n: number): string => `$${n.toFixed(4)}`;

/** `1,234 of 5,000 tokens, $0.0123 of $1.0000`, a limit `limits` has not left out of its part. */
function againstLimits(spend: Spend, limits: Quota | null): string {
  const tokens = `${count(spend.tokens)}${limits?.tokens === undefined ? '' : ` of ${count(limits.tokens)}`} tokens`;
  const cost = `${usd(spend.costUsd)}${limits?.costUsd === undefined ? '' : ` of ${usd(limits.costUsd)}`}`;
  const unpriced = spend.unpricedTokens > 0 ? ` (${count(spend.unpricedTokens)} tokens unpriced)` : '';
  return `${tokens}, ${cost}${unpriced}`;
}

/**
 * `1,234 of 5,000 tokens, $0.0123 of $1.0000 (pause once spent)`; a limit the budget has not
 * is left out of its part (`1,234 tokens`), tokens no price applied to are counted.
 */
export function describeSpend({ budget, spend, exceeded }: WorkflowSpend): string {
  const state =
    budget === null ? '' : exceeded ? ' - budget spent' : ` - ${budget.onExceeded ?? 'fail'} once spent`;
  return `${againstLimits(spend, budget)}${state}`;
}

/** `Writer (a1): 2,468 of 2,000 tokens, $0.0025 in all its tasks - quota spent`. */
export function describeQuota({ agentId, name, quota, spend, exceeded }: QuotaSpend): string {
  const state = exceeded ? ' - quota spent' : '';
  return `${name} (${agentId}): ${againstLimits(spend, quota)} in all its tasks${state}`;
}
