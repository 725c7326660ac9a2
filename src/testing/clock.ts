import { SimulatedClock } from 'xstate';
import { InvalidArgumentError } from '../errors/errors.js';

/**
 * XState's SimulatedClock that also knows when its pending timers are due, so {@link advance}
 * can fire them one at a time, each at its own time, as real time would.
 */
export class TestClock extends SimulatedClock {
  readonly #due = new Map<number, number>();

  override setTimeout(fn: (...args: unknown[]) => void, timeout: number): number {
    const id: number = super.setTimeout((...args: unknown[]) => {
      this.#due.delete(id);
      fn(...args);
    }, timeout);
    this.#due.set(id, this.now() + timeout);
    return id;
  }

  override clearTimeout(id: number): void {
    this.#due.delete(id);
    super.clearTimeout(id);
  }

  /** When the earliest pending timer is due (epoch ms), or `undefined` when none is pending. */
  nextDue(): number | undefined {
    let earliest: number | undefined;
    for (const due of this.#due.values()) if (earliest === undefined || due < earliest) earliest = due;
    return earliest;
  }
}

/**
 * A {@link TestClock} (XState's SimulatedClock) set to `start` (epoch ms): pass it as the engine's
 * `clock`, and time moves only when the test says so.
 * @example
 * const clock = createTestClock(1_700_000_000_000);
 * const registry = new ServiceRegistry({ clock });
 * await advance(clock, 100); // fires the retry due in 100 ms
 */
export function createTestClock(start = 0): TestClock {
  const clock = new TestClock();
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

/** Timers one `advance` may fire before it decides that a timer keeps re-arming itself. */
const MAX_TIMER_STEPS = 100_000;

/**
 * Moves the clock forward by `ms` as if that much time passed. It first flushes the engine (so
 * an `executeTask` just called has started its attempt and armed its timers), then, with a
 * {@link TestClock}, fires each timer due within `ms` at its own time and flushes the engine after
 * each one (a retry that fails arms the next retry, which fires too if it is due in the window).
 * It ends by setting the clock to exactly `now + ms`, which fires the timers then due; what those
 * arm, even with a delay of 0, waits for the next `advance` (`advance(clock, 0)` fires it). With
 * another SimulatedClock it moves in one jump: every timer due by then fires at the end time.
 * @example
 * const done = kit.executor.executeTask(task.id, failingAgent('flaky', 2)); // retries in 100, then 200 ms
 * await advance(kit.clock, 300);
 * expect((await done).status).toBe('COMPLETED');
 */
export async function advance(clock: SimulatedClock, ms: number, rounds = 5): Promise<void> {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) {
    throw new InvalidArgumentError(`Expected \`ms\` to be a finite number >= 0, got ${String(ms)}`);
  }
  const target = clock.now() + ms;
  await flushEngine(rounds);
  if (clock instanceof TestClock) {
    for (let steps = 0; ; steps += 1) {
      const due = clock.nextDue();
      if (due === undefined || due >= target) break;
      if (steps === MAX_TIMER_STEPS) {
        throw new Error(
          `advance(clock, ${ms}) fired ${MAX_TIMER_STEPS} timers without reaching the end time: ` +
            `a timer keeps re-arming itself with a delay of 0?`,
        );
      }
      clock.set(Math.max(due, clock.now()));
      await flushEngine(rounds);
    }
  }
  clock.set(target);
  await flushEngine(rounds);
}
