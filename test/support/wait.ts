/**
 * Waiting in tests for what another party writes (a worker process, a store, an engine): polls with
 * a bounded deadline, never a sleep for time to pass. The deadline is a bound against a hang, not a
 * timing a test relies on, so it is generous: the suite runs on busy machines.
 */

import type { SimulatedClock } from 'xstate';
import { advance } from '../../src/testing/clock.js';

export interface PollOptions {
  /** Fails after this long (default 60 s). */
  timeoutMs?: number;
  /** Asks again after this long (default 10 ms); a probe that opens a store wants a longer one. */
  everyMs?: number;
}

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it returns a value (not `undefined`), and returns that value. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  options: PollOptions = {},
): Promise<T> {
  const { timeoutMs = 60_000, everyMs = 10 } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await pause(everyMs);
  }
}

/** Polls `check` until it holds. */
export async function until(
  what: string,
  check: () => Promise<boolean> | boolean,
  options: PollOptions = {},
): Promise<void> {
  await eventually(what, async () => ((await check()) ? true : undefined), options);
}

/**
 * Polls `check` until it holds (true), or until `exited` settles first (false): for a probe of a
 * child process's progress that must not wait on a process that is gone.
 */
export async function untilOrExit(
  exited: Promise<unknown>,
  check: () => Promise<boolean>,
  everyMs = 10,
): Promise<boolean> {
  let ended = false;
  void exited.then(() => (ended = true));
  while (!ended) {
    if (await check()) return true;
    await pause(everyMs);
  }
  return false;
}

/**
 * Runs `step` (a turn of the engine, a move of a simulated clock) until `check` holds: bounded by
 * wall time, however long the engine's store takes to answer, not by a count of steps.
 */
export async function stepUntil(
  what: string,
  step: () => Promise<unknown> | unknown,
  check: () => Promise<boolean> | boolean,
  options: PollOptions = { timeoutMs: 20_000 },
): Promise<void> {
  await until(
    what,
    async () => {
      if (await check()) return true;
      await step();
      return false;
    },
    options,
  );
}

/** `stepUntil` with `advance(clock, stepMs)` of symphony-engine/testing as the step. */
export async function advanceUntil(
  what: string,
  clock: SimulatedClock,
  stepMs: number,
  check: () => Promise<boolean> | boolean,
  options: PollOptions = { timeoutMs: 20_000 },
): Promise<void> {
  await stepUntil(what, () => advance(clock, stepMs), check, options);
}

/** `stepUntil` the promise settles; returns it (so its rejection reaches the caller). */
export async function stepUntilSettled<T>(
  what: string,
  promise: Promise<T>,
  step: () => Promise<unknown> | unknown,
  options: PollOptions = { timeoutMs: 20_000, everyMs: 1 },
): Promise<T> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  await stepUntil(what, step, () => settled, options);
  return promise;
}
