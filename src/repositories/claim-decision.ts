import {
  agentGate,
  gateRoom,
  gateWaitMs,
  keyGate,
  UNBOUNDED_ROOM,
  type RateBucketState,
  type RateLimit,
} from '../domain/rate-limit.js';
import type { ExecutionPlan } from '../domain/task.js';
import { planRank } from '../engine/queue-order.js';
import { byCandidateOrder, pickFair, type ClaimCandidate } from './fair-order.js';

/**
 * What a claim read of its store (memory, SQLite), for `decideClaim`: the rule of
 * `ClaimRunnableOptions` decided in this process. PostgreSQL decides the same in its SQL.
 */
export interface ClaimFacts<T extends ClaimCandidate> {
  /** Runnable tasks of agent keys not skipped, in any order. */
  candidates: readonly T[];
  /** Whether a runnable task with a fairness key waits (skipped agent keys included). */
  keyedWaiting: boolean;
  limit: number;
  /** The stored agent configs of the candidates' agent keys. */
  configs: ReadonlyArray<{
    id: string;
    maxConcurrency: number;
    rateLimits?: readonly RateLimit[] | undefined;
  }>;
  /** Tasks held (by the claimer or a live engine) per agent key, and per fairness key. */
  held: ReadonlyMap<string, number>;
  heldByKey: ReadonlyMap<string, number>;
  /** The smallest `keyConcurrency` of the tasks held per fairness key (absent: none declares one). */
  heldLimit: ReadonlyMap<string, number>;
  /** Tasks held, PENDING and due, per rate gate (`agentGate`, `keyGate`). */
  pending: ReadonlyMap<string, number>;
  bucket(id: string): RateBucketState | undefined;
  /** The time of the rate buckets. */
  ratesAt: number;
  /** A group's mark ('' for the tasks without a key); 0: none stored. */
  mark(group: string): number;
  /** The highest mark stored (0: none); asked only when marks are written. */
  lastMark(): number;
}

export interface ClaimDecision<T extends ClaimCandidate> {
  taken: T[];
  /** The marks to store, by group ('' for the tasks without a key). */
  marks: Array<[string, number]>;
  /** The rate wait hints (`ClaimedTasks.rateWaitMs`, `rateWaitEarliestMs`), if any. */
  rateWait: { ms: number; earliestMs: number } | undefined;
}

/** A claim candidate of a stored task's plan. */
export function candidateOf(id: string, createdAt: number, plan: ExecutionPlan): ClaimCandidate {
  return {
    id,
    createdAt,
    rank: planRank(plan),
    agentKey: plan.agentKey,
    group: plan.concurrencyKey ?? null,
    keyConcurrency: plan.keyConcurrency ?? 0,
    keyRateLimits: plan.keyRateLimits,
  };
}

/** A stored agent config, as claims read it. */
export interface ClaimConfig {
  id: string;
  maxConcurrency: number;
  rateLimits?: readonly RateLimit[] | undefined;
}

/**
 * A claim's configs: the stored configs, and for agent keys without one whose agent defined in code
 * has recorded rate limits (`Store.saveAgentRateLimits`), a config of those limits and no
 * concurrency limit of its own.
 */
export function withCodeRateLimits(
  configs: readonly ClaimConfig[],
  agentKeys: readonly string[],
  recorded: (agentKey: string) => readonly RateLimit[] | undefined,
): ClaimConfig[] {
  const stored = new Set(configs.map((config) => config.id));
  const all = [...configs];
  for (const id of agentKeys) {
    const rateLimits = stored.has(id) ? undefined : recorded(id);
    if (rateLimits !== undefined) all.push({ id, maxConcurrency: Number.MAX_SAFE_INTEGER, rateLimits });
  }
  return all;
}

