import { PriorityQueue } from './priority-queue.js';

/** What a keyed queue holds: an item with its rank and, maybe, a fairness key and that key's limit. */
export interface KeyedItem {
  rank: number;
  concurrencyKey: string | null;
  /** Items of its key running at once at most; 0: no limit. */
  keyConcurrency: number;
}

/**
 * One agent's queue with fairness keys (docs/policies.md "Fairness keys"). The rule, shared with the
 * store claims (src/repositories/claim-runnable.ts `byFairTurn`, and the SQL claims): the next item
 * is the one of least turn, then highest rank, then first queued, where the turn of an item is the
 * number of items of its key running now (an item without a key: 0); an item whose key runs its
 * limit waits. So a key gets its (n+1)-th slot only once every other key with work waiting has n
 * running: slots go round the keys, and a key with one task waiting is served at the next start
 * whatever another key has queued. Without keys it is the plain priority queue (one heap).
 */
export class KeyedQueue<T extends KeyedItem> {
  private readonly unkeyed = new PriorityQueue<T>();
  private readonly keyed = new Map<string, PriorityQueue<T>>();
  private seq = 0;
  private count = 0;

  /** `live(item)`: false for an entry to drop when met (taken out since it was pushed). */
  constructor(private readonly live: (item: T) => boolean) {}

  /** Entries, stale ones included. */
  get size(): number {
    return this.count;
  }

  push(item: T): void {
    this.count += 1;
    const key = item.concurrencyKey;
    if (key === null) {
      this.unkeyed.push(item, item.rank, this.seq++);
      return;
    }
    let queue = this.keyed.get(key);
    if (!queue) this.keyed.set(key, (queue = new PriorityQueue<T>()));
    queue.push(item, item.rank, this.seq++);
  }

  /**
   * Takes the next live item by the rule above; `running(key)` counts the key's running items
   * (the caller counts the item taken before it asks again). Undefined: none can start now.
   * `dropped` receives the stale entries met on the way. `mayStart(item, waiting)`, if given, is
   * asked of a keyed head about to be taken (its key below its limit), with the number of entries
   * of its key: false passes the key over (a rate limit without a token, say) and the next by the
   * rule is tried, so one key waiting does not hold up the others.
   */
  shift(
    running: (key: string) => number,
    dropped: (item: T) => void,
    mayStart?: (item: T, waiting: number) => boolean,
  ): T | undefined {
    const unkeyed = this.headOf(this.unkeyed, dropped) ? this.unkeyed : null;
    // Keys passed over by `mayStart` in this call (allocated only when one is).
    let passed = null as Set<PriorityQueue<T>> | null;
    for (;;) {
      let best: PriorityQueue<T> | null = unkeyed;
      let bestTurn = 0;
      for (const [key, queue] of this.keyed) {
        if (passed?.has(queue) === true) continue;
        const head = this.headOf(queue, dropped);
        if (!head) {
          this.keyed.delete(key);
          continue;
        }
        const turn = running(key);
        if (head.item.keyConcurrency > 0 && turn >= head.item.keyConcurrency) continue;
        if (best === null || turn < bestTurn || (turn === bestTurn && before(head, best.peek()!))) {
          best = queue;
          bestTurn = turn;
        }
      }
      if (best === null) return undefined;
      if (best !== unkeyed && mayStart !== undefined && !mayStart(best.peek()!.item, best.size)) {
        (passed ??= new Set()).add(best);
        continue;
      }
      this.count -= 1;
      return best.shift();
    }
  }

  /** The live head of a queue, stale entries dropped. */
  private headOf(queue: PriorityQueue<T>, dropped: (item: T) => void) {
    for (let head = queue.peek(); head; head = queue.peek()) {
      if (this.live(head.item)) return head;
      queue.shift();
      this.count -= 1;
      dropped(head.item);
    }
    return undefined;
  }
}

const before = (a: { priority: number; seq: number }, b: { priority: number; seq: number }): boolean =>
  a.priority > b.priority || (a.priority === b.priority && a.seq < b.seq);
