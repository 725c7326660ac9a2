import type { AgentConfig } from '../domain/agent-config.js';
import { compareIds, hasCapacity, inFlightOf } from './shared.js';
import type { RoutingFunction } from './types.js';

/**
 * LOAD_BALANCED: the agent with the fewest executions in flight; then the lowest
 * `inFlight / maxConcurrency`; then the lowest id. Agents at or over their limit are skipped.
 */
export const loadBalanced: RoutingFunction = ({ candidates, load }) => {
  let best: AgentConfig | undefined;
  let bestInFlight = 0;
  let bestRatio = 0;
  for (const agent of candidates) {
    if (!hasCapacity(agent, load)) continue;
    const inFlight = inFlightOf(load, agent.id);
    const ratio = inFlight / agent.maxConcurrency;
    if (
      best === undefined ||
      inFlight < bestInFlight ||
      (inFlight === bestInFlight &&
        (ratio < bestRatio || (ratio === bestRatio && compareIds(agent.id, best.id) < 0)))
    ) {
      best = agent;
      bestInFlight = inFlight;
      bestRatio = ratio;
    }
  }
  return best;
};
