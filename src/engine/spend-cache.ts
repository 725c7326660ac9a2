import type { Task } from '../domain/task.js';
import { noSpend, spendOf, type PriceTable, type Quota, type Spend } from './budgets.js';

/** The fields of a task row that say what it spent and where it counts. */
export type SpendRow = Pick<Task, 'id' | 'status' | 'outputData' | 'errors' | 'agentId' | 'workflowId'>;

/** What a spend is counted over: a workflow's tasks, or the tasks an agent key ran. */
export type SpendScope = 'workflow' | 'agent';

/** One key's spend: the total, each task's part of it, and when the store was last read for it. */
interface Entry {
  spend: Spend;
  byTask: Map<string, Spend>;
  readAt: number;
  /** The total as the last read left it (before this engine's changes since). */
  atRead: Spend;
}

/** A task change this engine staged: its spend, and where it counts. */
interface LocalChange {
  /** The batch it went in (see `SpendCache.taken`). */
  batch: number;
  workflowId: string | null;
  agentId: string | null;
  spend: Spend;
}

/** What the cache needs of the engine around it. */
export interface SpendCacheDeps {
  prices: PriceTable;
  clock: { now(): number };
  /**
   * How long a read of the store stays fresh, in ms: another engine's usage is seen once it is
   * older (Infinity: never, for a store no other engine writes to; 0: read on every check).
   */
  maxAgeMs(): number;
}

/** Entries kept per scope; the least recently read go first (they are read again when needed). */
const MAX_ENTRIES = 1_024;

const isZero = (spend: Spend): boolean =>
  spend.tokens === 0 && spend.costUsd === 0 && spend.unpricedTokens === 0;

function addTo(total: Spend, part: Spend, sign: 1 | -1): void {
  total.tokens += sign * part.tokens;
  total.costUsd += sign * part.costUsd;
  total.unpricedTokens += sign * part.unpricedTokens;
}

/**
 * Whether this engine alone spent half the headroom the last read left, limit by limit: past it
 * the store is read again before the cached spend is trusted, so engines sharing a limit see each
 * other's usage as they near it (see docs/policies.md "Budgets", Overshoot).
 */
function pastHalfway(entry: Entry, limits: Quota): boolean {
  const past = (limit: number | undefined, now: number, atRead: number) =>
    limit !== undefined && atRead < limit && 2 * now >= limit + atRead;
  return (
    past(limits.tokens, entry.spend.tokens, entry.atRead.tokens) ||
    past(limits.costUsd, entry.spend.costUsd, entry.atRead.costUsd)
  );
}

/**
 * The spend of workflows and agent keys as the budget check needs it, per key: read from the
 * store at most once per `maxAgeMs` (and once this engine alone spent half the headroom left),
 * and between reads kept up to date with this engine's own task rows as it commits them (`taken`),
 * task by task, priced by `spendOf` (the one rule of what a task spent). A read that overlaps a
 * commit of this engine's keeps the engine's own rows of that commit, which the store may not have
 * shown it yet.
 */
export class SpendCache {
  private readonly entries: Record<SpendScope, Map<string, Entry>> = {
    workflow: new Map(),
    agent: new Map(),
  };
  /** Reads in flight by key, and the last batch known committed when each began. */
  private readonly reading = new Map<string, { promise: Promise<Spend>; since: number }>();
  /** This engine's task changes not yet known to be in the store, oldest batch first. */
  private readonly local = new Map<string, LocalChange>();
  private batches = 0;
  /** Every batch up to this one has committed (or failed for good). */
  private committed = 0;
  /**
   * Whether a spend was asked for yet: until then this engine's rows are not priced (a batch in
   * flight at the first check is seen at the next read).
   */
  private active = false;

  constructor(private readonly deps: SpendCacheDeps) {}

