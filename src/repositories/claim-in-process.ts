import { isTerminalStatus } from '../../machines/status.js';
import type { AgentConfig } from '../domain/agent-config.js';
import { agentGate, keyGate, type RateBucketState, type RateLimit } from '../domain/rate-limit.js';
import type { Task } from '../domain/task.js';
import { keyLimit } from '../engine/key-queue.js';
import type { Workflow } from '../domain/workflow.js';
import { claimed, type ClaimedTasks, type ClaimRunnableOptions } from './claim-runnable.js';
import { candidateOf, decideClaim, withCodeRateLimits } from './claim-decision.js';
import { pruneFairMarksInProcess } from './fair-marks-prune.js';
import type { Repository } from './repository.js';

/** An engine's last beat, as the in-process claim reads it. */
interface BeatView {
  engineId: string;
  stopped: boolean;
  expiresAt: number;
  /** Set by stores that judge beats by their own clock. */
  alive?: boolean;
}

/** What the in-process claim reads and writes of its store. */
export interface InProcessClaimSource {
  tasks: Repository<Task>;
  workflows: Repository<Workflow>;
  agentConfigs: Repository<AgentConfig>;
  beats(): Promise<readonly BeatView[]>;
  /** Whether a workflow is handed to workers as a whole (its coordinator runs its tasks). */
  coordinated(workflowId: string): boolean;
  /** The serve marks of the fairness groups, by key ('' for the tasks without a key). */
  marks: Map<string, number>;
  /** The rate limits recorded for an agent defined in code (`Store.saveAgentRateLimits`), if any. */
  codeRateLimits(agentKey: string): readonly RateLimit[] | undefined;
  /** A stored rate bucket, if any. */
  bucket(id: string): RateBucketState | undefined;
  /** The store's clock, for rate buckets when a claim gives no `ratesAt`. */
  now(): number;
}

/** Marks a store holds before a claim prunes them (`pruneFairMarksInProcess`), by marks map. */
const markBudgets = new WeakMap<Map<string, number>, number>();

/** Claims in flight on an in-process store, one at a time (their reads and writes await). */
const claiming = new WeakMap<object, Promise<unknown>>();

/** The highest of `values`, 0 for none. */
export function highest(values: Iterable<number>): number {
  let max = 0;
  for (const value of values) if (value > max) max = value;
  return max;
}

const add = (counts: Map<string, number>, key: string): void => {
  counts.set(key, (counts.get(key) ?? 0) + 1);
};

/**
 * `Store.claimRunnable` over repositories in this process (see `ClaimRunnableOptions`): reads the
 * unfinished tasks, picks up to `limit` runnable ones by the rule of fairness keys and the rooms of
 * agent limits and rate limits, writes their new owner and the marks of the groups served. Claims on
 * one task repository run one after the other, so two never take the same task.
 */
export function claimRunnableInProcess(
  source: InProcessClaimSource,
  options: ClaimRunnableOptions,
): Promise<ClaimedTasks> {
  return afterClaims(source.tasks, () => claimNow(source, options));
}

/** Runs `work` after the claims (and other work) queued on a task repository, before those after it. */
export function afterClaims<R>(tasks: object, work: () => Promise<R>): Promise<R> {
  const previous = claiming.get(tasks) ?? Promise.resolve();
  const done = previous.then(work);
  claiming.set(
    tasks,
    done.catch(() => {}),
  );
  return done;
}

async function claimNow(source: InProcessClaimSource, options: ClaimRunnableOptions): Promise<ClaimedTasks> {
  const { engineId, limit, now } = options;
  if (limit <= 0) return [];
  const skipped = new Set(options.skipAgentKeys ?? []);
  const known = new Map((await source.beats()).map((beat) => [beat.engineId, beat]));
  const gone = (task: Task): boolean => {
    if (task.leaseOwner === null) return true;
    if (task.leaseOwner === engineId) return false;
    const beat = known.get(task.leaseOwner);
    if (beat === undefined) return task.leaseExpiresAt !== null && task.leaseExpiresAt <= now;
    return !(beat.alive ?? (!beat.stopped && beat.expiresAt > now));
  };
  const runnable: Task[] = [];
  /** Tasks held (by this engine or a live one) per agent key and per fairness key; of those, PENDING and due. */
  const held = new Map<string, number>();
  const heldByKey = new Map<string, number>();
  const heldLimit = new Map<string, number>();
  const pending = new Map<string, number>();
  for (const status of ['PENDING', 'RUNNING', 'PAUSED'] as const) {
    for (const task of await source.tasks.find({ where: { status } })) {
      if (isTerminalStatus(task.status)) continue;
      const plan = task.execution;
      if (!gone(task)) {
        if (plan === null) continue;
        add(held, plan.agentKey);
        const key = plan.concurrencyKey;
        if (key !== undefined) {
          add(heldByKey, key);
          const limit = keyLimit(heldLimit.get(key) ?? 0, plan.keyConcurrency ?? 0);
          if (limit > 0) heldLimit.set(key, limit);
        }
        if (status === 'PENDING' && (task.runAfter === null || task.runAfter <= now)) {
          add(pending, agentGate(plan.agentKey));
          if (plan.concurrencyKey !== undefined) add(pending, keyGate(plan.concurrencyKey));
        }
        continue;
      }
      if (plan === null || status === 'PAUSED') continue;
      if (task.workflowId !== null && source.coordinated(task.workflowId)) continue;
      if (task.runAfter !== null && task.runAfter > now) continue;
      runnable.push(task);
    }
  }
  const workflowIds = [...new Set(runnable.flatMap((t) => (t.workflowId === null ? [] : [t.workflowId])))];
  const stopped = new Set(
    (await source.workflows.getMany(workflowIds)).filter((w) => w.paused || w.cancelled).map((w) => w.id),
  );
  const live = runnable.filter((task) => task.workflowId === null || !stopped.has(task.workflowId));
  const keyedWaiting = live.some((task) => task.execution!.concurrencyKey !== undefined);
  const ordered = live.filter((task) => !skipped.has(task.execution!.agentKey));

  const byId = new Map(ordered.map((task) => [task.id, task]));
  const agentKeys = [...new Set(ordered.map((t) => t.execution!.agentKey))];
  const marks = source.marks;
  const decision = decideClaim({
    candidates: ordered.map((task) => candidateOf(task.id, task.createdAt, task.execution!)),
    keyedWaiting,
    limit,
    configs: withCodeRateLimits(await source.agentConfigs.getMany(agentKeys), agentKeys, (key) =>
      source.codeRateLimits(key),
    ),
    held,
    heldByKey,
    heldLimit,
    pending,
    bucket: (id) => source.bucket(id),
    ratesAt: options.ratesAt ?? source.now(),
    mark: (group) => marks.get(group) ?? 0,
    lastMark: () => highest(marks.values()),
  });
  const taken = decision.taken.map((candidate) => byId.get(candidate.id)!);
  for (const task of taken) task.leaseOwner = engineId;
  if (taken.length > 0) await source.tasks.saveMany(taken);
  for (const [group, mark] of decision.marks) marks.set(group, mark);
  // No control poller prunes a memory store by default: past a budget, the claim prunes the marks.
  if (marks.size > (markBudgets.get(marks) ?? 64)) {
    await pruneFairMarksInProcess(source, now);
    markBudgets.set(marks, Math.max(64, 2 * marks.size));
  }
  return claimed(
    taken.map((task) => structuredClone(task)),
    decision.rateWait,
  );
}
