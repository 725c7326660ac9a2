import { eventually as poll } from '../support/wait.js';

/** What the CLI tests of workers share: bounds for child processes and the worker's start line. */

/** Generous: child processes on a loaded 2-core machine. */
export const DEADLINE_MS = 120_000;
export const TEST_MS = 240_000;
/** `symphony worker`'s start line; the first group is its engine id. */
export const STARTED = /^Worker (\S+) started: /;

/** Polls `probe` (each may open a store: not too often) until it returns a value, within DEADLINE_MS. */
export function eventually<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  return poll(what, probe, { timeoutMs: DEADLINE_MS, everyMs: 50 });
}
