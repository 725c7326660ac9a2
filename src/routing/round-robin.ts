import type { AgentConfig } from '../domain/agent-config.js';
import { compareIds, hasCapacity } from './shared.js';
import type { RoutingFunction } from './types.js';

function sortedById(candidates: readonly AgentConfig[]): readonly AgentConfig[] {
  for (let i = 1; i < candidates.length; i++) {
    if (compareIds(candidates[i - 1]!.id, candidates[i]!.id) > 0) {
      return [...candidates].sort((a, b) => compareIds(a.id, b.id));
    }
  }
  return candidates;
}

/**
 * ROUND_ROBIN: the candidates with capacity, ordered by id, picked at `cursor % n`. The order
 * does not depend on the order of `candidates`, so a cursor advanced by one per pick visits every
 * free agent in turn.
 */
export const roundRobin: RoutingFunction = ({ candidates, load, cursor }) => {
  const free = sortedById(candidates).filter((agent) => hasCapacity(agent, load));
  const n = free.length;
  if (n === 0) return undefined;
  const index = Number.isFinite(cursor) ? ((Math.trunc(cursor) % n) + n) % n : 0;
  return free[index];
};