  /**
   * The spend of `id` in `scope`: the cached one while fresh, else a promise of the store's (one read
   * shared by the checks that need it meanwhile). `read` gives the key's task rows.
   */
  spend(
    scope: SpendScope,
    id: string,
    limits: Quota,
    read: () => Promise<readonly SpendRow[]>,
  ): Spend | Promise<Spend> {
    this.active = true;
    const entry = this.entries[scope].get(id);
    if (entry !== undefined && this.fresh(entry, limits)) return entry.spend;
    const key = `${scope}:${id}`;
    const reading = this.reading.get(key);
    if (reading !== undefined) return reading.promise;
    // Batches after this one may not be in what the store answers: their rows are put back.
    const since = this.committed;
    const promise = this.load(scope, id, since, read).finally(() => {
      this.reading.delete(key);
      this.prune();
    });
    this.reading.set(key, { promise, since });
    return promise;
  }

  /**
   * This engine's task rows of a batch it is about to commit: each one's part replaces the one it
   * had in the cached spends it counts in (its workflow's, its agent key's; and leaves an agent key
   * it no longer runs on). Returns what to call once the batch's commit has ended.
   */
  taken(rows: readonly SpendRow[]): (() => void) | null {
    if (!this.active || rows.length === 0) return null;
    const batch = ++this.batches;
    for (const row of rows) {
      const change: LocalChange = {
        batch,
        workflowId: row.workflowId,
        agentId: row.agentId,
        spend: spendOf([row], this.deps.prices),
      };
      // Deleted first, so that the map stays in batch order.
      this.local.delete(row.id);
      this.local.set(row.id, change);
      this.apply(row.id, change);
    }
    return () => {
      this.committed = batch;
      this.prune();
    };
  }

  private fresh(entry: Entry, limits: Quota): boolean {
    return this.deps.clock.now() - entry.readAt < this.deps.maxAgeMs() && !pastHalfway(entry, limits);
  }

  private async load(
    scope: SpendScope,
    id: string,
    since: number,
    read: () => Promise<readonly SpendRow[]>,
  ): Promise<Spend> {
    const readAt = this.deps.clock.now();
    const rows = await read();
    const byTask = new Map<string, Spend>();
    for (const row of rows) {
      const part = spendOf([row], this.deps.prices);
      if (!isZero(part)) byTask.set(row.id, part);
    }
    for (const [taskId, change] of this.local) {
      if (change.batch <= since) continue;
      if ((scope === 'workflow' ? change.workflowId : change.agentId) !== id) byTask.delete(taskId);
      else if (isZero(change.spend)) byTask.delete(taskId);
      else byTask.set(taskId, change.spend);
    }
    const spend = noSpend();
    for (const part of byTask.values()) addTo(spend, part, 1);
    const entries = this.entries[scope];
    entries.delete(id);
    entries.set(id, { spend, byTask, readAt, atRead: { ...spend } });
    if (entries.size > MAX_ENTRIES) entries.delete(entries.keys().next().value!);
    return spend;
  }

  /** Puts a task's new part in the cached spends it counts in, and takes it out of those it left. */
  private apply(taskId: string, change: LocalChange): void {
    if (change.workflowId !== null) {
      const entry = this.entries.workflow.get(change.workflowId);
      if (entry !== undefined) replace(entry, taskId, change.spend);
    }
    for (const [agentId, entry] of this.entries.agent) {
      if (agentId === change.agentId) replace(entry, taskId, change.spend);
      else if (entry.byTask.has(taskId)) replace(entry, taskId, noSpend());
    }
  }

  /** Drops the changes every read now running or to come finds in the store. */
  private prune(): void {
    let known = this.committed;
    for (const { since } of this.reading.values()) known = Math.min(known, since);
    for (const [taskId, change] of this.local) {
      if (change.batch > known) return;
      this.local.delete(taskId);
    }
  }
}

function replace(entry: Entry, taskId: string, part: Spend): void {
  const old = entry.byTask.get(taskId);
  if (old !== undefined) addTo(entry.spend, old, -1);
  if (isZero(part)) entry.byTask.delete(taskId);
  else {
    entry.byTask.set(taskId, part);
    addTo(entry.spend, part, 1);
  }
}
