import { backoffDelay, type Failure, type RetryRules } from '../../machines/retry.js';
import { InvalidArgumentError } from '../errors/errors.js';
import { SymphonyError } from '../errors/symphony-error.js';
import { expectKnownKeys } from './validate-ids.js';

export interface RetryPolicy extends RetryRules {
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

const RETRY_FIELDS = Object.keys(defaultRetryPolicy);

/**
 * A `retry` option given through the API (engine options, execute options): an unknown field is
 * refused (`retry.maxAtempts`), then the policy is checked and filled from `base` as
 * {@link resolveRetryPolicy} does.
 */
export function expectRetryPolicy(partial: unknown, base: RetryPolicy = defaultRetryPolicy): RetryPolicy {
  if (typeof partial === 'object' && partial !== null) expectKnownKeys('retry', partial, RETRY_FIELDS);
  return resolveRetryPolicy(partial, base);
}

/** Reads a property of a thrown value that may be anything (a proxy whose getters throw, too). */
function field(error: unknown, key: 'name' | 'code' | 'retryAfterMs' | 'retryable'): unknown {
  if (typeof error !== 'object' || error === null) return undefined;
  try {
    return (error as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

/**
 * What the task machine's retry rules look at in a failed attempt's error: whether it may be
 * retried at all (a SymphonyError that is not retryable, such as NonRetryableError, may not), its
 * `name` and `code`, and the wait it asks for (a number `retryAfterMs` >= 0, as
 * `symphony-engine/ai` sets from a provider's `retry-after` header).
 */
export function failureOf(error: unknown, random?: number): Failure {
  const failure: Failure = {
    retryable: !(SymphonyError.isInstance(error) && field(error, 'retryable') !== true),
  };
  const name = field(error, 'name');
  const code = field(error, 'code');
  const retryAfterMs = field(error, 'retryAfterMs');
  if (typeof name === 'string') failure.errorName = name;
  if (typeof code === 'string') failure.errorCode = code;
  if (typeof retryAfterMs === 'number' && Number.isFinite(retryAfterMs) && retryAfterMs >= 0) {
    failure.retryAfterMs = retryAfterMs;
  }
  if (random !== undefined) failure.random = random;
  return failure;
}

/**
 * Delay before attempt `failedAttempt + 1` under `policy` (the rule the task machine applies):
 * exponential, capped, with jitter from `random()`; the error's `retryAfterMs`, capped, instead
 * when it has one.
 */
export function retryDelay(
  policy: RetryPolicy,
  failedAttempt: number,
  random: () => number,
  error?: unknown,
): number {
  return backoffDelay(policy, failedAttempt, failureOf(error, random()));
}

export { expectNumber };
