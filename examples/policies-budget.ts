/**
 * The "Budgets" example of docs/policies.md: a workflow of LLM tasks (a mock AI SDK model reporting
 * token usage, through `createAiSdkAgent`) with a token budget that pauses it once spent; the
 * budget is raised and the workflow goes on to completion.
 *
 * A budget together with rate limits and a fallback model, in a workflow file run by the CLI:
 * examples/workflows/llm-policies.yaml.
 *
 * Run: npx tsx examples/policies-budget.ts
 */
import { MockLanguageModelV3 } from 'ai/test';
import { createAiSdkAgent } from '../src/ai/index.js';
import { getWorkflowSpend, ServiceRegistry, setWorkflowBudget } from '../src/index.js';

export interface BudgetOutcome {
  firstStatus: string;
  finalStatus: string;
  calls: number;
  spentTokens: number;
  spentUsd: number;
}

const prices = { 'mock-model-1': { inputPerMTok: 3, outputPerMTok: 15 } };

export async function main(log: (line: string) => void = console.log): Promise<BudgetOutcome> {
  const registry = new ServiceRegistry({ store: ':memory:', prices });
  // Every call: 100 input and 20 output tokens (120 in all).
  const model = new MockLanguageModelV3({
    doGenerate: async () => ({
      content: [{ type: 'text', text: 'A short summary.' }],
      finishReason: { unified: 'stop', raw: 'stop' },
      usage: {
        inputTokens: { total: 100, noCache: 100, cacheRead: undefined, cacheWrite: undefined },
        outputTokens: { total: 20, text: 20, reasoning: undefined },
      },
      response: { modelId: 'mock-model-1' },
      warnings: [],
    }),
  });
  const writer = createAiSdkAgent({ id: 'writer', model });

  const tracker = registry.getWorkflowTracker();
  const workflow = await tracker.createWorkflow({
    name: 'summaries',
    metadata: { budget: { tokens: 300, onExceeded: 'pause' } },
  });
  for (const name of ['one', 'two', 'three', 'four']) {
    await registry.getTaskManager().createTask({ name: `Summarise ${name}`, workflowId: workflow.id });
  }
  const executor = registry.getEnhancedExecutor();
  // 0, 120 and 240 tokens are below 300: three tasks run; the fourth finds 360 spent.
  const first = await executor.executeWorkflow(workflow.id, { agent: writer, maxConcurrent: 1 });
  log(`first run: ${first.status}`); // PAUSED

  await setWorkflowBudget(registry, workflow.id, { tokens: 1_000, onExceeded: 'pause' });
  const second = await executor.executeWorkflow(workflow.id, { agent: writer, maxConcurrent: 1 });
  const { spend } = await getWorkflowSpend(registry, workflow.id, prices);
  log(`after raising the budget: ${second.status}, ${spend.tokens} tokens, $${spend.costUsd}`);
  await registry.stop();
  return {
    firstStatus: first.status,
    finalStatus: second.status,
    calls: model.doGenerateCalls.length,
    spentTokens: spend.tokens,
    spentUsd: spend.costUsd,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
