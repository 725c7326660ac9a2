/**
 * Budgets (issue 14, Resource management): a workflow's token and cost budget, spent as the store
 * holds its tasks' usage, stops tasks from starting once reached; the next one ends
 * BUDGET_EXCEEDED, not retried, and the workflow fails or pauses by its policy. On every store.
 */
import { MockLanguageModelV3 } from 'ai/test';
import { expect, it } from 'vitest';
import { createAiSdkAgent } from '../../src/ai/index.js';
import {
  getWorkflowSpend,
  setWorkflowBudget,
  type Budget,
  type ServiceRegistry,
  type Store,
} from '../../src/index.js';
import { describeEveryStore, useEngines } from './backends.js';

type GenerateResult = Awaited<ReturnType<MockLanguageModelV3['doGenerate']>>;

/** A mock model answering every call with 12 input and 5 output tokens (17 in all). */
function model(): MockLanguageModelV3 {
  const result: GenerateResult = {
    content: [{ type: 'text', text: 'ok' }],
    finishReason: { unified: 'stop', raw: 'stop' },
    usage: {
      inputTokens: { total: 12, noCache: 12, cacheRead: undefined, cacheWrite: undefined },
      outputTokens: { total: 5, text: 5, reasoning: undefined },
    },
    response: { modelId: 'mock-model-1' },
    warnings: [],
  };
  return new MockLanguageModelV3({ doGenerate: async () => result });
}

/** A workflow of `count` plain tasks with `budget`. */
async function workflowOf(registry: ServiceRegistry, count: number, budget: Budget): Promise<string> {
  const tracker = registry.getWorkflowTracker();
  const workflow = await tracker.createWorkflow({ name: 'budgeted', metadata: { budget } });
  for (let i = 0; i < count; i += 1) {
    await registry.getTaskManager().createTask({ name: `t${i}`, workflowId: workflow.id });
  }
  return workflow.id;
}

const codesOf = async (registry: ServiceRegistry, workflowId: string) =>
  (await registry.getWorkflowTracker().getWorkflowTasks(workflowId)).map((task) => ({
    status: task.status,
    attempts: task.attempts,
    code: task.errors.at(-1)?.code ?? null,
  }));

describeEveryStore('workflow budgets', (backend) => {
  const engine = useEngines();
  const prices = { 'mock-model-1': { inputPerMTok: 1_000, outputPerMTok: 2_000 } };

  function start(store: Store): ServiceRegistry {
    return engine(store, { prices, retry: { maxAttempts: 3, initialDelayMs: 0, maxDelayMs: 0 } });
  }

  it('stops starting tasks once the token budget is spent; the next one ends BUDGET_EXCEEDED, unretried, and the workflow fails', async () => {
    const registry = start(backend().store);
    const model1 = model();
    const agent = createAiSdkAgent({ id: 'writer', model: model1 });
    const workflowId = await workflowOf(registry, 5, { tokens: 40 });
    const result = await registry
      .getEnhancedExecutor()
      .executeWorkflow(workflowId, { agent, maxConcurrent: 1 });
    expect(result.status).toBe('FAILED');
    const tasks = await codesOf(registry, workflowId);
    // 0 < 40, 17 < 40, 34 < 40: three ran; at 51 each later task is refused once, not retried.
    expect(tasks.filter((task) => task.status === 'COMPLETED')).toHaveLength(3);
    const refused = tasks.filter((task) => task.code === 'BUDGET_EXCEEDED');
    const once = { status: 'FAILED', attempts: 1, code: 'BUDGET_EXCEEDED' };
    expect(refused).toEqual([once, once]);
    expect(model1.doGenerateCalls).toHaveLength(3);
    const show = await getWorkflowSpend(registry, workflowId, prices);
    expect(show).toEqual({
      budget: { tokens: 40 },
      spend: { tokens: 51, costUsd: (36 * 1_000 + 15 * 2_000) / 1e6, unpricedTokens: 0 },
      exceeded: true,
    });
  });

  it('counts cost by the price table: a cost budget stops the workflow the same way', async () => {
    const registry = start(backend().store);
    const agent = createAiSdkAgent({ id: 'writer', model: model() });
    // 0.022 dollars a task: 0, 0.022 < 0.05, 0.044 < 0.05, then 0.066 >= 0.05.
    const workflowId = await workflowOf(registry, 4, { costUsd: 0.05 });
    const result = await registry
      .getEnhancedExecutor()
      .executeWorkflow(workflowId, { agent, maxConcurrent: 1 });
    expect(result.status).toBe('FAILED');
    const tasks = await codesOf(registry, workflowId);
    expect(tasks.filter((task) => task.status === 'COMPLETED')).toHaveLength(3);
    expect(tasks.filter((task) => task.code === 'BUDGET_EXCEEDED')).toHaveLength(1);
  });

  it("onExceeded 'pause' pauses the workflow; raising the budget and resuming completes it", async () => {
    const registry = start(backend().store);
    const model1 = model();
    const agent = createAiSdkAgent({ id: 'writer', model: model1 });
    const workflowId = await workflowOf(registry, 5, { tokens: 40, onExceeded: 'pause' });
    const executor = registry.getEnhancedExecutor();
    const first = await executor.executeWorkflow(workflowId, { agent, maxConcurrent: 1 });
    expect(first.status).toBe('PAUSED');
    expect(model1.doGenerateCalls).toHaveLength(3);
    await setWorkflowBudget(registry, workflowId, { tokens: 1_000, onExceeded: 'pause' });
    const second = await executor.executeWorkflow(workflowId, { agent, maxConcurrent: 1 });
    expect(second.status).toBe('COMPLETED');
    expect(model1.doGenerateCalls).toHaveLength(5);
    const tasks = await codesOf(registry, workflowId);
    expect(tasks.every((task) => task.status === 'COMPLETED')).toBe(true);
  });

  it('a workflow without a budget is not limited', async () => {
    const registry = start(backend().store);
    const workflow = await registry.getWorkflowTracker().createWorkflow({ name: 'free' });
    for (let i = 0; i < 4; i += 1) {
      await registry.getTaskManager().createTask({ name: `t${i}`, workflowId: workflow.id });
    }
    const agent = createAiSdkAgent({ id: 'writer', model: model() });
    const result = await registry.getEnhancedExecutor().executeWorkflow(workflow.id, { agent });
    expect(result.status).toBe('COMPLETED');
  });
});

