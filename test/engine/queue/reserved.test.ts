import { describe, expect, it } from 'vitest';
import { MemoryStore, ServiceRegistry } from '../../../src/index.js';
import { createTestClock, flushEngine, manualAgent } from '../../../src/testing/index.js';
import { expectConsistent, runtimeOf } from './kit.js';

// A batch's executions wait reserved (live, no task actor) until their lane comes; what happens
// to them meanwhile must be what their task actor starts from.

async function batchOf(count: number) {
  const clock = createTestClock(1_000_000);
  const registry = new ServiceRegistry({ store: new MemoryStore(), clock, controlPollMs: 0 });
  const executor = registry.getEnhancedExecutor();
  const runtime = await runtimeOf(executor);
  const tasks = registry.getTaskManager();
  const tracker = registry.getWorkflowTracker();
  const workflow = await tracker.createWorkflow({ name: 'w' });
  const ids: string[] = [];
  for (let i = 0; i < count; i += 1)
    ids.push((await tasks.createTask({ name: `t${i}`, workflowId: workflow.id })).id);
  const agent = manualAgent('lanes');
  const abort = new AbortController();
  const batch = executor.batchExecute(
    ids.map((id) => [id, agent] as const),
    { maxConcurrent: 1, workflowId: workflow.id, signal: abort.signal },
  );
  batch.catch(() => {});
  await flushEngine();
  const execs = ids.map((id) => runtime.executionOf(id)!);
  const phases = () => execs.map((exec) => runtime.live.phaseOf(exec));
  return { registry, runtime, tasks, tracker, workflow, ids, agent, batch, execs, phases, abort };
}

describe('review: reserved executions', () => {
  it('paused while reserved: its lane creates the actor PAUSED (not queued); resumed, it runs', async () => {
    const { registry, runtime, tasks, ids, agent, batch, phases } = await batchOf(3);
    expect(phases()).toEqual(['running', 'reserved', 'reserved']);
    await tasks.pauseTask(ids[1]!);
    expect(phases()).toEqual(['running', 'reserved', 'reserved']);
    agent.resolveNext(0);
    await flushEngine();
    expect(phases()).toEqual(['done', 'paused', 'reserved']);
    await expectConsistent(runtime);
    // The lane waits for its paused execution (one at a time), so the third stays reserved.
    await tasks.resumeTask(ids[1]!);
    expect(phases()).toEqual(['done', 'running', 'reserved']);
    agent.resolveNext(1);
    await flushEngine();
    agent.resolveNext(2);
    expect((await batch).map((r) => r.status)).toEqual(['COMPLETED', 'COMPLETED', 'COMPLETED']);
    await expectConsistent(runtime);
    await registry.stop();
  });

  it('its workflow paused and resumed while reserved: the lane creates the actor as the workflow then is', async () => {
    const { registry, runtime, tracker, workflow, agent, batch, phases } = await batchOf(3);
    await tracker.pauseWorkflow(workflow.id);
    agent.resolveNext(0);
    await flushEngine();
    // Held: it waits in PENDING.held, not in the queue.
    expect(phases()).toEqual(['done', 'paused', 'reserved']);
    await expectConsistent(runtime);
    await tracker.resumeWorkflow(workflow.id);
    expect(phases()).toEqual(['done', 'running', 'reserved']);
    agent.resolveNext(1);
    await flushEngine();
    agent.resolveNext(2);
    expect((await batch).map((r) => r.status)).toEqual(['COMPLETED', 'COMPLETED', 'COMPLETED']);
    await registry.stop();
  });

  it('cancelled while reserved, and the caller aborting while reserved: the lane moves on', async () => {
    const { registry, runtime, tasks, ids, agent, batch, phases, abort } = await batchOf(4);
    await tasks.cancelTask(ids[1]!);
    expect(phases()).toEqual(['running', 'done', 'reserved', 'reserved']);
    agent.resolveNext(0);
    await flushEngine();
    expect(phases()).toEqual(['done', 'done', 'running', 'reserved']);
    abort.abort();
    await flushEngine();
    const results = await batch;
    expect(results.map((r) => r.status)).toEqual(['COMPLETED', 'CANCELLED', 'CANCELLED', 'CANCELLED']);
    expect(agent.calls).toHaveLength(2);
    await expectConsistent(runtime);
    expect(runtime.live.all()).toHaveLength(0);
    await registry.stop();
  });
});
