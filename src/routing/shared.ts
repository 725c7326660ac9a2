import type { AgentConfig } from '../domain/agent-config.js';
import type { AgentLoad, LoadSnapshot } from './types.js';

/** The load of an agent the table has never seen. */
export const NO_LOAD: Readonly<AgentLoad> = Object.freeze({
  inFlight: 0,
  queued: 0,
  completed: 0,
  failed: 0,
});

/** In-flight executions of an agent; 0 when the table does not know it. */
export function inFlightOf(load: LoadSnapshot, agentId: string): number {
  return load.get(agentId)?.inFlight ?? 0;
}

/**
 * The work an agent has taken on: executions in flight plus those waiting to start (`queued`,
 * read as 0 when missing). Strategies balance on this; capacity is judged on `inFlight` alone.
 */
export function assignedOf(load: LoadSnapshot, agentId: string): number {
  const entry = load.get(agentId);
  return entry === undefined ? 0 : entry.inFlight + (entry.queued ?? 0);
}

/**
 * True while the agent runs fewer executions than its `maxConcurrency` (never for 0 or NaN).
 * Waiting executions do not count: a queue is no reason to refuse a task.
 */
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

/**
 * Orders two agents by load: fewer assigned (`inFlight + queued`), then the lower
 * assigned / `maxConcurrency`, then the lower id. Negative when `a` is the less loaded.
 */
export function compareLoad(a: AgentConfig, b: AgentConfig, load: LoadSnapshot): number {
  const assignedA = assignedOf(load, a.id);
  const assignedB = assignedOf(load, b.id);
  if (assignedA !== assignedB) return assignedA - assignedB;
  const ratioA = assignedA / a.maxConcurrency;
  const ratioB = assignedB / b.maxConcurrency;
  if (ratioA !== ratioB) return ratioA < ratioB ? -1 : 1;
  return compareIds(a.id, b.id);
}

/** The least-loaded agent by {@link compareLoad}, or undefined for an empty list. */
export function leastLoaded(agents: readonly AgentConfig[], load: LoadSnapshot): AgentConfig | undefined {
  let best: AgentConfig | undefined;
  for (const agent of agents) {
    if (best === undefined || compareLoad(agent, best, load) < 0) best = agent;
  }
  return best;
}
