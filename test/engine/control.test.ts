import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ServiceRegistry } from '../../src/index.js';
import { flushEngine, manualAgent } from '../../src/testing/index.js';

/**
 * Two engines on one SQLite file stand for two processes: one runs a workflow, the other steers
 * it through the store's command channel.
 */
let open: ServiceRegistry[] = [];
afterEach(async () => {
  for (const registry of open) await registry.stop({ graceMs: 0 }).catch(() => {});
  open = [];
});

function engines() {
  const path = join(mkdtempSync(join(tmpdir(), 'symphony-control-')), 'control.db');
  const make = () => {
    const registry = new ServiceRegistry({ store: path, controlPollMs: 60_000, maxConcurrency: 1 });
    open.push(registry);
    return registry;
  };
  return { runner: make(), steerer: make() };
}

async function pollOf(registry: ServiceRegistry): Promise<() => Promise<number>> {
  const runtime = await (
    registry as unknown as { runtime(): Promise<{ control: { poll(): Promise<number> } }> }
  ).runtime();
  return () => runtime.control.poll();
}

describe('control commands across engines', () => {
  it('pauses and resumes a workflow that another engine is running', async () => {
    const { runner, steerer } = engines();
    const workflow = await runner.getWorkflowTracker().createWorkflow({ name: 'steered' });
    const tasks = await Promise.all(
      [1, 2, 3].map((n) => runner.getTaskManager().createTask({ name: `t${n}`, workflowId: workflow.id })),
    );
    const agent = manualAgent('manual');
    const results = runner.getEnhancedExecutor().batchExecute(
      tasks.map((task) => [task.id, agent] as const),
      { workflowId: workflow.id },
    );
    await flushEngine();
    expect(agent.calls).toHaveLength(1);

    await steerer.getWorkflowTracker().pauseWorkflow(workflow.id);
    expect(await (await pollOf(runner))()).toBe(1);
    agent.resolveNext('first');
    await flushEngine();
    // The running attempt finished; the waiting ones do not start while paused.
    expect(agent.calls).toHaveLength(1);
    expect((await runner.getWorkflowTracker().getWorkflow(workflow.id)).status).toBe('PAUSED');

    await steerer.getWorkflowTracker().resumeWorkflow(workflow.id);
    await (
      await pollOf(runner)
    )();
    await flushEngine();
    agent.resolveNext('second');
    await flushEngine();
    agent.resolveNext('third');
    expect((await results).map((result) => result.status)).toEqual(['COMPLETED', 'COMPLETED', 'COMPLETED']);
    expect((await runner.getWorkflowTracker().getWorkflow(workflow.id)).status).toBe('COMPLETED');
  });

  it('cancels a workflow that another engine is running, aborting its running attempt', async () => {
    const { runner, steerer } = engines();
    const workflow = await runner.getWorkflowTracker().createWorkflow({ name: 'cancelled' });
    const task = await runner.getTaskManager().createTask({ name: 'long', workflowId: workflow.id });
    const agent = manualAgent('manual');
    const result = runner.getEnhancedExecutor().executeTask(task.id, agent, workflow.id);
    await flushEngine();
    await steerer.getWorkflowTracker().cancelWorkflow(workflow.id);
    await (
      await pollOf(runner)
    )();
    expect(agent.calls[0]!.context.signal.aborted).toBe(true);
    expect((await result).status).toBe('CANCELLED');
    expect((await runner.getTaskManager().getTask(task.id)).status).toBe('CANCELLED');
  });
});
