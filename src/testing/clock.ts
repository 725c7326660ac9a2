import { SimulatedClock } from 'xstate';

/**
 * XState's SimulatedClock set to `start` (epoch ms): pass it as the engine's `clock`, and time
 * moves only when the test says so.
 * @example
 * const clock = createTestClock(1_700_000_000_000);
 * const registry = new ServiceRegistry({ clock });
 * await advance(clock, 100); // fires the retry due in 100 ms
 */
export function createTestClock(start = 0): SimulatedClock {
  const clock = new SimulatedClock();
  clock.set(start);
  return clock;
}

/** Waits for one turn of the event loop: every pending microtask, then one setImmediate round. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Lets the engine finish what it can do without time passing: it commits on setImmediate, so
 * this waits `rounds` turns of the event loop (never wall-clock time).
 */
export async function flushEngine(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i += 1) await nextTurn();
}

/** Moves the clock forward by `ms` (firing due timers), then flushes the engine. */
export async function advance(clock: SimulatedClock, ms: number, rounds = 5): Promise<void> {
  clock.increment(ms);
  await flushEngine(rounds);
}
