/**
 * The retry rules a task machine holds in its context: how long to wait before the next attempt,
 * and which failures are never retried. Pure data and functions, so the machine decides with them
 * and the engine only supplies what it observed (the error's name, code and hint, a random sample).
 */
export interface RetryRules {
  /** Delay before the second attempt, in ms. */
  initialDelayMs: number;
  /** Each further delay is the previous one times this. */
  backoffFactor: number;
  /** No delay exceeds this, in ms. */
  maxDelayMs: number;
  /** Each delay is moved at random by up to this fraction of itself (0 to 1). */
  jitter: number;
  /** Error names or codes that are never retried. */
  nonRetryableErrors: readonly string[];
}

/** What the engine observed of a failed attempt, for the machine's retry rules. */
export interface Failure {
  /** False when the error itself says it must not be retried (a non-retryable error). */
  retryable: boolean;
  /** The error's `name` and `code`, when they are strings. */
  errorName?: string;
  errorCode?: string;
  /** The wait the error asks for (a provider's `retry-after`), in ms. */
  retryAfterMs?: number;
  /** A uniform sample in [0, 1) from the engine's random source, for the jitter. */
  random?: number;
}

export const noRetryDelay: RetryRules = {
  initialDelayMs: 0,
  backoffFactor: 1,
  maxDelayMs: 0,
  jitter: 0,
  nonRetryableErrors: [],
};

/**
 * The wait a failure's `retryAfterMs` is granted: `min(maxDelayMs, ceil(retryAfterMs))`; undefined
 * when it asks for none (absent, or not a finite number >= 0). Both the retry's delay and the
 * block a retry-after puts on the agent's rate-limit buckets are this.
 */
export function retryAfterDelay(
  rules: Pick<RetryRules, 'maxDelayMs'>,
  retryAfterMs: number | undefined,
): number | undefined {
  if (retryAfterMs === undefined || !Number.isFinite(retryAfterMs) || retryAfterMs < 0) return undefined;
  return Math.min(rules.maxDelayMs, Math.ceil(retryAfterMs));
}

/**
 * Delay before attempt `failedAttempt + 1`: exponential, capped at `maxDelayMs`, moved by the
 * jitter with `failure.random` (0.5, the middle, when absent). When the failure carries
 * `retryAfterMs`, that is the delay instead, capped, without jitter.
 */
export function backoffDelay(rules: RetryRules, failedAttempt: number, failure: Failure): number {
  const asked = retryAfterDelay(rules, failure.retryAfterMs);
  if (asked !== undefined) return asked;
  const exponential = rules.initialDelayMs * rules.backoffFactor ** Math.max(0, failedAttempt - 1);
  const capped = Math.min(rules.maxDelayMs, exponential);
  const spread = capped * rules.jitter * ((failure.random ?? 0.5) * 2 - 1);
  return Math.max(0, Math.min(rules.maxDelayMs, Math.round(capped + spread)));
}

/** Whether the rules let a retry follow this failure (attempt counts aside). */
export function mayRetry(rules: RetryRules, failure: Failure): boolean {
  if (!failure.retryable) return false;
  const listed = rules.nonRetryableErrors;
  if (listed.length === 0) return true;
  if (failure.errorName !== undefined && listed.includes(failure.errorName)) return false;
  return !(failure.errorCode !== undefined && listed.includes(failure.errorCode));
}
