import type { ExecutionPlan } from '../domain/task.js';

/**
 * The one rule of queue order, shared by the in-process queues (src/engine/dispatcher.ts) and the
 * store claims (src/repositories/claim-runnable.ts and the SQL claims): executions start in
 * descending rank, then first queued first (in a store: oldest `createdAt`, then id).
 *
 * Priority with aging: a waiting execution's effective priority is `priority + waited / agingMs`
 * (one point per `agingMs` waited). With one aging rate the order of `p + (now - readyAt) / A`
 * over waiting executions is the order of the static key `p - readyAt / A`, the rank: computed
 * once, when the wait starts (the execution plan is made: executeTask, enqueueTask and kin), and
 * stored in the plan, so no queue is ever re-sorted and a claim orders by a stored value. A retry
 * keeps its rank: its backoff counts as waiting. `agingMs` 0 turns aging off: the rank is the
 * priority.
 */
export function rankOf(priority: number, readyAt: number, agingMs: number): number {
  return agingMs > 0 ? priority - readyAt / agingMs : priority;
}

/** A stored plan's rank; plans written before ranks existed rank by their priority. */
export function planRank(plan: Pick<ExecutionPlan, 'priority' | 'rank'>): number {
  return plan.rank ?? plan.priority;
}
