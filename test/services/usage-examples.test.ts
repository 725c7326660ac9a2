import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RoutingStrategy, ServiceRegistry, type Agent } from '../../src/index.js';
import { createTestRegistry, recordingAgent, succeedingAgent } from '../../src/testing/index.js';

// The three usage examples of the execution-layer seed, step by step as written there.

afterEach(async () => {
  await ServiceRegistry.resetInstance();
});

// getInstance() keeps its store under the current directory (.symphony/symphony.db): run it in
// a temporary one, never in the user's checkout.
const home = process.cwd();
const scratch = mkdtempSync(join(tmpdir(), 'symphony-usage-'));
beforeAll(() => process.chdir(scratch));
afterAll(() => {
  process.chdir(home);
  rmSync(scratch, { recursive: true, force: true });
});

describe('seed usage examples', () => {
  it('basic workflow: create a workflow and a task, add it, execute it in the workflow context', async () => {
    const registry = ServiceRegistry.getInstance();
    const workflowTracker = registry.getWorkflowTracker();
    const executor = registry.getEnhancedExecutor();
    const taskManager = registry.getTaskManager();

    const workflow = await workflowTracker.createWorkflow({
      name: 'Example Workflow',
      description: 'A demonstration workflow',
    });
    const task = await taskManager.createTask({
      name: 'Example Task',
      description: 'A task to execute',
      inputData: { query: 'Process this information' },
    });
    await workflowTracker.addTaskToWorkflow(workflow.id, task.id);
    const agent: Agent = {
      id: 'echo',
      execute: async (seen) => ({ echoed: seen.inputData.query }),
    };
    const result = await executor.executeTask(task.id, agent, workflow.id);

    expect(result).toMatchObject({
      taskId: task.id,
      agentId: 'echo',
      workflowId: workflow.id,
      status: 'COMPLETED',
      output: { echoed: 'Process this information' },
      attempts: 1,
      errors: [],
      error: null,
    });
    expect(await taskManager.getTask(task.id)).toMatchObject({
      status: 'COMPLETED',
      outputData: { echoed: 'Process this information' },
      workflowId: workflow.id,
    });
    expect(await workflowTracker.getWorkflowStatus(workflow.id)).toBe('COMPLETED');
    expect((await workflowTracker.getWorkflowTasks(workflow.id)).map((t) => t.id)).toEqual([task.id]);
  });

  it('task routing: CAPABILITY_MATCH picks the config, the factory builds its agent, the executor runs it', async () => {
    // The registry's default strategy is ROUND_ROBIN, so only CAPABILITY_MATCH picks the coder.
    const { registry, taskManager, executor } = createTestRegistry({
      routingStrategy: RoutingStrategy.ROUND_ROBIN,
    });
    const factory = registry.getAgentFactory();
    factory.registerAgentType('writer', () => succeedingAgent('writer-impl', 'prose'));
    factory.registerAgentType('coder', () => succeedingAgent('coder-impl', 'code'));
    await factory.createAgentConfig({ name: 'Writer', type: 'writer', capabilities: ['text'] });
    const coder = await factory.createAgentConfig({ name: 'Coder', type: 'coder', capabilities: ['code'] });
    const task = await taskManager.createTask({ name: 'Fix the bug', tags: ['code'] });

    const router = registry.getTaskRouter(RoutingStrategy.CAPABILITY_MATCH);
    const agentConfigId = await router.routeTask(task);
    const agentFactory = registry.getAgentFactory();
    const agent = await agentFactory.createAgent(agentConfigId);
    const result = await executor.executeTask(task.id, agent);

    expect(agentConfigId).toBe(coder.id);
    expect(await router.getStrategy()).toBe('CAPABILITY_MATCH');
    expect(agent).toMatchObject({ id: coder.id, configId: coder.id, maxConcurrency: 1 });
    expect(result).toMatchObject({ status: 'COMPLETED', output: 'code', agentId: coder.id });
    expect((await taskManager.getTask(task.id)).agentId).toBe(coder.id);
    await registry.stop();
  });

  it('batch execution: five workflow tasks, at most three at once, results in input order', async () => {
    const { registry, taskManager, workflowTracker, executor } = createTestRegistry();
    const workflow = await workflowTracker.createWorkflow({ name: 'Batch' });
    const agent = recordingAgent('batcher', async (task) => {
      for (let i = 0; i < 5; i += 1) await Promise.resolve();
      return { done: task.inputData.query };
    });

    const taskIds: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      const task = await taskManager.createTask({
        name: `Batch Task ${i}`,
        description: `Task ${i} in batch execution`,
        inputData: { query: `Process batch item ${i}` },
      });
      taskIds.push(task.id);
      await workflowTracker.addTaskToWorkflow(workflow.id, task.id);
    }
    const taskAgentPairs = taskIds.map((taskId) => [taskId, agent] as const);
    const results = await executor.batchExecute(taskAgentPairs, {
      workflowId: workflow.id,
      maxConcurrent: 3,
    });

    expect(results.map((r) => r.taskId)).toEqual(taskIds);
    expect(results.map((r) => r.status)).toEqual(Array(5).fill('COMPLETED'));
    expect(results.map((r) => r.output)).toEqual(
      taskIds.map((_, i) => ({ done: `Process batch item ${i}` })),
    );
    expect(agent.maxInFlight).toBe(3);
    expect(await workflowTracker.getWorkflowStatus(workflow.id)).toBe('COMPLETED');
    await registry.stop();
  });
});
