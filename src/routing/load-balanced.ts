import type { AgentConfig } from '../domain/agent-config.js';
import { compareLoad, hasCapacity } from './shared.js';
import type { RoutingFunction } from './types.js';

/**
 * LOAD_BALANCED: among the agents below their `maxConcurrency` (judged on `inFlight` only: a
 * queue is no reason to refuse), the one with the fewest executions assigned, `inFlight + queued`;
 * then the lowest `(inFlight + queued) / maxConcurrency`; then the lowest id. Counting the queued
 * ones is what spreads a batch routed before any of it runs (see `TaskRouter.routeTasks`).
 */
export const loadBalanced: RoutingFunction = ({ candidates, load }) => {
  let best: AgentConfig | undefined;
  for (const agent of candidates) {
    if (!hasCapacity(agent, load)) continue;
    if (best === undefined || compareLoad(agent, best, load) < 0) best = agent;
  }
  return best;
};
