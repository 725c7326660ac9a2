import { describe, expect, it } from 'vitest';
import type { RateBucketOp } from '../../domain/rate-limit.js';
import { SAMPLE_TIME as T0 } from '../samples.js';
import type { ContractContext } from './shared.js';

/** A request bucket of 10 a second, by default taking one at T0. */
function op(key: string, overrides: Partial<RateBucketOp> = {}): RateBucketOp {
  return { key, capacity: 10, perMs: 1_000, add: 0, take: 1, spend: true, blockMs: 0, at: T0, ...overrides };
}

/** Token buckets (rate limits): `Store.takeRateTokens`, for stores that have it. */
export function describeRateBuckets(ctx: ContractContext): void {
  describe('rate buckets', () => {
    const take = async (...ops: RateBucketOp[]) => ctx.store.takeRateTokens!(ops);

    it('starts a bucket full, grants whole tokens, and says when the next one comes', async () => {
      if (!ctx.store.takeRateTokens) return;
      await expect(take(op('a', { take: 4 }))).resolves.toEqual([{ key: 'a', granted: 4, waitMs: 0 }]);
      // 6 left: asking 8 grants 6, and the next token is 100 ms away (10 a second).
      await expect(take(op('a', { take: 8 }))).resolves.toEqual([{ key: 'a', granted: 6, waitMs: 100 }]);
      await expect(take(op('a', { at: T0 + 50 }))).resolves.toEqual([{ key: 'a', granted: 0, waitMs: 50 }]);
      // It refills from the time elapsed, capped at its capacity.
      await expect(take(op('a', { at: T0 + 350, take: 5 }))).resolves.toEqual([
        { key: 'a', granted: 3, waitMs: 50 },
      ]);
      await expect(take(op('a', { at: T0 + 60_000, take: 20 }))).resolves.toEqual([
        { key: 'a', granted: 10, waitMs: 100 },
      ]);
    });

    it('keeps buckets apart and applies a batch of operations on distinct keys', async () => {
      if (!ctx.store.takeRateTokens) return;
      const grants = await take(op('x', { take: 3 }), op('y', { take: 12, capacity: 5, perMs: 500 }));
      expect(grants).toEqual([
        { key: 'x', granted: 3, waitMs: 0 },
        { key: 'y', granted: 5, waitMs: 100 },
      ]);
      await expect(take(op('x', { take: 7 }))).resolves.toEqual([{ key: 'x', granted: 7, waitMs: 0 }]);
    });

    it('lets a token bucket go into debt from charges, and admits starts again once refilled', async () => {
      if (!ctx.store.takeRateTokens) return;
      const tokens = (o: Partial<RateBucketOp>) =>
        op('t', { capacity: 1_000, perMs: 1_000, spend: false, ...o });
      // A token bucket admits every start asked while its balance is at least 1, taking nothing.
      await expect(take(tokens({ take: 3 }))).resolves.toEqual([{ key: 't', granted: 3, waitMs: 0 }]);
      // The attempts report 1,500 tokens: 500 in debt, so 501 ms until the balance is 1 again.
      await expect(take(tokens({ add: -1_500, take: 1 }))).resolves.toEqual([
        { key: 't', granted: 0, waitMs: 501 },
      ]);
      await expect(take(tokens({ at: T0 + 500 }))).resolves.toEqual([{ key: 't', granted: 0, waitMs: 1 }]);
      await expect(take(tokens({ at: T0 + 501, take: 2 }))).resolves.toEqual([
        { key: 't', granted: 2, waitMs: 0 },
      ]);
      // A refund (positive add) never fills a bucket past its capacity.
      await expect(take(tokens({ at: T0 + 600, add: 5_000, take: 0 }))).resolves.toEqual([
        { key: 't', granted: 0, waitMs: 0 },
      ]);
      await expect(take(op('t', { capacity: 1_000, at: T0 + 600, take: 2_000 }))).resolves.toEqual([
        { key: 't', granted: 1_000, waitMs: 1 },
      ]);
    });

    it('blocks a bucket for a retry-after: empty until then, refilling only after it', async () => {
      if (!ctx.store.takeRateTokens) return;
      await take(op('r', { take: 2 }));
      await expect(take(op('r', { at: T0 + 10, take: 0, blockMs: 5_000 }))).resolves.toEqual([
        { key: 'r', granted: 0, waitMs: 0 },
      ]);
      await expect(take(op('r', { at: T0 + 4_000 }))).resolves.toEqual([
        { key: 'r', granted: 0, waitMs: 1_110 },
      ]);
      // A shorter block later does not shorten it.
      await take(op('r', { at: T0 + 4_000, take: 0, blockMs: 10 }));
      await expect(take(op('r', { at: T0 + 5_010 }))).resolves.toEqual([
        { key: 'r', granted: 0, waitMs: 100 },
      ]);
      await expect(take(op('r', { at: T0 + 5_110, take: 3 }))).resolves.toEqual([
        { key: 'r', granted: 1, waitMs: 100 },
      ]);
    });

    it('never grants more than a bucket holds to takes that race each other', async () => {
      if (!ctx.store.takeRateTokens) return;
      await take(op('race', { take: 0 }));
      const grants = await Promise.all(Array.from({ length: 25 }, () => take(op('race'))));
      expect(grants.reduce((sum, [grant]) => sum + grant!.granted, 0)).toBe(10);
    });

    it('reads buckets as stored without changing them; one never used is absent', async () => {
      if (!ctx.store.takeRateTokens) return;
      expect(ctx.store.readRateBuckets, 'a store with takeRateTokens reads buckets too').toBeTypeOf(
        'function',
      );
      const read = (...keys: string[]) => ctx.store.readRateBuckets!(keys);
      await take(op('seen', { take: 4 }));
      await take(op('owed', { capacity: 1_000, spend: false, add: -1_500, take: 0 }));
      const before = Date.now();
      const first = await read('seen', 'owed', 'never');
      // The store's clock, as a store without `at` times its operations.
      expect(first.now).toBeGreaterThanOrEqual(before - 60_000);
      expect(first.now).toBeLessThanOrEqual(Date.now() + 60_000);
      expect([...first.buckets].sort((a, b) => a.key.localeCompare(b.key))).toEqual([
        { key: 'owed', tokens: -500, updatedAt: T0 },
        { key: 'seen', tokens: 6, updatedAt: T0 },
      ]);
      // Nothing was written: no refill to the read's time, no row for the missing key.
      expect((await read('seen', 'never')).buckets).toEqual([{ key: 'seen', tokens: 6, updatedAt: T0 }]);
      await expect(take(op('seen', { at: T0 + 100, take: 8 }))).resolves.toEqual([
        { key: 'seen', granted: 7, waitMs: 100 },
      ]);
      await expect(read()).resolves.toMatchObject({ buckets: [] });
    });

    it("times operations by the store's clock when they give none", async () => {
      if (!ctx.store.takeRateTokens) return;
      const [first] = await take(op('clock', { at: undefined, take: 25 }));
      expect(first).toMatchObject({ granted: 10 });
      expect(first!.waitMs).toBeGreaterThan(0);
      expect(first!.waitMs).toBeLessThanOrEqual(100);
    });
  });
}
