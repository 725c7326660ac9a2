import { PriorityQueue } from './priority-queue.js';

/** What `KeyedQueue.shift` may be told of a head: take it, pass it over, or take none now. */
export type StartVerdict = 'start' | 'pass' | 'stop';

/** What a keyed queue holds: an item with its rank and, maybe, a fairness key and that key's limit. */
export interface KeyedItem {
  rank: number;
  concurrencyKey: string | null;
  /**
   * Items of its key running at once at most, while it starts and while it runs; 0: no limit. A key's
   * limit at a start is the smallest its running items and the item about to start declare
   * (`keyLimit`).
   */
  keyConcurrency: number;
}

/** The smaller of two key limits, 0 meaning none: the limit that binds when both apply. */
export const keyLimit = (a: number, b: number): number => (a === 0 ? b : b === 0 ? a : Math.min(a, b));

/**
 * The serve order of fairness groups (docs/policies.md "Fairness keys"): each fairness key is a
 * group, and the tasks without a key are one more (`null`). A group's mark is the sequence number
 * of its last start; 0: never started. One per dispatcher, shared by its agents' queues (a key's
 * tasks may run on several agents); the store claims keep theirs in the store (`fair_marks`).
 */
export class ServeMarks {
  private seq = 0;
  private readonly marks = new Map<string | null, number>();

  get size(): number {
    return this.marks.size;
  }

  of(group: string | null): number {
    return this.marks.get(group) ?? 0;
  }

  /** A task of the group starts: it goes last in the order of service. */
  serve(group: string | null): void {
    this.marks.set(group, (this.seq += 1));
  }

  /**
   * Forgets the marks of the keys the dispatcher no longer needs, by the rule of the store's
   * (src/repositories/fair-marks-prune.ts): a key with nothing queued or running (`live` false)
   * served before every group with items queued (`waiting`; one never served counts 0, and then
   * none goes). A key that comes back counts as never served. The group without a key stays.
   */
  prune(waiting: Iterable<string | null>, live: (key: string) => boolean): void {
    let floor = Infinity;
    for (const group of waiting) floor = Math.min(floor, this.of(group));
    for (const [group, mark] of this.marks)
      if (group !== null && mark < floor && !live(group)) this.marks.delete(group);
  }
}

/**
 * One agent's queue with fairness keys (docs/policies.md "Fairness keys"). The rule, shared with the
 * store claims (src/repositories/fair-order.ts, and the SQL claims): the next item is the one of
 * least turn, then of the group served least recently (lowest mark, see `ServeMarks`), then of
 * highest rank, then first queued, where the turn of an item is the number of items of its key
 * running now (an item without a key: 0); a key whose head (its next item) would go over its limit
 * (the smallest its running items and the head declare) waits, and its later items with it. Taking an item
 * makes its group the one served last; the group without a key counts as served only while an item
 * with a key waits here (alone, there is no one to take turns with). So a key gets its (n+1)-th
 * slot only once every other key with work waiting has n running, and keys at the same turn take
 * turns: none starts twice while another waits at that turn. Priority orders work within a group.
 * Without keys it is the plain priority queue (one heap).
 */
export class KeyedQueue<T extends KeyedItem> {
  private readonly unkeyed = new PriorityQueue<T>();
  private readonly keyed = new Map<string, PriorityQueue<T>>();
  private seq = 0;
  private count = 0;

  /**
   * `live(item)`: false for an entry to drop when met (taken out since it was pushed); `marks`: the
   * serve order of the groups, shared with the other queues of the dispatcher; `runningLimit(key)`:
   * the smallest `keyConcurrency` of the key's running items (0: none has one).
   */
  constructor(
    private readonly live: (item: T) => boolean,
    private readonly marks: ServeMarks = new ServeMarks(),
    private readonly runningLimit: (key: string) => number = () => 0,
  ) {}

  /** The groups with entries queued here (stale ones may count), `null` for the items without a key. */
  *groups(): Generator<string | null> {
    if (this.unkeyed.size > 0) yield null;
    yield* this.keyed.keys();
  }

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
   * asked of a head about to be taken (a keyed one only once its key is below its limit), with the
   * number of entries of its key (or of those without a key): `pass` passes the head over (its
   * key waits for a rate limit's token, say) and the next by the rule is asked, so one key waiting
   * does not hold up the others; `stop` ends the shift with none.
   */
  shift(
    running: (key: string) => number,
    dropped: (item: T) => void,
    mayStart?: (item: T, waiting: number) => StartVerdict,
  ): T | undefined {
    const marks = this.marks;
    const unkeyed = this.headOf(this.unkeyed, dropped) ? this.unkeyed : null;
    let best: PriorityQueue<T> | null = unkeyed;
    let bestKey: string | null = null;
    let bestTurn = 0;
    let bestMark = unkeyed === null || this.keyed.size === 0 ? 0 : marks.of(null);
    for (const [key, queue] of this.keyed) {
      const head = this.headOf(queue, dropped);
      if (!head) {
        this.keyed.delete(key);
        continue;
      }
      const turn = running(key);
      if (atLimit(head.item, turn, this.runningLimit(key))) continue;
      const mark = marks.of(key);
      if (
        best === null ||
        turn < bestTurn ||
        (turn === bestTurn && (mark < bestMark || (mark === bestMark && before(head, best.peek()!))))
      ) {
        best = queue;
        bestKey = key;
        bestTurn = turn;
        bestMark = mark;
      }
    }
    if (best === null) return undefined;
    if (mayStart === undefined) return this.take(best, bestKey);
    const verdict = mayStart(best.peek()!.item, best.size);
    if (verdict !== 'pass') return verdict === 'start' ? this.take(best, bestKey) : undefined;
    // Passed over: the others by the rule, in order (sorted once, only when a head is passed).
    const others: Array<{ queue: PriorityQueue<T>; key: string | null; turn: number; mark: number }> = [];
    if (unkeyed !== null && unkeyed !== best)
      others.push({ queue: unkeyed, key: null, turn: 0, mark: marks.of(null) });
    for (const [key, queue] of this.keyed) {
      if (queue === best) continue;
      const turn = running(key);
      if (atLimit(queue.peek()!.item, turn, this.runningLimit(key))) continue;
      others.push({ queue, key, turn, mark: marks.of(key) });
    }
    others.sort(
      (a, b) => a.turn - b.turn || a.mark - b.mark || (before(a.queue.peek()!, b.queue.peek()!) ? -1 : 1),
    );
    for (const { queue, key } of others) {
      const next = mayStart(queue.peek()!.item, queue.size);
      if (next === 'start') return this.take(queue, key);
      if (next === 'stop') return undefined;
    }
    return undefined;
  }

  /** Takes the head of a group's queue; the group goes last in the order of service. */
  private take(queue: PriorityQueue<T>, key: string | null): T | undefined {
    this.count -= 1;
    // Keys left in `keyed` have a live head (the shift dropped the others): one waits here.
    if (key !== null || this.keyed.size > 0) this.marks.serve(key);
    return queue.shift();
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

/**
 * A head whose key runs its limit waits: `turn` of its items run, and the limit is the smallest the
 * head and the running items declare (`running`, 0: none). The key's later items wait behind it.
 */
const atLimit = (item: KeyedItem, turn: number, running: number): boolean => {
  const limit = keyLimit(item.keyConcurrency, running);
  return limit > 0 && turn >= limit;
};

const before = (a: { priority: number; seq: number }, b: { priority: number; seq: number }): boolean =>
  a.priority > b.priority || (a.priority === b.priority && a.seq < b.seq);
