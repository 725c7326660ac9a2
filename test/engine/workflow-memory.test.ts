import { describe, expect, it } from 'vitest';
import { createTestRegistry, flushEngine, manualAgent, succeedingAgent } from '../../src/testing/index.js';

interface RuntimeView {
  workflows: { peek(id: string): unknown };
  hasLive(id: string): boolean;
}

async function runtimeOf(registry: object): Promise<RuntimeView> {
  return (registry as { runtime(): Promise<RuntimeView> }).runtime();
}

describe('workflows in memory', () => {
  it('keeps a workflow actor only while the engine works on it, and reads it back when asked', async () => {
    const { registry } = createTestRegistry();
    const tracker = registry.getWorkflowTracker();
    const workflow = await tracker.createWorkflow({ name: 'short' });
    const tasks = await Promise.all(
      [1, 2].map((n) => registry.getTaskManager().createTask({ name: `t${n}`, workflowId: workflow.id })),
    );
    const agent = manualAgent('manual');
    const batch = registry.getEnhancedExecutor().batchExecute(
      tasks.map((task) => [task.id, agent] as const),
      { workflowId: workflow.id },
    );
    await flushEngine();
    const runtime = await runtimeOf(registry);
    expect(runtime.hasLive(workflow.id)).toBe(true);
    expect(runtime.workflows.peek(workflow.id)).toBeDefined();

    agent.resolveNext('one');
    agent.resolveNext('two');
    await batch;
    await flushEngine();
    expect(runtime.hasLive(workflow.id)).toBe(false);
    expect(runtime.workflows.peek(workflow.id)).toBeUndefined();
    // Asked again, it comes back from the store as it was left.
    expect((await tracker.getWorkflow(workflow.id)).status).toBe('COMPLETED');

    // And it can be worked on again.
    const more = await registry.getTaskManager().createTask({ name: 't3', workflowId: workflow.id });
    const result = await registry.getEnhancedExecutor().executeTask(more.id, succeedingAgent('s', 'ok'));
    expect(result.status).toBe('COMPLETED');
    expect((await tracker.getWorkflow(workflow.id)).status).toBe('COMPLETED');
    await registry.stop();
  });
});
