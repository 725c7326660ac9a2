/** A fixed-capacity FIFO: pushing past the capacity drops the oldest item. */
export class RingBuffer<T> {
  private readonly items: (T | undefined)[];
  private head = 0;
  private length = 0;
  /** Items dropped so far to make room. */
  dropped = 0;

  constructor(readonly capacity: number) {
    this.items = new Array<T | undefined>(capacity);
  }

  get size(): number {
    return this.length;
  }

  push(item: T): void {
    if (this.capacity === 0) {
      this.dropped += 1;
      return;
    }
    if (this.length === this.capacity) {
      this.items[this.head] = item;
      this.head = (this.head + 1) % this.capacity;
      this.dropped += 1;
      return;
    }
    this.items[(this.head + this.length) % this.capacity] = item;
    this.length += 1;
  }

  /** Removes and returns every item, oldest first. */
  drain(): T[] {
    const out: T[] = [];
    for (let i = 0; i < this.length; i += 1) {
      const at = (this.head + i) % this.capacity;
      out.push(this.items[at] as T);
      this.items[at] = undefined;
    }
    this.head = 0;
    this.length = 0;
    return out;
  }
}
