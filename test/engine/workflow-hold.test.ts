import { describe, expect, it } from 'vitest';
import type { InspectionEvent } from 'xstate';
import { MemoryStore, ServiceRegistry } from '../../src/index.js';
import { createTestClock, failingAgent, flushEngine } from '../../src/testing/index.js';

// Issue 11: a workflow's pause reaches its live task actors (HOLD). A task waiting for a retry
// when its workflow is paused does not start when the retry comes due: its task machine holds it
// in PENDING.held (status PENDING) until the workflow is resumed (UNHOLD).

describe('pausing a workflow holds its live tasks in their machines', () => {
  it('a retry that comes due while the workflow is paused waits in PENDING.held until resume', async () => {
    const store = new MemoryStore();
    const clock = createTestClock();
    const events: InspectionEvent[] = [];
    const registry = new ServiceRegistry({
      store,
      clock,
      random: () => 0.5,
      retry: { maxAttempts: 3, initialDelayMs: 1_000, jitter: 0 },
      controlPollMs: 0,
      inspect: (event) => events.push(event),
    });
    const workflowTracker = registry.getWorkflowTracker();
    const workflow = await workflowTracker.createWorkflow({ name: 'w' });
    const task = await registry.getTaskManager().createTask({ name: 't', workflowId: workflow.id });
    const agent = failingAgent('flaky', 1, 'done');
    const result = registry.getEnhancedExecutor().executeTask(task.id, agent, workflow.id);
    await flushEngine();
    expect(agent.calls).toHaveLength(1); // failed once, now waiting 1 s for its retry

    await workflowTracker.pauseWorkflow(workflow.id);
    const held = events.filter(
      (e) => e.type === '@xstate.event' && e.event.type === 'HOLD' && e.sourceRef !== undefined,
    );
    // runtime -> engine -> the task actor
    expect(held.map((e) => (e.actorRef as { id?: string }).id)).toEqual(['engine', `task:${task.id}`]);

    clock.increment(5_000);
    await flushEngine(10);
    expect(agent.calls).toHaveLength(1);
    const states = events
      .filter(
        (e) => e.type === '@xstate.snapshot' && (e.actorRef as { id?: string }).id === `task:${task.id}`,
      )
      .map((e) => (e as unknown as { snapshot: { value: unknown } }).snapshot.value);
    expect(states.at(-1)).toEqual({ PENDING: 'held' });
    expect(await store.tasks.get(task.id)).toMatchObject({ status: 'PENDING', attempts: 1 });

    await workflowTracker.resumeWorkflow(workflow.id);
    expect((await result).status).toBe('COMPLETED');
    expect(agent.calls).toHaveLength(2);
    await registry.stop();
  });
});
