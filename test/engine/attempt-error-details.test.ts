import { describe, expect, it } from 'vitest';
import { defaultRetryPolicy, retryDelay } from '../../src/engine/retry-policy.js';
import { normalizeError } from '../../src/errors/normalize.js';
import { NonRetryableError } from '../../src/errors/errors.js';
import { SymphonyError } from '../../src/errors/symphony-error.js';
import { ErrorCode } from '../../src/errors/codes.js';

// Issue #9: an attempt's recorded error keeps a Symphony error's details (size-capped JSON) and the
// token usage the agent reported; an error's `retryAfterMs` sets the next retry delay.

describe('normalizeError keeps details and usage', () => {
  it('copies a Symphony error details as JSON, and none for other errors or empty details', () => {
    const error = new NonRetryableError('no', { details: { statusCode: 400, nested: { a: [1, 'b'] } } });
    expect(normalizeError(error, 1, 0, false).details).toEqual({ statusCode: 400, nested: { a: [1, 'b'] } });
    expect(normalizeError(new NonRetryableError('no'), 1, 0, false)).not.toHaveProperty('details');
    const plain = Object.assign(new Error('x'), { details: { secret: 1 } });
    expect(normalizeError(plain, 1, 0, false)).not.toHaveProperty('details');
  });

  it('clips long strings so details stay under 8 KB, and says so when they cannot be JSON', () => {
    const big = new SymphonyError(ErrorCode.NON_RETRYABLE, 'big', {
      details: { body: 'x'.repeat(50_000), n: 1 },
    });
    const details = normalizeError(big, 1, 0, false).details!;
    expect(details.n).toBe(1);
    expect(details.body).toMatch(/^x{1024}\.\.\. \(48976 more characters\)$/);
    const many = new SymphonyError(ErrorCode.NON_RETRYABLE, 'many', {
      details: Object.fromEntries(Array.from({ length: 2_000 }, (_, i) => [`k${i}`, i])),
    });
    const truncated = normalizeError(many, 1, 0, false).details!;
    expect(truncated).toMatchObject({ k0: 0, k1: 1 });
    expect(JSON.stringify(truncated).length).toBeLessThanOrEqual(8_192);
    expect(Object.keys(truncated).length - 1 + (truncated.omittedKeys as number)).toBe(2_000);
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const odd = new SymphonyError(ErrorCode.NON_RETRYABLE, 'odd', { details: circular });
    expect(normalizeError(odd, 1, 0, false).details).toEqual({ unserializable: true });
  });

  it('keeps numeric token counts from the attempt metadata usage', () => {
    const metadata = { usage: { inputTokens: 3, outputTokens: null, note: 'text', bad: Number.NaN } };
    expect(normalizeError(new Error('x'), 1, 0, true, metadata).usage).toEqual({
      inputTokens: 3,
      outputTokens: null,
    });
    expect(normalizeError(new Error('x'), 1, 0, true, { usage: { outputTokens: null } })).not.toHaveProperty(
      'usage',
    );
    expect(normalizeError(new Error('x'), 1, 0, true, { usage: 'lots' })).not.toHaveProperty('usage');
    expect(normalizeError(new Error('x'), 1, 0, true, null)).not.toHaveProperty('usage');
  });
});

describe('retryDelay honours retryAfterMs', () => {
  const policy = { ...defaultRetryPolicy, initialDelayMs: 100, jitter: 0.5, maxDelayMs: 10_000 };
  const random = () => 1;

  it('uses the error retryAfterMs instead of backoff and jitter, capped at maxDelayMs', () => {
    expect(retryDelay(policy, 1, random)).toBe(150);
    expect(retryDelay(policy, 1, random, { retryAfterMs: 2_000 })).toBe(2_000);
    expect(retryDelay(policy, 1, random, { retryAfterMs: 0.2 })).toBe(1);
    expect(retryDelay(policy, 1, random, { retryAfterMs: 0 })).toBe(0);
    expect(retryDelay(policy, 3, random, { retryAfterMs: 60_000 })).toBe(10_000);
  });

  it('ignores a retryAfterMs that is not a wait', () => {
    for (const retryAfterMs of [-1, Number.NaN, Infinity, '5', null]) {
      expect(retryDelay(policy, 1, random, { retryAfterMs })).toBe(150);
    }
    const throwing = Object.defineProperty({}, 'retryAfterMs', {
      get() {
        throw new Error('getter');
      },
    });
    expect(retryDelay(policy, 1, random, throwing)).toBe(150);
  });
});
