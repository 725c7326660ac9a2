import type { AgentConfig } from '../domain/agent-config.js';
import type { Task } from '../domain/task.js';
import { hasCapacity, leastLoaded, withCapacity } from './shared.js';
import type { RoutingFunction } from './types.js';

/** The task's tags, lower-cased and without duplicates or empty strings. */
export function requiredCapabilities(task: Readonly<Task>): string[] {
  const required = new Set<string>();
  for (const tag of task.tags) {
    const key = tag.toLowerCase();
    if (key !== '') required.add(key);
  }
  return [...required];
}

/** How many of `required` (lower-cased) the agent declares, ignoring case. */
export function capabilityOverlap(agent: AgentConfig, required: ReadonlySet<string>): number {
  let matched: Set<string> | undefined;
  for (const capability of agent.capabilities) {
    const key = capability.toLowerCase();
    if (required.has(key)) (matched ??= new Set()).add(key);
  }
  return matched?.size ?? 0;
}

export interface CapabilityMatches {
  /** The required capabilities, lower-cased. */
  required: string[];
  /** The highest overlap any candidate reaches, busy or not. */
  bestOverlap: number;
  /** Every candidate (busy or not) reaching `bestOverlap`; empty when it is 0. */
  best: AgentConfig[];
}

/** The best-matching tier of candidates for a task with tags, regardless of their load. */
export function bestCapabilityMatches(
  required: readonly string[],
  candidates: readonly AgentConfig[],
): CapabilityMatches {
  const wanted = new Set(required);
  let bestOverlap = 0;
  let best: AgentConfig[] = [];
  for (const agent of candidates) {
    const overlap = capabilityOverlap(agent, wanted);
    if (overlap === 0 || overlap < bestOverlap) continue;
    if (overlap > bestOverlap) {
      bestOverlap = overlap;
      best = [];
    }
    best.push(agent);
  }
  return { required: [...required], bestOverlap, best };
}

/**
 * CAPABILITY_MATCH: the task's tags are the capabilities it needs (compared case-insensitively).
 *
 * - A task without tags goes to any agent below its `maxConcurrency`: the least loaded (below).
 * - Otherwise only the best-matching tier qualifies, judged over all candidates whatever their load:
 *   the agents that declare every tag if any does, else those sharing the most tags (at least one).
 *   So an agent lacking a capability is never chosen while some candidate has them all.
 * - Within the tier: an agent below its `maxConcurrency`, the least loaded. When the whole tier is
 *   busy the answer is `undefined` (the router reports a retryable NoAgentAvailableError): load
 *   never makes a task settle for a worse match.
 *
 * "Busy" means `inFlight >= maxConcurrency`; executions waiting in a queue never make an agent
 * busy. "Least loaded" means the fewest executions assigned (`inFlight + queued`), then the lowest
 * `(inFlight + queued) / maxConcurrency`, then the lowest id.
 */
export const capabilityMatch: RoutingFunction = ({ task, candidates, load }) => {
  const required = requiredCapabilities(task);
  if (required.length === 0) return leastLoaded(withCapacity(candidates, load), load);
  const { best } = bestCapabilityMatches(required, candidates);
  return leastLoaded(
    best.filter((agent) => hasCapacity(agent, load)),
    load,
  );
};
