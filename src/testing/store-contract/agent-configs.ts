import { describe, expect, it } from 'vitest';
import { sampleAgentConfig } from '../samples.js';
import type { ContractContext, StoreContractOptions } from './shared.js';

/** Agent configs keep their quota (docs/policies.md "Budgets"): created, committed, and after reopen. */
export function describeAgentConfigs(ctx: ContractContext, options: StoreContractOptions): void {
  describe('agent config quotas', () => {
    const tokens = sampleAgentConfig('a1', { quota: { tokens: 1_000 } });
    const both = sampleAgentConfig('a2', { quota: { tokens: 0, costUsd: 0.125 } });

    it('keeps a quota through create, commit and find, and none where there is none', async () => {
      await ctx.store.agentConfigs.create(tokens);
      await ctx.store.commit({ agentConfigs: [both, sampleAgentConfig('a3')] });
      expect((await ctx.store.agentConfigs.get('a1'))?.quota).toEqual({ tokens: 1_000 });
      expect((await ctx.store.agentConfigs.get('a2'))?.quota).toEqual({ tokens: 0, costUsd: 0.125 });
      expect((await ctx.store.agentConfigs.get('a3'))?.quota).toBeUndefined();
      const found = await ctx.store.agentConfigs.find();
      expect(found.map((config) => [config.id, config.quota])).toEqual([
        ['a1', { tokens: 1_000 }],
        ['a2', { tokens: 0, costUsd: 0.125 }],
        ['a3', undefined],
      ]);
    });

    if (options.reopen) {
      const reopen = options.reopen;
      it('keeps a quota after close and reopen', async () => {
        await ctx.store.commit({ agentConfigs: [both] });
        await ctx.store.close();
        ctx.store = await reopen(ctx.store);
        await ctx.store.open();
        await expect(ctx.store.agentConfigs.get('a2')).resolves.toEqual(both);
      });
    }
  });
}
