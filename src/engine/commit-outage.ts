import { StoreError } from '../errors/errors.js';
import { SymphonyError } from '../errors/symphony-error.js';
import type { EngineClock } from './clock.js';
import type { Logger } from './logger.js';

/** First and largest delay between two commit retries (before jitter). */
const FIRST_RETRY_MS = 50;
const MAX_RETRY_MS = 2_000;

/** Errors worth another try: the store was unreachable or busy, not the operation wrong. */
export function isTransientStoreError(error: unknown): boolean {
  return (
    SymphonyError.isInstance(error) &&
    error.retryable &&
    (error.code === 'STORE_UNAVAILABLE' || error.code === 'STORE_BUSY')
  );
}

export interface CommitOutageOptions {
  /** Times the outage and arms the retries. */
  clock: EngineClock;
  /** Jitter of the retry delays, in [0, 1). */
  random: () => number;
  /** How long a commit failing with a transient store error is retried; 0: not at all. */
  retryMs: number;
  logger: Logger;
}

/**
 * A store outage as the committer lives through it: since when commits fail with a transient
 * error, how many have, and the timer of the next try; when to try again and when to give up.
 */
export class CommitOutage {
  /** When the first failed try of the current outage ended (clock time), or null. */
  private since: number | null = null;
  /** Failed tries in the current outage. */
  private failures = 0;
  /** The timer of the next try while the store is unreachable. */
  private timer: unknown = null;

  constructor(private readonly options: CommitOutageOptions) {}

  /** True while commits fail and are being retried. */
  get active(): boolean {
    return this.since !== null;
  }

  /** True while the next try waits for its timer. */
  get waiting(): boolean {
    return this.timer !== null;
  }

  /**
   * Arms the next try (`tryAgain`) after a failed commit if the error is transient and the outage
   * is younger than `retryMs`: exponential backoff from 50 ms to 2 s, each delay between half and
   * all of it (jitter), the last try at the end of the window. False: give up (or not transient).
   */
  retryLater(failure: unknown, tryAgain: () => void): boolean {
    const { clock, retryMs, random, logger } = this.options;
    if (retryMs <= 0 || !isTransientStoreError(failure)) return false;
    const now = clock.now();
    this.since ??= now;
    const left = this.since + retryMs - now;
    if (left <= 0) return false;
    this.failures += 1;
    const base = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** Math.min(this.failures - 1, 16));
    const delayMs = Math.min(left, Math.round(base / 2 + (random() * base) / 2));
    const fields = { err: failure, failures: this.failures, delayMs, retryMs };
    if (this.failures === 1) logger.warn(fields, 'The store is unreachable; retrying the commit');
    else logger.debug(fields, 'The store is still unreachable; retrying the commit');
    // Both lanes may fail in one outage: one timer tries again for both.
    this.timer ??= clock.setTimeout(() => {
      this.timer = null;
      tryAgain();
    }, delayMs);
    return true;
  }

  /** A commit wrote to the store: the outage, if there was one, is over. */
  end(): void {
    if (this.since === null) return;
    const downMs = this.options.clock.now() - this.since;
    this.options.logger.info(
      { downMs, failures: this.failures },
      'The store is reachable again; the held state was committed',
    );
    this.reset();
  }

  /** The store answered (a refused row, a corrupt file): an outage in progress is over. */
  reset(): void {
    this.since = null;
    this.failures = 0;
  }

  /**
   * Ends the outage by giving up (no try armed any more): the error every waiting call gets when
   * the store stayed unreachable past `retryMs`.
   */
  giveUp(failure: unknown): StoreError {
    const { retryMs, logger, clock } = this.options;
    const failures = this.failures + 1;
    this.reset();
    const message = failure instanceof Error ? failure.message : String(failure);
    const error = new StoreError(
      'STORE_UNAVAILABLE',
      `The store stayed unreachable for storeRetryMs (${retryMs} ms, ${failures} failed commits); the engine let go of its unrecorded work, which recover() resumes from the last committed state. Last error: ${message}`,
      { cause: failure, retryable: true, details: { retryMs, failures } },
    );
    logger.error({ err: failure, retryMs, failures }, 'The store stayed unreachable; giving up');
    if (this.timer !== null) {
      clock.clearTimeout(this.timer);
      this.timer = null;
    }
    return error;
  }
}