/** Budgets createWorkflow, updateWorkflowMetadata and setWorkflowBudget all refuse. */
const malformed: unknown[] = [
  { tokens: -1 },
  { costUsd: '1' },
  { tokens: 5, onExceeded: 'explode' },
  { tokenz: 5 },
  'lots',
  null,
];

// Regression (h-policies probe bad-budget-crash.mjs): a malformed metadata.budget was stored, and
// running the workflow then never settled while an unhandled INVALID_ARGUMENT killed the process.
describeEveryStore('malformed workflow budgets', (backend) => {
  const engine = useEngines();
  const agent = (calls: string[]) => ({
    id: 'a',
    execute: async (task: { id: string }) => {
      calls.push(task.id);
      return 'ok';
    },
  });

  it('createWorkflow and updateWorkflowMetadata refuse them with INVALID_ARGUMENT, storing nothing', async () => {
    const registry = engine(backend().store);
    const tracker = registry.getWorkflowTracker();
    const kept = await tracker.createWorkflow({ name: 'kept', metadata: { budget: { tokens: 5 } } });
    for (const budget of malformed) {
      await expect(tracker.createWorkflow({ name: 'w', metadata: { budget } })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: expect.stringContaining('metadata.budget'),
      });
      await expect(tracker.updateWorkflowMetadata(kept.id, { budget, note: 1 })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
      await expect(setWorkflowBudget(registry, kept.id, budget as Budget)).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
    }
    expect((await tracker.listWorkflows()).map((workflow) => workflow.id)).toEqual([kept.id]);
    expect((await tracker.getWorkflow(kept.id)).metadata).toEqual({ budget: { tokens: 5 } });
    // A key set to undefined is removed by the merge: that clears the budget.
    const cleared = await tracker.updateWorkflowMetadata(kept.id, { budget: undefined });
    expect(cleared.metadata).toEqual({});
  });

  it('a malformed budget already in the row fails the run with INVALID_ARGUMENT, agent not called', async () => {
    const { store } = backend();
    const writer = engine(store);
    const workflow = await writer.getWorkflowTracker().createWorkflow({ name: 'w' });
    await writer.getTaskManager().createTask({ name: 't', workflowId: workflow.id });
    const row = (await store.workflows.get(workflow.id))!;
    await store.workflows.saveMany([{ ...row, metadata: { budget: { tokens: -1 } } }]);
    const calls: string[] = [];
    const result = await engine(store)
      .getEnhancedExecutor()
      .executeWorkflow(workflow.id, { agent: agent(calls) });
    expect(result.status).toBe('FAILED');
    expect(calls).toEqual([]);
    const [task] = await writer.getWorkflowTracker().getWorkflowTasks(workflow.id);
    expect(task!.errors.at(-1)).toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('metadata.budget.tokens'),
    });
  });
});

// Regression (h-policies probe negative-usage.mjs): one task reporting totalTokens -1e6 lowered the
// spend, so all 30 tasks ran past a 1,000-token budget and getWorkflowSpend reported negative tokens.
describeEveryStore('usage that is negative is not counted', (backend) => {
  const engine = useEngines();

  it('a task reporting negative tokens lowers no spend: the budget still stops the workflow', async () => {
    const registry = engine(backend().store);
    let calls = 0;
    const agent = {
      id: 'llm',
      execute: async (task: { name: string }) => {
        calls += 1;
        const usage =
          task.name === 't0'
            ? { totalTokens: -1e6 }
            : task.name === 't1'
              ? { inputTokens: -500, outputTokens: 100 }
              : { totalTokens: 100 };
        return { usage };
      },
    };
    const workflowId = await workflowOf(registry, 30, { tokens: 1_000 });
    const result = await registry
      .getEnhancedExecutor()
      .executeWorkflow(workflowId, { agent, maxConcurrent: 1 });
    expect(result.status).toBe('FAILED');
    // t0 counts nothing, t1 its 100 output tokens (not the -500 input): t1..t10 spend 1,000, and
    // the next task to start is refused.
    expect(calls).toBe(11);
    const { spend, exceeded } = await getWorkflowSpend(registry, workflowId);
    expect(spend.tokens).toBe(1_000);
    expect(exceeded).toBe(true);
  });
});
