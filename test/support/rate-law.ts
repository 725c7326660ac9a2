/**
 * The law of a request bucket of `capacity` per `perMs`, checked on start times: every window
 * [a, b] holds at most capacity + capacity * (b - a) / perMs starts. Returns the windows that break
 * it (none when the law holds), as [first start, last start, starts].
 */
export function windowsOverLimit(
  starts: readonly number[],
  capacity: number,
  perMs: number,
): Array<[number, number, number]> {
  const sorted = [...starts].sort((a, b) => a - b);
  const over: Array<[number, number, number]> = [];
  for (let i = 0; i < sorted.length; i += 1) {
    for (let j = i; j < sorted.length; j += 1) {
      const count = j - i + 1;
      // A whole-ms epsilon: start times are ms of the clock that timed the bucket.
      if (count > capacity + (capacity * (sorted[j]! - sorted[i]!)) / perMs + 1e-9) {
        over.push([sorted[i]!, sorted[j]!, count]);
      }
    }
  }
  return over;
}
