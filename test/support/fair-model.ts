import { expect } from 'vitest';

/**
 * A model of the fairness rule of docs/policies.md "Fairness keys", for the queue law and the store
 * claims: items of groups (a fairness key, or `null` for the items without one) wait and run; each
 * start is checked against the rule, and the model keeps the marks (the serve order) the rule says.
 */
export interface ModelItem {
  id: number;
  rank: number;
  concurrencyKey: string | null;
  /** 0: no limit. */
  keyConcurrency: number;
}

export class FairModel<T extends ModelItem> {
  readonly waiting: T[] = [];
  readonly running: T[] = [];
  private seq = 0;
  private readonly marks = new Map<string | null, number>();
  /** Per group waiting at the lowest turn: the starts of each other group since it began to. */
  private readonly passed = new Map<string | null, Map<string | null, number>>();

  push(item: T): void {
    this.waiting.push(item);
  }

  finish(index: number): void {
    if (this.running.length > 0) this.running.splice(index % this.running.length, 1);
  }

  count(key: string): number {
    return this.running.filter((item) => item.concurrencyKey === key).length;
  }

  /** The smallest `keyConcurrency` of the key's running items; 0: none declares one. */
  runningLimit(key: string): number {
    let least = 0;
    for (const item of this.running) {
      if (item.concurrencyKey === key && item.keyConcurrency > 0)
        least = least === 0 ? item.keyConcurrency : Math.min(least, item.keyConcurrency);
    }
    return least;
  }

  /** The limit that binds a start of `item`: the smallest it and its key's running items declare. */
  limitAt(item: T): number {
    if (item.concurrencyKey === null) return 0;
    const running = this.runningLimit(item.concurrencyKey);
    if (item.keyConcurrency === 0) return running;
    return running === 0 ? item.keyConcurrency : Math.min(running, item.keyConcurrency);
  }

  turn(item: T): number {
    return item.concurrencyKey === null ? 0 : this.count(item.concurrencyKey);
  }

  /**
   * Forgets the marks of the keys with nothing waiting or running that were served before every
   * group with items waiting (one never served counts 0): they count as never served again.
   */
  prune(): void {
    const waiting = new Set(this.waiting.map((w) => w.concurrencyKey));
    const live = new Set([...waiting, ...this.running.map((r) => r.concurrencyKey)]);
    const floor = Math.min(...[...waiting].map((group) => this.mark(group)));
    for (const [group, mark] of [...this.marks])
      if (group !== null && !live.has(group) && mark < floor) this.marks.delete(group);
  }

  mark(group: string | null): number {
    return this.marks.get(group) ?? 0;
  }

  /**
   * The waiting items that may start now and are not `blocked`: without a key, or the head of their
   * key (highest rank, then first queued: a key's items do not overtake each other) while the key is
   * below its limit (`limitAt`).
   */
  startable(blocked: (item: T) => boolean = () => false): T[] {
    return this.waiting.filter((w) => {
      if (blocked(w)) return false;
      const key = w.concurrencyKey;
      if (key === null) return true;
      const head = this.waiting.find(
        (o) => o.concurrencyKey === key && (o.rank > w.rank || (o.rank === w.rank && o.id < w.id)),
      );
      if (head !== undefined) return false;
      const limit = this.limitAt(w);
      return limit === 0 || this.count(key) < limit;
    });
  }

  /**
   * Checks that `item` (undefined: none was taken) is the next by the rule among the startable items,
   * then moves it to running and updates the marks. Also checks the bound it implies (K = 1): while a
   * group waits at the lowest turn, no other group starts twice before it.
   */
  start(item: T | undefined, blocked?: (item: T) => boolean): void {
    const startable = this.startable(blocked);
    if (item === undefined) {
      expect(startable).toEqual([]);
      return;
    }
    expect(startable).toContain(item);
    const lowest = Math.min(...startable.map((w) => this.turn(w)));
    expect(this.turn(item)).toBe(lowest);
    const group = item.concurrencyKey;
    const tied = startable.filter((w) => this.turn(w) === lowest);
    for (const other of tied) {
      const byMark = this.mark(group) - this.mark(other.concurrencyKey);
      expect(
        byMark,
        `group ${group} went before ${other.concurrencyKey}, served more lately`,
      ).toBeLessThanOrEqual(0);
      // The head of a group: highest rank, then first queued; between groups of equal marks, the same.
      if (byMark === 0) {
        expect(item.rank).toBeGreaterThanOrEqual(other.rank);
        if (item.rank === other.rank)
          expect(this.waiting.indexOf(item)).toBeLessThanOrEqual(this.waiting.indexOf(other));
      }
    }
    this.checkBound(group, new Set(tied.map((w) => w.concurrencyKey)));
    const keyedWaiting = this.waiting.some((w) => w !== item && w.concurrencyKey !== null);
    this.waiting.splice(this.waiting.indexOf(item), 1);
    this.running.push(item);
    // No running item of the key is over the limit it declares.
    for (const other of this.running) {
      if (group !== null && other.concurrencyKey === group && other.keyConcurrency > 0)
        expect(this.count(group)).toBeLessThanOrEqual(other.keyConcurrency);
    }
    if (group !== null || keyedWaiting) this.marks.set(group, (this.seq += 1));
  }

  private checkBound(started: string | null, lowest: ReadonlySet<string | null>): void {
    for (const group of [...this.passed.keys()]) if (!lowest.has(group)) this.passed.delete(group);
    this.passed.delete(started);
    for (const group of lowest) {
      if (group === started) continue;
      const counts = this.passed.get(group) ?? new Map<string | null, number>();
      this.passed.set(group, counts);
      const n = (counts.get(started) ?? 0) + 1;
      counts.set(started, n);
      expect(
        n,
        `group ${started} started twice while ${group} waited at the lowest turn`,
      ).toBeLessThanOrEqual(1);
    }
  }
}
