import { isTerminalStatus } from '../../machines/status.js';
import { planRank } from '../engine/queue-order.js';
import type { AgentConfig } from '../domain/agent-config.js';
import type { Task } from '../domain/task.js';
import type { Workflow } from '../domain/workflow.js';
import type { Repository } from './repository.js';
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
 * Fairness keys (docs/policies.md "Fairness keys", the rule of src/engine/key-queue.ts): orders
 * candidates already in claim order by turn, then claim order, and leaves out those over their
 * key's limit. A task's turn is the tasks of its key held now (`held`) plus the candidates of its key
 * before it; a task without a key has turn 0. Returns the candidates as they are when none has a key.
 */
export function byFairTurn(ordered: readonly Task[], held: ReadonlyMap<string, number>): readonly Task[] {
  if (!ordered.some((task) => task.execution?.concurrencyKey !== undefined)) return ordered;
  const seen = new Map<string, number>();
  const turns = new Map<Task, number>();
  for (const task of ordered) {
    const key = task.execution?.concurrencyKey;
    if (key === undefined) {
      turns.set(task, 0);
      continue;
    }
    const turn = (held.get(key) ?? 0) + (seen.get(key) ?? 0);
    seen.set(key, (seen.get(key) ?? 0) + 1);
    const limit = task.execution!.keyConcurrency ?? 0;
    if (limit === 0 || turn < limit) turns.set(task, turn);
  }
  const position = new Map(ordered.map((task, i) => [task, i]));
  return [...turns.keys()].sort(
    (a, b) => turns.get(a)! - turns.get(b)! || position.get(a)! - position.get(b)!,
  );
}

/** What the in-process claim reads of the store besides its repositories. */
interface BeatView {
  engineId: string;
  stopped: boolean;
  expiresAt: number;
  /** Set by stores that judge beats by their own clock. */
  alive?: boolean;
}

/** Claims in flight on an in-process store, one at a time (their reads and writes await). */
const claiming = new WeakMap<object, Promise<unknown>>();

/**
 * `Store.claimRunnable` over repositories in this process: reads the unfinished tasks, takes the
 * first `limit` runnable ones in claim order and writes their new owner. Claims on one task
 * repository run one after the other, so two never take the same task.
 */
export function claimRunnableInRepositories(
  tasks: Repository<Task>,
  workflows: Repository<Workflow>,
  agentConfigs: Repository<AgentConfig>,
  beats: () => Promise<readonly BeatView[]>,
  options: ClaimRunnableOptions,
  coordinated: (workflowId: string) => boolean = () => false,
): Promise<Task[]> {
  const previous = claiming.get(tasks) ?? Promise.resolve();
  const claim = previous.then(async () => {
    const { engineId, limit, now } = options;
    if (limit <= 0) return [];
    const skipped = new Set(options.skipAgentKeys ?? []);
    const known = new Map((await beats()).map((beat) => [beat.engineId, beat]));
    const gone = (task: Task): boolean => {
      if (task.leaseOwner === null) return true;
      if (task.leaseOwner === engineId) return false;
      const beat = known.get(task.leaseOwner);
      if (beat === undefined) return task.leaseExpiresAt !== null && task.leaseExpiresAt <= now;
      return !(beat.alive ?? (!beat.stopped && beat.expiresAt > now));
    };
    const candidates: Task[] = [];
    /** Tasks held (by this engine or a live one) per agent key, and per fairness key. */
    const held = new Map<string, number>();
    const heldByKey = new Map<string, number>();
    for (const status of ['PENDING', 'RUNNING', 'PAUSED'] as const) {
      for (const task of await tasks.find({ where: { status } })) {
        if (isTerminalStatus(task.status)) continue;
        const key = task.execution?.agentKey;
        if (!gone(task)) {
          if (key !== undefined) held.set(key, (held.get(key) ?? 0) + 1);
          const fairKey = task.execution?.concurrencyKey;
          if (fairKey !== undefined) heldByKey.set(fairKey, (heldByKey.get(fairKey) ?? 0) + 1);
          continue;
        }
        if (task.execution === null || status === 'PAUSED') continue;
        if (task.workflowId !== null && coordinated(task.workflowId)) continue;
        if (skipped.has(task.execution.agentKey)) continue;
        if (task.runAfter !== null && task.runAfter > now) continue;
        candidates.push(task);
      }
    }
    const keys = [...new Set(candidates.map((t) => t.execution!.agentKey))];
    /** Tasks each limited agent key may still take. */
    const room = new Map(
      (await agentConfigs.getMany(keys)).map((config) => [
        config.id,
        config.maxConcurrency - (held.get(config.id) ?? 0),
      ]),
    );
    const withinLimit = (task: Task): boolean => {
      const key = task.execution!.agentKey;
      const left = room.get(key);
      if (left === undefined) return true;
      if (left <= 0) return false;
      room.set(key, left - 1);
      return true;
    };
    const workflowIds = [
      ...new Set(candidates.flatMap((t) => (t.workflowId === null ? [] : [t.workflowId]))),
    ];
    const stopped = new Set(
      (await workflows.getMany(workflowIds)).filter((w) => w.paused || w.cancelled).map((w) => w.id),
    );
    const ordered = candidates
      .filter((task) => task.workflowId === null || !stopped.has(task.workflowId))
      .sort(byClaimOrder);
    const taken = byFairTurn(ordered, heldByKey).filter(withinLimit).slice(0, limit);
    for (const task of taken) task.leaseOwner = engineId;
    if (taken.length > 0) await tasks.saveMany(taken);
    return taken.map((task) => structuredClone(task));
  });
  claiming.set(
    tasks,
    claim.catch(() => {}),
  );
  return claim;
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