/** The rate room of gates at one time (`gateRoom`), each computed once; `gates` keeps them. */
export function gateRooms(
  bucket: (id: string) => RateBucketState | undefined,
  at: number,
  pending: ReadonlyMap<string, number>,
) {
  const gates = new Map<string, { limits: readonly RateLimit[]; room: number }>();
  const room = (gate: string, limits: readonly RateLimit[] | undefined): number => {
    if (limits === undefined || limits.length === 0) return UNBOUNDED_ROOM;
    const known = gates.get(gate);
    if (known !== undefined) return known.room;
    const left = gateRoom(gate, limits, bucket, at, pending.get(gate) ?? 0);
    gates.set(gate, { limits, room: left });
    return left;
  };
  return { gates, room };
}

/** Tasks each agent config may still take: its limit less its held tasks, and its gate's rate room. */
export function agentRooms(
  configs: readonly ClaimConfig[],
  held: ReadonlyMap<string, number>,
  rateRoom: (gate: string, limits: readonly RateLimit[] | undefined) => number,
): Map<string, number> {
  return new Map(
    configs.map((config) => [
      config.id,
      Math.min(
        config.maxConcurrency - (held.get(config.id) ?? 0),
        rateRoom(agentGate(config.id), config.rateLimits),
      ),
    ]),
  );
}

/** Decides a claim (see `ClaimRunnableOptions`): which candidates to take, the marks, the rate hint. */
export function decideClaim<T extends ClaimCandidate>(facts: ClaimFacts<T>): ClaimDecision<T> {
  const { bucket, ratesAt, pending } = facts;
  /** Gates with rate limits that had candidates: their limits and rate room, for the wait hint. */
  const { gates, room: rateRoom } = gateRooms(bucket, ratesAt, pending);
  const room = agentRooms(facts.configs, facts.held, rateRoom);
  const { taken, last } = pickFair({
    ordered: [...facts.candidates].sort(byCandidateOrder),
    limit: facts.limit,
    room,
    held: facts.heldByKey,
    heldLimit: facts.heldLimit,
    // Without a task with a key waiting every candidate is of one group: no mark to read.
    mark: facts.keyedWaiting ? (group) => facts.mark(group ?? '') : () => 0,
    keyRoom: (key, head) => rateRoom(keyGate(key), head.keyRateLimits),
  });
  const marks: Array<[string, number]> = [];
  if (facts.keyedWaiting && last.size > 0) {
    const lastMark = facts.lastMark();
    for (const [group, position] of last) marks.push([group ?? '', lastMark + position]);
  }
  return { taken, marks, rateWait: rateWait(gates, taken, bucket, ratesAt, pending) };
}

/**
 * The hints of `ClaimedTasks.rateWaitMs` and `rateWaitEarliestMs`: of the gates with rate limits
 * whose room this claim used up, the least wait until one more start, after those pending and
 * those taken (`ms`), and after those taken alone (`earliestMs`).
 */
function rateWait(
  gates: ReadonlyMap<string, { limits: readonly RateLimit[]; room: number }>,
  taken: readonly ClaimCandidate[],
  bucket: (id: string) => RateBucketState | undefined,
  now: number,
  pending: ReadonlyMap<string, number>,
): { ms: number; earliestMs: number } | undefined {
  const used = new Map<string, number>();
  const use = (gate: string) => used.set(gate, (used.get(gate) ?? 0) + 1);
  for (const task of taken) {
    use(agentGate(task.agentKey));
    if (task.group !== null) use(keyGate(task.group));
  }
  let wait: { ms: number; earliestMs: number } | undefined;
  for (const [gate, { limits, room }] of gates) {
    const n = used.get(gate) ?? 0;
    if (room - n > 0) continue;
    const ms = gateWaitMs(gate, limits, bucket, now, (pending.get(gate) ?? 0) + n + 1);
    const earliestMs = gateWaitMs(gate, limits, bucket, now, n + 1);
    wait =
      wait === undefined
        ? { ms, earliestMs }
        : { ms: Math.min(wait.ms, ms), earliestMs: Math.min(wait.earliestMs, earliestMs) };
  }
  return wait;
}
