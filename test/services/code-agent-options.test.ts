/**
 * An agent defined in code has its `rateLimits`, `quota` and `circuitBreaker` checked as
 * createAgentConfig checks a config's, before anything is registered (h-policies probes
 * code-agent-ratelimits.mjs and code-agent-quota.mjs: such agents hung, spun 0 ms timers, threw a
 * raw TypeError or ran unlimited).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Agent } from '../../src/index.js';
import { createTestRegistry, succeedingAgent, type TestRegistry } from '../../src/testing/index.js';

let kit: TestRegistry;

afterEach(async () => {
  await kit?.stop();
});

const bad: Array<[string, Partial<Agent> | Record<string, unknown>, string]> = [
  ['rateLimits requests 0', { rateLimits: [{ requests: 0, per: 100 }] }, 'agent.rateLimits[0].requests'],
  ['rateLimits requests 0.5', { rateLimits: [{ requests: 0.5, per: 100 }] }, 'agent.rateLimits[0].requests'],
  ['rateLimits per 0', { rateLimits: [{ requests: 1, per: 0 }] }, 'agent.rateLimits[0].per'],
  ['rateLimits requests NaN', { rateLimits: [{ requests: Number.NaN, per: 100 }] }, 'agent.rateLimits[0]'],
  ['rateLimits misspelled', { rateLimits: [{ reqests: 1, per: 100 }] }, 'agent.rateLimits[0].reqests'],
  ['rateLimits not an array', { rateLimits: { requests: 1, per: 100 } }, 'agent.rateLimits'],
  ['rateLimits [null]', { rateLimits: [null] }, 'agent.rateLimits[0]'],
  ['quota tokens "5"', { quota: { tokens: '5' } }, 'agent.quota.tokens'],
  ['quota a string', { quota: 'lots' }, 'agent.quota'],
  ['quota misspelled', { quota: { tokenz: 1 } }, 'agent.quota'],
  [
    'circuitBreaker misspelled',
    { circuitBreaker: { failureTreshold: 1 } },
    'agent.circuitBreaker.failureTreshold',
  ],
];

describe('agents defined in code: rateLimits, quota and circuitBreaker are checked', () => {
  it.each(bad)(
    '%s: executeTask, batchExecute and executeWorkflow refuse it, registering nothing',
    async (_label, fields, named) => {
      kit = createTestRegistry();
      const { executor, taskManager, workflowTracker } = kit;
      const agent = { ...succeedingAgent('coded'), ...fields } as Agent;
      const refused = { code: 'INVALID_ARGUMENT', message: expect.stringContaining(`\`${named}`) };
      const task = await taskManager.createTask({ name: 't' });
      await expect(executor.executeTask(task.id, agent)).rejects.toMatchObject(refused);
      await expect(executor.batchExecute([[task.id, agent]])).rejects.toMatchObject(refused);
      const workflow = await workflowTracker.createWorkflow({ name: 'w' });
      await workflowTracker.addTaskToWorkflow(workflow.id, task.id);
      await expect(executor.executeWorkflow(workflow.id, { agent })).rejects.toMatchObject(refused);
      expect(await executor.getStats()).toMatchObject({ queued: 0, inFlight: 0 });
      expect(await taskManager.getTask(task.id)).toMatchObject({ status: 'PENDING', attempts: 0 });
      // Nothing is left registered: stopping the engine settles cleanly.
      await expect(kit.registry.stop({ graceMs: 0 })).resolves.toBeUndefined();
    },
  );

  it('a worker refuses such an agent in its `agents` option, naming it', async () => {
    kit = createTestRegistry();
    const agent = { ...succeedingAgent('coded'), rateLimits: [{ requests: 1, per: 0 }] } as Agent;
    await expect(kit.registry.startWorker({ agents: [agent] })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('`agents[0].rateLimits[0].per`'),
    });
  });

  it('a valid agent with rateLimits and quota still runs', async () => {
    kit = createTestRegistry();
    const agent: Agent = {
      ...succeedingAgent('coded'),
      rateLimits: [{ requests: 5, per: 1_000 }],
      quota: { tokens: 100 },
      circuitBreaker: { failureThreshold: 2, windowMs: 1_000, cooldownMs: 1_000, halfOpenProbes: 1 },
    };
    const task = await kit.taskManager.createTask({ name: 't' });
    expect((await kit.executor.executeTask(task.id, agent)).status).toBe('COMPLETED');
  });
});
