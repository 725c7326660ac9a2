interface Entry<T> {
  item: T;
  priority: number;
  seq: number;
}

/** A binary heap: highest priority first, first in first out among equals. */
export class PriorityQueue<T> {
  private heap: Entry<T>[] = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  /** `seq` orders equal priorities (lower first); by default the order of pushes. */
  push(item: T, priority = 0, seq = this.seq++): void {
    const heap = this.heap;
    heap.push({ item, priority, seq });
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  /** The first entry, left in place. */
  peek(): Readonly<Entry<T>> | undefined {
    return this.heap[0];
  }

  shift(): T | undefined {
    const heap = this.heap;
    const top = heap[0];
    if (!top) return undefined;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let best = i;
        if (left < heap.length && this.before(heap[left]!, heap[best]!)) best = left;
        if (right < heap.length && this.before(heap[right]!, heap[best]!)) best = right;
        if (best === i) break;
        [heap[i], heap[best]] = [heap[best]!, heap[i]!];
        i = best;
      }
    }
    return top.item;
  }

  private before(a: Entry<T>, b: Entry<T>): boolean {
    return a.priority > b.priority || (a.priority === b.priority && a.seq < b.seq);
  }
}
