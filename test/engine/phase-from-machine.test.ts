import { describe, expect, it } from 'vitest';
import { MemoryStore, ServiceRegistry } from '../../src/index.js';
import type { Execution } from '../../src/engine/execution.js';
import { createTestClock, flushEngine, manualAgent } from '../../src/testing/index.js';
import { runtimeOf } from './queue/kit.js';

// Issue 11: where an execution is comes from its task machine, not from a field of its own. An
// execution is in its agent's queue exactly while its task actor is in PENDING.ready (the state's
// entry and exit actions), and the executor's count of queued work follows.

async function setup() {
  const clock = createTestClock();
  const registry = new ServiceRegistry({ store: new MemoryStore(), clock, controlPollMs: 0 });
  const executor = registry.getEnhancedExecutor();
  const runtime = await runtimeOf(executor);
  const tracker = registry.getWorkflowTracker();
  const workflow = await tracker.createWorkflow({ name: 'w' });
  const tasks = registry.getTaskManager();
  const first = await tasks.createTask({ name: 'first', workflowId: workflow.id });
  const second = await tasks.createTask({ name: 'second', workflowId: workflow.id });
  // One slot: the first runs, the second waits in the queue.
  const agent = manualAgent('one', { maxConcurrency: 1 });
  const results = [first, second].map((task) => executor.executeTask(task.id, agent, workflow.id));
  await flushEngine();
  const exec = runtime.executionOf(second.id)!;
  const where = async () => {
    await flushEngine();
    const { queued } = await executor.getStats();
    const value = exec.actor?.getSnapshot().value ?? null;
    return { phase: runtime.live.phaseOf(exec), queued, value };
  };
  return { registry, runtime, tracker, tasks, workflow, agent, results, exec, where, second };
}

describe('an execution is where its task machine is', () => {
  it('queued exactly while PENDING.ready: pause, resume, hold, unhold and cancel move it in and out', async () => {
    const { registry, tracker, tasks, workflow, agent, results, where, second } = await setup();
    expect(await where()).toEqual({ phase: 'queued', queued: 1, value: { PENDING: 'ready' } });

    await tasks.pauseTask(second.id);
    expect(await where()).toEqual({ phase: 'paused', queued: 0, value: 'PAUSED' });
    await tasks.resumeTask(second.id);
    expect(await where()).toEqual({ phase: 'queued', queued: 1, value: { PENDING: 'ready' } });

    await tracker.pauseWorkflow(workflow.id);
    expect(await where()).toEqual({ phase: 'paused', queued: 0, value: { PENDING: 'held' } });
    // A slot frees while it is held: it does not start.
    agent.resolveNext('one');
    expect((await results[0]!).status).toBe('COMPLETED');
    expect(await where()).toEqual({ phase: 'paused', queued: 0, value: { PENDING: 'held' } });
    await tracker.resumeWorkflow(workflow.id);
    // UNHOLD brings it into PENDING.ready, which queues it, and the free slot takes it.
    expect((await where()).phase).toBe('running');
    expect(agent.calls).toHaveLength(2);

    await tasks.cancelTask(second.id);
    expect((await where()).phase).toBe('done');
    expect((await results[1]!).status).toBe('CANCELLED');
    expect((await registry.getEnhancedExecutor().getStats()).queued).toBe(0);
    await registry.stop();
  });

  it('a queued execution cancelled leaves the queue and the count at once', async () => {
    const { registry, tasks, agent, results, where, second } = await setup();
    await tasks.cancelTask(second.id);
    expect(await where()).toMatchObject({ phase: 'done', queued: 0 });
    agent.resolveNext('one');
    expect((await results[0]!).status).toBe('COMPLETED');
    expect((await results[1]!).status).toBe('CANCELLED');
    // The cancelled one never ran.
    expect(agent.calls).toHaveLength(1);
    await registry.stop();
  });

  it('a reserved batch execution has no task actor until its lane comes', async () => {
    const clock = createTestClock();
    const registry = new ServiceRegistry({ store: new MemoryStore(), clock, controlPollMs: 0 });
    const executor = registry.getEnhancedExecutor();
    const runtime = await runtimeOf(executor);
    const tasks = registry.getTaskManager();
    const ids = [];
    for (let i = 0; i < 3; i += 1) ids.push((await tasks.createTask({ name: `t${i}` })).id);
    const agent = manualAgent('lanes');
    const batch = executor.batchExecute(
      ids.map((id) => [id, agent] as const),
      { maxConcurrent: 1 },
    );
    await flushEngine();
    const execs = ids.map((id) => runtime.executionOf(id)!) as Execution[];
    expect(execs.map((exec) => runtime.live.phaseOf(exec))).toEqual(['running', 'reserved', 'reserved']);
    expect(execs.map((exec) => exec.actor === null)).toEqual([false, true, true]);
    agent.resolveNext(1);
    await flushEngine();
    expect(execs.map((exec) => runtime.live.phaseOf(exec))).toEqual(['done', 'running', 'reserved']);
    agent.resolveNext(2);
    await flushEngine();
    agent.resolveNext(3);
    expect((await batch).map((r) => r.status)).toEqual(['COMPLETED', 'COMPLETED', 'COMPLETED']);
    await registry.stop();
  });
});
