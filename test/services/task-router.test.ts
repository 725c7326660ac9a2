import { describe, expect, it } from 'vitest';
import { NoAgentAvailableError, RoutingStrategy, type AgentConfig } from '../../src/index.js';
import { flushEngine, manualAgent, succeedingAgent } from '../../src/testing/index.js';
import { useTestKit } from '../support/kit.js';

const tests = useTestKit((k) => {
  k.agentFactory.registerAgentType('echo', (config) => succeedingAgent(`impl-${config.id}`, config.name));
});
const { setup } = tests;

async function configs(
  ...inputs: Array<{ name: string; capabilities?: string[]; description?: string; maxConcurrency?: number }>
): Promise<AgentConfig[]> {
  const made: AgentConfig[] = [];
  for (const input of inputs)
    made.push(await tests.kit.agentFactory.createAgentConfig({ type: 'echo', ...input }));
  return made;
}

describe('task router through the service', () => {
  it('switches strategy at run time with setStrategy; ROUND_ROBIN then visits every agent in turn', async () => {
    const { router, taskManager } = setup();
    const [a, b, c] = await configs({ name: 'A' }, { name: 'B' }, { name: 'C' });
    const task = await taskManager.createTask({ name: 't' });
    expect(await router.getStrategy()).toBe('CAPABILITY_MATCH');

    await router.setStrategy(RoutingStrategy.ROUND_ROBIN);
    expect(await router.getStrategy()).toBe('ROUND_ROBIN');
    const picks: string[] = [];
    for (let i = 0; i < 6; i += 1) picks.push(await router.routeTask(task));
    expect(picks).toEqual([a!.id, b!.id, c!.id, a!.id, b!.id, c!.id]);
  });

  it('a per-call strategy applies to that call only', async () => {
    const { router, taskManager } = setup();
    const [, coder] = await configs(
      { name: 'Writer', capabilities: ['text'] },
      { name: 'Coder', capabilities: ['code'] },
    );
    const task = await taskManager.createTask({ name: 't', tags: ['code'] });
    await router.setStrategy('ROUND_ROBIN');
    expect(await router.routeTask(task.id, { strategy: 'CAPABILITY_MATCH' })).toBe(coder!.id);
    expect(await router.getStrategy()).toBe('ROUND_ROBIN');
  });

  it('the registry option routingStrategy sets the starting strategy', async () => {
    const { router } = setup({ routingStrategy: 'LOAD_BALANCED' });
    expect(await router.getStrategy()).toBe('LOAD_BALANCED');
  });

  it('LOAD_BALANCED prefers the agent with fewer executions in flight, from the live load', async () => {
    const { router, taskManager, executor, agentFactory } = setup({ routingStrategy: 'LOAD_BALANCED' });
    const [a, b] = await configs({ name: 'A', maxConcurrency: 5 }, { name: 'B', maxConcurrency: 5 });
    const busy = manualAgent('busy', { configId: a!.id });
    const running = await taskManager.createTask({ name: 'running' });
    const pending = executor.executeTask(running.id, busy);
    await flushEngine();
    expect((await router.getLoad()).get(a!.id)).toMatchObject({ inFlight: 1 });

    const task = await taskManager.createTask({ name: 't' });
    expect(await router.routeTask(task)).toBe(b!.id);
    busy.resolveNext('done');
    await pending;
    expect((await router.getLoad()).get(a!.id)).toMatchObject({ inFlight: 0, completed: 1 });
    expect(await router.routeTask(task)).toBe(a!.id);
    expect((await agentFactory.createAgent(a!.id)).maxConcurrency).toBe(5);
  });

  it('queueWhenBusy routes to a config at its maxConcurrency (to wait in its queue), free ones first', async () => {
    const { router, taskManager, executor } = setup({ routingStrategy: 'LOAD_BALANCED' });
    const [a, b] = await configs({ name: 'A', maxConcurrency: 1 }, { name: 'B', maxConcurrency: 1 });
    const busy = manualAgent('busy', { configId: a!.id });
    const running = await taskManager.createTask({ name: 'running' });
    const pending = executor.executeTask(running.id, busy);
    await flushEngine();
    const task = await taskManager.createTask({ name: 't' });
    // Without it a busy config is skipped; with it, a free one still comes first.
    await expect(router.routeTask(task, { candidates: [a!.id] })).rejects.toMatchObject({
      code: 'NO_AGENT_AVAILABLE',
      details: expect.objectContaining({ reason: 'all-at-limit' }),
    });
    expect(await router.routeTask(task, { candidates: [a!.id], queueWhenBusy: true })).toBe(a!.id);
    expect(await router.routeTask(task, { queueWhenBusy: true })).toBe(b!.id);
    await expect(router.routeTask(task, { queueWhenBusy: 'yes' as never })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('queueWhenBusy'),
    });
    busy.resolveNext('done');
    await pending;
  });

  it('CONTENT_MATCH picks the agent whose description matches the query', async () => {
    const { router, taskManager } = setup();
    const [, translator] = await configs(
      { name: 'Summarizer', description: 'summarize long documents' },
      { name: 'Translator', description: 'translate text between languages' },
    );
    const task = await taskManager.createTask({
      name: 'job',
      inputData: { query: 'translate this into French' },
    });
    expect(await router.routeTask(task, { strategy: 'CONTENT_MATCH' })).toBe(translator!.id);
  });

  it('CUSTOM calls the given function with the task and the candidates', async () => {
    const { router, taskManager } = setup();
    const [, second] = await configs({ name: 'A' }, { name: 'B' });
    const seen: string[][] = [];
    await router.setStrategy('CUSTOM', (_task, candidates) => {
      seen.push(candidates.map((c) => c.name));
      return candidates[candidates.length - 1];
    });
    const task = await taskManager.createTask({ name: 't' });
    expect(await router.routeTask(task)).toBe(second!.id);
    expect(seen).toEqual([['A', 'B']]);
  });

  it('no agent: NoAgentAvailableError with code NO_AGENT_AVAILABLE, for every strategy', async () => {
    const { router, taskManager } = setup();
    const task = await taskManager.createTask({ name: 't', tags: ['code'] });
    for (const strategy of ['ROUND_ROBIN', 'CAPABILITY_MATCH', 'CONTENT_MATCH', 'LOAD_BALANCED'] as const) {
      const error = await router.routeTask(task, { strategy }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NoAgentAvailableError);
      expect(error).toMatchObject({ code: 'NO_AGENT_AVAILABLE', retryable: true });
    }
    await configs({ name: 'Writer', capabilities: ['text'] });
    await expect(router.routeTask(task, { strategy: 'CAPABILITY_MATCH' })).rejects.toMatchObject({
      code: 'NO_AGENT_AVAILABLE',
      details: expect.objectContaining({ reason: 'missing-capabilities' }),
    });
  });

  it('candidates limits the pick to the given config ids', async () => {
    const { router, taskManager } = setup({ routingStrategy: 'ROUND_ROBIN' });
    const [, b] = await configs({ name: 'A' }, { name: 'B' });
    const task = await taskManager.createTask({ name: 't' });
    expect(await router.routeTask(task, { candidates: [b!.id] })).toBe(b!.id);
    await expect(router.routeTask(task, { candidates: [] })).rejects.toMatchObject({
      code: 'NO_AGENT_AVAILABLE',
    });
  });

  it('rejects an unknown strategy and an unknown task with typed errors', async () => {
    const { router } = setup();
    await expect(router.setStrategy('FASTEST' as RoutingStrategy)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('FASTEST'),
    });
    await expect(router.routeTask('missing')).rejects.toMatchObject({ code: 'TASK_NOT_FOUND' });
    expect(await router.getStrategy()).toBe('CAPABILITY_MATCH');
  });
});

describe('agent factory', () => {
  it('builds agents from configs; unknown configs and types are typed errors', async () => {
    const { agentFactory, executor, taskManager } = setup();
    const [config] = await configs({ name: 'Echo', maxConcurrency: 3 });
    const agent = await agentFactory.createAgent(config!.id);
    expect(agent).toMatchObject({ id: config!.id, configId: config!.id, maxConcurrency: 3 });
    const task = await taskManager.createTask({ name: 't' });
    expect(await executor.executeTask(task.id, agent)).toMatchObject({ status: 'COMPLETED', output: 'Echo' });

    await expect(agentFactory.createAgent('missing')).rejects.toMatchObject({
      code: 'AGENT_CONFIG_NOT_FOUND',
    });
    const orphan = await agentFactory.createAgentConfig({ name: 'Orphan', type: 'unregistered' });
    await expect(agentFactory.createAgent(orphan.id)).rejects.toMatchObject({ code: 'AGENT_TYPE_NOT_FOUND' });
    await expect(
      agentFactory.createAgentConfig({ name: 'Bad', type: 'echo', maxConcurrency: 0 }),
    ).rejects.toThrow(/`maxConcurrency`/);
  });
});
