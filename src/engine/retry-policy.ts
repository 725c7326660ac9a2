import { InvalidArgumentError } from '../errors/errors.js';
import { SymphonyError } from '../errors/symphony-error.js';

export interface RetryPolicy {
  /** Attempts in all, the first included. @default 3 */
  maxAttempts: number;
  /** Delay before the second attempt, in ms. @default 100 */
  initialDelayMs: number;
  /** Each further delay is the previous one times this. @default 2 */
  backoffFactor: number;
  /** No delay exceeds this, in ms. @default 30000 */
  maxDelayMs: number;
  /** Each delay is moved at random by up to this fraction of itself (0 to 1). @default 0.2 */
  jitter: number;
  /** Error names or codes that are never retried. @default [] */
  nonRetryableErrors: readonly string[];
  /**
   * Times an attempt of the task may be interrupted (its engine died, or stopped past its grace
   * period, while the attempt ran) and the task still run again, as BullMQ's `maxStalledCount`.
   * One interruption more and the task ends FAILED with TOO_MANY_INTERRUPTIONS. Interrupted
   * attempts also count against `maxAttempts`. @default 1
   */
  maxInterruptions: number;
}

export const defaultRetryPolicy: RetryPolicy = {
  maxAttempts: 3,
  initialDelayMs: 100,
  backoffFactor: 2,
  maxDelayMs: 30_000,
  jitter: 0.2,
  nonRetryableErrors: [],
  maxInterruptions: 1,
};

function expectNumber(name: string, value: unknown, min: number, integer: boolean, max = Infinity): number {
  const ok = typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max;
  if (!ok || (integer && !Number.isInteger(value))) {
    const kind = integer ? 'an integer' : 'a number';
    const range = max === Infinity ? `>= ${min}` : `from ${min} to ${max}`;
    throw new InvalidArgumentError(`Expected \`${name}\` to be ${kind} ${range}, got ${String(value)}`);
  }
  return value as number;
}

/** Checks a partial policy and fills it from `base`. */
export function resolveRetryPolicy(partial: unknown, base: RetryPolicy = defaultRetryPolicy): RetryPolicy {
  if (partial === undefined) return base;
  if (typeof partial !== 'object' || partial === null) {
    throw new InvalidArgumentError(`Expected \`retry\` to be an object, got ${String(partial)}`);
  }
  const p = partial as Partial<Record<keyof RetryPolicy, unknown>>;
  const nonRetryable = p.nonRetryableErrors ?? base.nonRetryableErrors;
  if (!Array.isArray(nonRetryable) || !nonRetryable.every((item) => typeof item === 'string')) {
    throw new InvalidArgumentError('Expected `retry.nonRetryableErrors` to be an array of strings');
  }
  return {
    maxAttempts: expectNumber('retry.maxAttempts', p.maxAttempts ?? base.maxAttempts, 1, true),
    initialDelayMs: expectNumber('retry.initialDelayMs', p.initialDelayMs ?? base.initialDelayMs, 0, false),
    backoffFactor: expectNumber('retry.backoffFactor', p.backoffFactor ?? base.backoffFactor, 1, false),
    maxDelayMs: expectNumber('retry.maxDelayMs', p.maxDelayMs ?? base.maxDelayMs, 0, false),
    jitter: expectNumber('retry.jitter', p.jitter ?? base.jitter, 0, false, 1),
    nonRetryableErrors: [...nonRetryable],
    maxInterruptions: expectNumber(
      'retry.maxInterruptions',
      p.maxInterruptions ?? base.maxInterruptions,
      0,
      true,
    ),
  };
}

/** The wait a failed attempt's error asks for: a number `retryAfterMs` >= 0 on it, if any. */
function retryAfterOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  try {
    const value = (error as { retryAfterMs?: unknown }).retryAfterMs;
    return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Delay before attempt `failedAttempt + 1`: exponential, capped, with jitter from `random()`.
 * When the failed attempt's `error` says how long to wait (a number `retryAfterMs` >= 0, as
 * `symphony-engine/ai` sets from a provider's `retry-after` header), that is the delay instead,
 * capped at `maxDelayMs`, without jitter.
 */
export function retryDelay(
  policy: RetryPolicy,
  failedAttempt: number,
  random: () => number,
  error?: unknown,
): number {
  const asked = retryAfterOf(error);
  if (asked !== undefined) return Math.min(policy.maxDelayMs, Math.ceil(asked));
  const exponential = policy.initialDelayMs * policy.backoffFactor ** Math.max(0, failedAttempt - 1);
  const capped = Math.min(policy.maxDelayMs, exponential);
  const spread = capped * policy.jitter * (random() * 2 - 1);
  return Math.max(0, Math.min(policy.maxDelayMs, Math.round(capped + spread)));
}

/** Whether the policy lets a retry follow this error (attempt counts aside). */
export function isRetryable(policy: RetryPolicy, error: unknown): boolean {
  if (SymphonyError.isInstance(error) && !error.retryable) return false;
  if (policy.nonRetryableErrors.length > 0 && typeof error === 'object' && error !== null) {
    const { name, code } = error as { name?: unknown; code?: unknown };
    if (typeof name === 'string' && policy.nonRetryableErrors.includes(name)) return false;
    if (typeof code === 'string' && policy.nonRetryableErrors.includes(code)) return false;
  }
  return true;
}

export { expectNumber };
