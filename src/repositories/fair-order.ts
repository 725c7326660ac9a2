import type { RateLimit } from '../domain/rate-limit.js';
import { keyLimit } from '../engine/key-queue.js';

/**
 * The rule of fairness keys (docs/policies.md "Fairness keys", src/engine/key-queue.ts) for a claim
 * of up to `limit` tasks, in process memory; the SQL claims (src/repositories/postgres/claims.ts,
 * src/repositories/sql/claim-statements.ts) write the same in SQL. Each fairness key is a group, the
 * tasks without a key one more (`null`). A claim of n applies the rule n times: the next task is the
 * one of least turn (tasks of its key held, plus those of its key taken before it; 0 without a key),
 * then of the group served least recently (lowest mark), then first in claim order; a key at its
 * limit waits, and a taken task makes its group the one served last. In closed form: order the
 * candidates by (turn, j, mark, the claim order of its group's first candidate), where j counts the
 * candidates of its group before it (the groups served in this claim go after those not served yet,
 * in the order they were served).
 */
/** What a claim knows of a runnable task: its place in claim order and its policies. */
export interface ClaimCandidate {
  id: string;
  /** The plan's rank (src/engine/queue-order.ts `planRank`). */
  rank: number;
  createdAt: number;
  agentKey: string;
  /** Its fairness group: its key, or null. */
  group: string | null;
  /** 0: no limit. */
  keyConcurrency: number;
  keyRateLimits: readonly RateLimit[] | undefined;
}

/** Claim order (src/engine/queue-order.ts): higher rank first, then oldest, then by id. */
export function byCandidateOrder(a: ClaimCandidate, b: ClaimCandidate): number {
  if (a.rank !== b.rank) return b.rank - a.rank;
  if (a.createdAt !== b.createdAt) return a.createdAt - b.createdAt;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export interface FairPick<T extends ClaimCandidate> {
  /** Runnable candidates, in claim order. */
  ordered: readonly T[];
  limit: number;
  /** Tasks each agent key with a stored config may still take (its limit and rate room). */
  room: ReadonlyMap<string, number>;
  /** Tasks held per fairness key. */
  held: ReadonlyMap<string, number>;
  /** The smallest `keyConcurrency` of the tasks held per fairness key (absent: none declares one). */
  heldLimit: ReadonlyMap<string, number>;
  /** A group's mark: the serve sequence of its last claim; 0: never. */
  mark(group: string | null): number;
  /** Tasks a key's rate limits admit now (see `gateRoom`), given its first candidate. */
  keyRoom(key: string, head: T): number;
}

export interface FairPicked<T extends ClaimCandidate> {
  /** The tasks to take, in the order the rule takes them. */
  taken: T[];
  /** Each group taken from: the position (1-based) of its last task in `taken`. */
  last: Map<string | null, number>;
}

/** The rate limits of a candidate as a comparable text ('' for none). */
const ratesOf = (task: ClaimCandidate): string =>
  task.keyRateLimits === undefined || task.keyRateLimits.length === 0
    ? ''
    : JSON.stringify(task.keyRateLimits);

/**
 * Picks a claim's tasks by the rule above. Candidates are first trimmed as the SQL claims trim them
 * (they read no more): of an agent with a stored config, its tasks without a key up to its room, and
 * those with a key only while it has room; of each key, its candidates in claim order while each
 * stays within its limit, the smallest `keyConcurrency` it, those before it in the claim and the
 * key's held tasks declare (as when claimed one at a time: those before it are held by then), and
 * while each declares the rate limits of the key's first candidate (its head: the claim counts the
 * key's rate room by the head's buckets; a task with other limits waits for the next claim); at
 * most `limit` and the head's rate room.
 */
export function pickFair<T extends ClaimCandidate>(pick: FairPick<T>): FairPicked<T> {
  const { ordered, limit, room, held } = pick;
  const unkeyedOf = new Map<string, number>();
  const keyedOf = new Map<string, { n: number; cap: number; lim: number; rates: string; open: boolean }>();
  const trimmed = ordered.filter((task) => {
    const agent = task.agentKey;
    const left = room.get(agent);
    const key = task.group;
    if (key === null) {
      const n = unkeyedOf.get(agent) ?? 0;
      unkeyedOf.set(agent, n + 1);
      return left === undefined || n < left;
    }
    if (left !== undefined && left <= 0) return false;
    let state = keyedOf.get(key);
    if (state === undefined) {
      const lim = keyLimit(pick.heldLimit.get(key) ?? 0, task.keyConcurrency);
      const byLimit = lim > 0 ? lim - (held.get(key) ?? 0) : limit;
      const cap = Math.min(limit, byLimit, pick.keyRoom(key, task));
      state = { n: 0, cap, lim, rates: ratesOf(task), open: true };
      keyedOf.set(key, state);
    } else if (state.open) {
      state.lim = keyLimit(state.lim, task.keyConcurrency);
      if (ratesOf(task) !== state.rates) state.open = false;
    }
    if (!state.open) return false;
    // The key's turn at this task: its held tasks and its candidates before it.
    if (state.lim > 0 && (held.get(key) ?? 0) + state.n >= state.lim) state.open = false;
    if (state.n >= state.cap) state.open = false;
    if (!state.open) return false;
    state.n += 1;
    return true;
  });
  const seen = new Map<string | null, number>();
  /** Each group's head: the position of its first candidate (claim order: rank, then age). */
  const heads = new Map<string | null, number>();
  const rank: Array<{ task: T; turn: number; j: number; mark: number; head: number }> = [];
  trimmed.forEach((task, at) => {
    const group = task.group;
    const j = seen.get(group) ?? 0;
    seen.set(group, j + 1);
    if (j === 0) heads.set(group, at);
    const head = heads.get(group)!;
    if (group === null) {
      rank.push({ task, turn: 0, j, mark: pick.mark(null), head });
      return;
    }
    const turn = (held.get(group) ?? 0) + j;
    rank.push({ task, turn, j, mark: pick.mark(group), head });
  });
  // Groups tied on turn, j and mark go in the order their heads would: a group's later candidates
  // follow its earlier ones through the claim (its mark moves each time, in that order).
  rank.sort((a, b) => a.turn - b.turn || a.j - b.j || a.mark - b.mark || a.head - b.head);
  const used = new Map<string, number>();
  const taken: T[] = [];
  const last = new Map<string | null, number>();
  for (const { task } of rank) {
    if (taken.length >= limit) break;
    const agent = task.agentKey;
    const left = room.get(agent);
    if (left !== undefined) {
      const n = used.get(agent) ?? 0;
      if (n >= left) continue;
      used.set(agent, n + 1);
    }
    taken.push(task);
    last.set(task.group, taken.length);
  }
  return { taken, last };
}
