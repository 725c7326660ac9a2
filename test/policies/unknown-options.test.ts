/**
 * Misspelled or misplaced policy options through the API are refused, as workflow files refuse
 * them (h-policies probes silently-ignored.mjs and validate-api.mjs: `retry: { maxAtempts: 1 }`
 * still made 3 attempts, `circuitBreaker: { failureTreshold: 1 }` was stored with the default,
 * executeTask ran `singleton` and `fallback` as if absent, `catchup: 'all'` was ignored).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ServiceRegistry } from '../../src/index.js';
import { createTestRegistry, succeedingAgent, type TestRegistry } from '../../src/testing/index.js';

let kit: TestRegistry;

afterEach(async () => {
  await kit?.stop();
});

const refused = (text: string) => ({ code: 'INVALID_ARGUMENT', message: expect.stringContaining(text) });

describe('unknown fields of retry, circuitBreaker and scheduler.create are refused', () => {
  it('retry: in the engine options, executeTask, batchExecute, executeWorkflow and enqueueTask', async () => {
    expect(() => new ServiceRegistry({ retry: { maxAtempts: 1 } as never })).toThrow(
      /Unknown field `retry.maxAtempts`/,
    );
    kit = createTestRegistry();
    const { executor, taskManager, workflowTracker } = kit;
    const retry = { maxAtempts: 1 } as never;
    const task = await taskManager.createTask({ name: 't' });
    const agent = succeedingAgent('a');
    await expect(executor.executeTask(task.id, agent, null, { retry })).rejects.toMatchObject(
      refused('`retry.maxAtempts`'),
    );
    await expect(executor.batchExecute([[task.id, agent]], { retry })).rejects.toMatchObject(
      refused('`retry.maxAtempts`'),
    );
    await expect(executor.enqueueTask(task.id, 'a', { retry })).rejects.toMatchObject(
      refused('`retry.maxAtempts`'),
    );
    const workflow = await workflowTracker.createWorkflow({ name: 'w' });
    await workflowTracker.addTaskToWorkflow(workflow.id, task.id);
    await expect(executor.executeWorkflow(workflow.id, { agent, retry })).rejects.toMatchObject(
      refused('`retry.maxAtempts`'),
    );
    expect(await taskManager.getTask(task.id)).toMatchObject({
      status: 'PENDING',
      attempts: 0,
      execution: null,
    });
  });

  it('circuitBreaker: createAgentConfig stores nothing', async () => {
    kit = createTestRegistry();
    kit.agentFactory.registerAgentType('echo', () => succeedingAgent('echo'));
    await expect(
      kit.agentFactory.createAgentConfig({
        name: 'cb',
        type: 'echo',
        circuitBreaker: { failureTreshold: 1 } as never,
      }),
    ).rejects.toMatchObject(refused('`circuitBreaker.failureTreshold`'));
    expect(await kit.agentFactory.listAgentConfigs()).toEqual([]);
  });

  it('scheduler.create stores nothing', async () => {
    kit = createTestRegistry();
    const scheduler = kit.registry.getScheduler();
    const input = {
      id: 'nightly',
      cron: '0 3 * * *',
      catchup: 'all',
      template: { workflow: { name: 'R', tasks: [{ key: 'a' }] }, agentKey: 'writer' },
    };
    await expect(scheduler.create(input as never)).rejects.toMatchObject(refused('`catchup`'));
    expect(await scheduler.list()).toEqual([]);
  });
});

describe('executeTask and batchExecute refuse the options of keyed and routed runs', () => {
  it.each([
    ['singleton', { singleton: { key: 'only-one', mode: 'skip' } }, 'enqueueTask, executeWorkflow'],
    ['debounce', { debounce: { key: 'k', delayMs: 5 } }, 'enqueueTask, executeWorkflow'],
    ['fallback', { fallback: { maxAgents: 1 } }, 'executeWorkflow and enqueueWorkflow'],
  ])('%s, saying which calls take it', async (field, options, calls) => {
    kit = createTestRegistry();
    const task = await kit.taskManager.createTask({ name: 't' });
    const agent = succeedingAgent('a');
    await expect(kit.executor.executeTask(task.id, agent, null, options as never)).rejects.toMatchObject(
      refused(`\`${field}\` is not an option of executeTask: ${calls}`),
    );
    await expect(kit.executor.batchExecute([[task.id, agent]], options as never)).rejects.toMatchObject(
      refused(`\`${field}\` is not an option of batchExecute`),
    );
    expect(await kit.taskManager.getTask(task.id)).toMatchObject({ status: 'PENDING', attempts: 0 });
  });
});
