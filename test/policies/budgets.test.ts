/**
 * Budgets (issue 14): pricing and spend derivation, and the runnable example of docs/policies.md.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { main } from '../../examples/policies-budget.js';
import { costOf, priceFor, spendOf, tokensOf, type PriceTable, type Task } from '../../src/index.js';
import { parseBudget } from '../../src/engine/budgets.js';

const count = fc.option(fc.integer({ min: 0, max: 100_000 }), { nil: null });
const usage = fc.record({
  inputTokens: count,
  outputTokens: count,
  totalTokens: count,
  reasoningTokens: fc.constant(null),
  cachedInputTokens: fc.constant(null),
});
const prices: PriceTable = {
  'model-a': { inputPerMTok: 3, outputPerMTok: 15 },
  writer: { inputPerMTok: 1, outputPerMTok: 2 },
};

/** A stored task: failed attempts' usage in its errors, the completed one's in its output. */
const task = fc.record({
  completed: fc.boolean(),
  agentId: fc.constantFrom('writer', 'other', null),
  modelId: fc.constantFrom('model-a', 'model-b', null),
  failed: fc.array(usage, { maxLength: 3 }),
  output: usage,
});

describe('budgets: pricing and spend', () => {
  it('prices by model id, then agent config id, then *', () => {
    expect(priceFor(prices, 'model-a', 'writer')).toBe(prices['model-a']);
    expect(priceFor(prices, 'model-b', 'writer')).toBe(prices.writer);
    expect(priceFor(prices, null, 'other')).toBeNull();
    expect(
      priceFor({ ...prices, '*': { inputPerMTok: 9, outputPerMTok: 9 } }, null, 'other')?.inputPerMTok,
    ).toBe(9);
    const one = {
      inputTokens: 1_000_000,
      outputTokens: 2_000_000,
      totalTokens: null,
      reasoningTokens: null,
      cachedInputTokens: null,
    };
    expect(costOf(one, prices['model-a']!)).toBe(33);
    expect(tokensOf(one)).toBe(3_000_000);
  });

  it('property: spend is the sum over tasks and attempts of their usage, each priced', () => {
    fc.assert(
      fc.property(fc.array(task, { maxLength: 8 }), (specs) => {
        const tasks = specs.map((spec) => ({
          status: spec.completed ? ('COMPLETED' as const) : ('FAILED' as const),
          agentId: spec.agentId,
          outputData: { usage: spec.output, modelId: spec.modelId },
          errors: spec.failed.map((u, i) => ({
            name: 'E',
            message: 'm',
            attempt: i + 1,
            at: 0,
            retryable: true,
            usage: u,
          })),
        })) satisfies Array<Pick<Task, 'status' | 'agentId' | 'outputData' | 'errors'>>;
        let tokens = 0;
        let cost = 0;
        const reported = (u: (typeof specs)[number]['output']) =>
          u.inputTokens !== null || u.outputTokens !== null || u.totalTokens !== null;
        for (const spec of specs) {
          const records = spec.failed.map((u) => ({ u, model: null as string | null }));
          if (spec.completed) records.push({ u: spec.output, model: spec.modelId });
          for (const { u, model } of records) {
            if (!reported(u)) continue;
            tokens += u.totalTokens ?? (u.inputTokens ?? 0) + (u.outputTokens ?? 0);
            const price = priceFor(prices, model, spec.agentId);
            if (price)
              cost +=
                ((u.inputTokens ?? 0) * price.inputPerMTok + (u.outputTokens ?? 0) * price.outputPerMTok) /
                1e6;
          }
        }
        const spend = spendOf(tasks, prices);
        expect(spend.tokens).toBe(tokens);
        expect(spend.costUsd).toBeCloseTo(cost, 9);
      }),
    );
  });

  it('refuses a malformed budget with INVALID_ARGUMENT', () => {
    expect(() => parseBudget({ tokens: -1 })).toThrow(/budget.tokens.*>= 0, got -1/);
    expect(() => parseBudget({ onExceeded: 'stop' })).toThrow(/'fail' or 'pause', got stop/);
    expect(() => parseBudget({ token: 5 })).toThrow(/only tokens, costUsd and onExceeded, got token/);
  });
});

describe('docs/policies.md: the budget example', () => {
  it('pauses at the budget, then completes once it is raised', async () => {
    const lines: string[] = [];
    const outcome = await main((line) => lines.push(line));
    expect(outcome).toEqual({
      firstStatus: 'PAUSED',
      finalStatus: 'COMPLETED',
      calls: 4,
      spentTokens: 480,
      spentUsd: (400 * 3 + 80 * 15) / 1e6,
    });
    expect(lines[0]).toBe('first run: PAUSED');
  });
});
