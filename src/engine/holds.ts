/**
 * Counted holds by key: `hold(key)` adds one and returns the function that takes it back (once,
 * however often it is called); a key is held while any hold on it is left.
 */
export class Holds<K> {
  private readonly counts = new Map<K, number>();

  hold(key: K): () => void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.counts.get(key) ?? 1) - 1;
      if (left > 0) this.counts.set(key, left);
      else this.counts.delete(key);
    };
  }

  has(key: K): boolean {
    return this.counts.has(key);
  }
}
