import { isTerminalStatus } from '../../machines/status.js';
import { planRank } from '../engine/queue-order.js';
import type { Task } from '../domain/task.js';
import type { StoreBatch } from './store.js';

/**
 * What `Store.claimRunnable` is asked. A task is runnable when it is unfinished and not PAUSED, has
 * an execution plan, its workflow (if any) is neither paused nor cancelled, its `runAfter` is due
 * (`<= now`), and no live engine holds it: its `leaseOwner` is null, or an engine other than
 * `engineId` that no longer holds it: its last beat is a stop or expired, or it never beat and the
 * task's `leaseExpiresAt` is past (without a lease, an engine that never beats holds the task until
 * it lets it go; `recover()` takes such tasks over). Tasks of a workflow handed to workers as a whole
 * (`Store.submitWorkflow`) are never claimed one by one: its coordinator runs them.
 *
 * Cluster-wide agent limits: a task whose plan's `agentKey` is the id of a stored agent config is
 * taken only while fewer than the config's `maxConcurrency` tasks of that key are held (unfinished,
 * with a `leaseOwner` that is this engine or a live one by the rule above), counting the ones the
 * claim takes. Claims are serialised per such key (PostgreSQL: an advisory lock per key in the
 * claim's transaction; SQLite: its write transaction; in process: one claim at a time), so claimers
 * together never exceed it. Tasks whose agentKey names no stored config have no cluster limit.
 *
 * Fairness keys: candidates are taken by the rule of src/repositories/fair-order.ts (a key's next
 * task within the smallest `keyConcurrency` it and the key's held tasks declare, its later tasks
 * behind it), and each group taken from is marked as served last (the store keeps the marks:
 * `fair_marks`, pruned by `Store.pruneFairMarks`).
 *
 * Rate limits (docs/policies.md "Rate limits"): a task of an agent config with `rateLimits`, of an
 * agent defined in code whose worker recorded its limits (`Store.saveAgentRateLimits`), or of a key
 * whose plan has `keyRateLimits` (those of the key's first candidate; the key's later candidates
 * only while they declare the same), is taken only while the
 * gate's buckets hold a token for it at `ratesAt`: per gate at most `gateRoom` tasks (the whole
 * tokens of its request buckets, none while a bucket is below 1 or blocked), less its tasks held,
 * PENDING and due (claimed, not started: they take tokens first). The claim takes no token; the
 * engine that runs the task does, at its start.
 */
export interface ClaimRunnableOptions {
  /** The engine that takes the tasks (written as their `leaseOwner`). */
  engineId: string;
  /** Tasks taken at most. */
  limit: number;
  /** Epoch milliseconds of the claiming engine's clock, for `runAfter` and leases of engines that never beat. */
  now: number;
  /** Tasks of these agent keys are not taken (a worker that has no agent for them). @default none */
  skipAgentKeys?: readonly string[];
  /**
   * False: this claim may leave the tasks of gone engines held (PostgreSQL lets them go in a
   * statement of its own; a worker that claims often runs it at most every `pollMs`). @default true
   */
  releaseGone?: boolean;
  /**
   * Epoch ms at which rate buckets are read (`RateBucketOp.at`: the engine's clock when it times
   * its buckets, see `rateTime`). @default the store's clock
   */
  ratesAt?: number;
}

/** What `Store.claimRunnable` resolves with. */
export type ClaimedTasks = Task[] & {
  /**
   * Set when the claim left runnable tasks in the store for their rate limits: ms until the first of
   * their gates may admit one more start (a hint for the next claim; 0 or more).
   */
  rateWaitMs?: number;
  /**
   * With `rateWaitMs`: the same wait counting only this claim's own tasks, not those other claimers
   * hold and have not started. Some of those took their tokens already (at dispatch, before their
   * start commits), so `rateWaitMs` can be a token period late while this one can be early: the
   * next start comes between the two. A worker naps until this one, or briefly when it is 0, and
   * not past `rateWaitMs`.
   */
  rateWaitEarliestMs?: number;
};

/** A claim's result: `tasks`, with the rate wait hints when set. */
export function claimed(tasks: Task[], wait?: { ms: number; earliestMs: number }): ClaimedTasks {
  return wait === undefined
    ? tasks
    : Object.assign(tasks, { rateWaitMs: wait.ms, rateWaitEarliestMs: wait.earliestMs });
}

const rank = (task: Task): number => (task.execution === null ? 0 : planRank(task.execution));

/** Claim order (src/engine/queue-order.ts): higher plan rank first, then oldest, then by id. */
export function byClaimOrder(a: Task, b: Task): number {
  const byRank = rank(b) - rank(a);
  if (byRank !== 0) return byRank;
  if (a.createdAt !== b.createdAt) return a.createdAt - b.createdAt;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * Whether a batch leaves a task claimable by workers (an execution plan, no holder, not finished or
 * paused): a store that can wake workers (PostgreSQL's NOTIFY) does so in the batch's transaction.
 */
export function leavesClaimableWork(batch: StoreBatch): boolean {
  const claimable = (task: Task) =>
    task.execution !== null &&
    task.leaseOwner === null &&
    task.status !== 'PAUSED' &&
    !isTerminalStatus(task.status);
  return (batch.tasks?.some(claimable) ?? false) || (batch.taskStates?.some(claimable) ?? false);
}
