import { describe, expect, it } from 'vitest';
import type { StoredBreaker } from '../../repositories/breakers.js';
import { SAMPLE_TIME as T0, sampleAgentConfig } from '../samples.js';
import { codeOf, type ContractContext } from './shared.js';

const row = (agentId: string, overrides: Partial<StoredBreaker> = {}): StoredBreaker => ({
  agentId,
  state: 'OPEN',
  openedAt: T0,
  failures: 3,
  changedAt: T0,
  changedBy: 'e1',
  ...overrides,
});

/** Circuit breakers: agent configs keep their options; breaker rows keep the newest transition. */
export function describeBreakers(ctx: ContractContext): void {
  describe('circuit breakers', () => {
    it('keeps an agent config with breaker options, and one without', async () => {
      const circuitBreaker = { failureThreshold: 3, windowMs: 60_000, cooldownMs: 30_000, halfOpenProbes: 2 };
      await ctx.store.agentConfigs.create(sampleAgentConfig('a1', { circuitBreaker }));
      await ctx.store.agentConfigs.create(sampleAgentConfig('a2'));
      expect((await ctx.store.agentConfigs.get('a1'))?.circuitBreaker).toEqual(circuitBreaker);
      expect((await ctx.store.agentConfigs.get('a2'))?.circuitBreaker).toBeUndefined();
    });

    it('stores a breaker row per agent and keeps the newest transition whatever the order of writes', async () => {
      const store = ctx.store;
      if (store.saveBreaker === undefined || store.breakers === undefined) return;
      await expect(store.breakers()).resolves.toEqual([]);
      await expect(
        store.saveBreaker(row('b', { state: 'CLOSED', openedAt: null, failures: 1 })),
      ).resolves.toBe(true);
      await expect(store.saveBreaker(row('a', { changedAt: T0 + 10 }))).resolves.toBe(true);
      // Older and equal rows lose; a newer one wins.
      await expect(store.saveBreaker(row('a', { state: 'CLOSED', changedAt: T0 + 5 }))).resolves.toBe(false);
      await expect(store.saveBreaker(row('a', { state: 'CLOSED', changedAt: T0 + 10 }))).resolves.toBe(false);
      const halfOpen = row('a', { state: 'HALF_OPEN', changedAt: T0 + 20.5, changedBy: 'e2', failures: 0 });
      await expect(store.saveBreaker(halfOpen)).resolves.toBe(true);
      await expect(store.breakers()).resolves.toEqual([
        halfOpen,
        row('b', { state: 'CLOSED', openedAt: null, failures: 1 }),
      ]);
    });

    it('refuses a breaker row with a bad state or time', async () => {
      const store = ctx.store;
      if (store.saveBreaker === undefined || store.breakers === undefined) return;
      expect(await codeOf(store.saveBreaker(row('a', { state: 'AJAR' as 'OPEN' })))).toBe('INVALID_ARGUMENT');
      expect(await codeOf(store.saveBreaker(row('a', { changedAt: Number.NaN })))).toBe('INVALID_ARGUMENT');
      expect(await codeOf(store.saveBreaker(row('', {})))).toBe('INVALID_ARGUMENT');
      await expect(store.breakers()).resolves.toEqual([]);
    });
  });
}
