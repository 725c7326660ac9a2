import { getWorkflowSpend, type ServiceRegistry, type WorkflowSpend } from '../index.js';
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

const count = (n: number) => n.toLocaleString('en-US');
/** Dollars with 4 decimals ($0.0012): LLM calls cost fractions of a cent. */
export const usd = (n: number): string => `$${n.toFixed(4)}`;

/**
 * `1,234 of 5,000 tokens, $0.0123 of $1.0000 (pause once spent)`; a limit the budget has not
 * is left out of its part (`1,234 tokens`), tokens no price applied to are counted.
 */
export function describeSpend({ budget, spend, exceeded }: WorkflowSpend): string {
  const tokens = `${count(spend.tokens)}${budget?.tokens === undefined ? '' : ` of ${count(budget.tokens)}`} tokens`;
  const cost = `${usd(spend.costUsd)}${budget?.costUsd === undefined ? '' : ` of ${usd(budget.costUsd)}`}`;
  const unpriced = spend.unpricedTokens > 0 ? ` (${count(spend.unpricedTokens)} tokens unpriced)` : '';
  const state =
    budget === null ? '' : exceeded ? ' - budget spent' : ` - ${budget.onExceeded ?? 'fail'} once spent`;
  return `${tokens}, ${cost}${unpriced}${state}`;
}
