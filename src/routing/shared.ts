import type { AgentConfig } from '../domain/agent-config.js';
import type { AgentLoad, LoadSnapshot } from './types.js';

/** The load of an agent the table has never seen. */
export const NO_LOAD: Readonly<AgentLoad> = Object.freeze({ inFlight: 0, completed: 0, failed: 0 });

/** In-flight executions of an agent; 0 when the table does not know it. */
export function inFlightOf(load: LoadSnapshot, agentId: string): number {
  return load.get(agentId)?.inFlight ?? 0;
}

/** True while the agent runs fewer executions than its `maxConcurrency` (never for 0 or NaN). */
export function hasCapacity(agent: AgentConfig, load: LoadSnapshot): boolean {
  return inFlightOf(load, agent.id) < agent.maxConcurrency;
}

/** The candidates below their `maxConcurrency`, in their given order. */
export function withCapacity(candidates: readonly AgentConfig[], load: LoadSnapshot): AgentConfig[] {
  return candidates.filter((agent) => hasCapacity(agent, load));
}

/** Code-unit order of ids, independent of locale. */
export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The least-loaded agent (fewest in flight, then lowest id), or undefined for an empty list. */
export function leastLoaded(agents: readonly AgentConfig[], load: LoadSnapshot): AgentConfig | undefined {
  let best: AgentConfig | undefined;
  let bestInFlight = Infinity;
  for (const agent of agents) {
    const inFlight = inFlightOf(load, agent.id);
    if (
      best === undefined ||
      inFlight < bestInFlight ||
      (inFlight === bestInFlight && compareIds(agent.id, best.id) < 0)
    ) {
      best = agent;
      bestInFlight = inFlight;
    }
  }
  return best;
}
