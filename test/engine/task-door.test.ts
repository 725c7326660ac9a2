import { expect, it } from 'vitest';
import { taskMachine } from '../../machines/task.machine.js';
import { getInitialSnapshot } from 'xstate';
import type { Agent, ServiceRegistry, Task } from '../../src/index.js';
import { flushEngine } from '../../src/testing/index.js';
import { describeEveryStore, useEngines } from '../durability/backends.js';

// The task door (src/engine/task-door.ts): every status change goes through the task machine,
// and the row is written from the state it reaches. Run on every store.

const echo: Agent = { id: 'echo', execute: async (task) => ({ echoed: task.name }) };

/** The fields a run leaves behind, which an ended task must not keep. */
const runFields = (task: Task) => ({
  execution: task.execution,
  leaseOwner: task.leaseOwner,
  leaseExpiresAt: task.leaseExpiresAt,
  runAfter: task.runAfter,
});

/** The services of an engine, by the names the design document gives them. */
function services(registry: ServiceRegistry) {
  return {
    taskManager: registry.getTaskManager(),
    workflowTracker: registry.getWorkflowTracker(),
    executor: registry.getEnhancedExecutor(),
  };
}

/** The task as stored once a batch has reserved it (its plan recorded); reads until then. */
async function reserved(registry: ServiceRegistry, id: string) {
  for (let reads = 0; reads < 1_000; reads += 1) {
    const task = await registry.getTaskManager().getTask(id);
    if (task.execution !== null) return task;
    await flushEngine();
  }
  throw new Error(`Task ${id} was never reserved`);
}

describeEveryStore('task door', (backend) => {
  const engine = useEngines();

  it('a new task starts in the task machine initial state', async () => {
    const registry = engine(backend().store);
    const { taskManager } = services(registry);
    const task = await taskManager.createTask({ name: 't' });
    const initial = getInitialSnapshot(taskMachine, {}).value as Record<string, string>;
    expect(task.status).toBe(Object.keys(initial)[0]);
    expect((await taskManager.getTask(task.id)).status).toBe('PENDING');
  });

  it('RETRY gives a CANCELLED task a new run, which then completes; the workflow follows', async () => {
    const registry = engine(backend().store);
    const { taskManager, workflowTracker, executor } = services(registry);
    const workflow = await workflowTracker.createWorkflow({ name: 'w' });
    const task = await taskManager.createTask({ name: 't', workflowId: workflow.id });
    const cancelled = await taskManager.cancelTask(task.id);
    expect(cancelled.status).toBe('CANCELLED');
    expect(cancelled.finishedAt).not.toBeNull();
    expect(await workflowTracker.getWorkflowStatus(workflow.id)).toBe('CANCELLED');

    const retried = await taskManager.retryTask(task.id);
    expect(retried).toMatchObject({ status: 'PENDING', finishedAt: null, execution: null, leaseOwner: null });
    expect(await workflowTracker.getWorkflowStatus(workflow.id)).toBe('PENDING');
    const result = await executor.executeTask(task.id, echo, workflow.id);
    expect(result).toMatchObject({ status: 'COMPLETED', output: { echoed: 't' }, attempts: 1 });
    expect(await workflowTracker.getWorkflowStatus(workflow.id)).toBe('COMPLETED');
  });

  it('refused events throw INVALID_STATE and leave the stored row as it was', async () => {
    const registry = engine(backend().store);
    const { taskManager, executor } = services(registry);
    const task = await taskManager.createTask({ name: 't' });
    await executor.executeTask(task.id, echo);
    const done = await taskManager.getTask(task.id);
    for (const refused of [
      () => taskManager.retryTask(task.id),
      () => taskManager.cancelTask(task.id),
      () => taskManager.pauseTask(task.id),
      () => taskManager.resumeTask(task.id),
    ]) {
      await expect(refused()).rejects.toMatchObject({
        code: 'INVALID_STATE',
        details: { status: 'COMPLETED' },
      });
    }
    expect(await taskManager.getTask(task.id)).toEqual(done);
    const pending = await taskManager.createTask({ name: 'p' });
    await expect(taskManager.resumeTask(pending.id)).rejects.toMatchObject({
      code: 'INVALID_STATE',
      details: { status: 'PENDING', event: 'RESUME' },
    });
    await expect(taskManager.retryTask(pending.id)).rejects.toMatchObject({ code: 'INVALID_STATE' });
    expect(await taskManager.getTask(pending.id)).toEqual(pending);
  });

  it('one cancel path: a task cancelled alone and one cancelled with its workflow end alike', async () => {
    const registry = engine(backend().store);
    const { taskManager, workflowTracker, executor } = services(registry);
    const workflow = await workflowTracker.createWorkflow({ name: 'w' });
    const alone = await taskManager.createTask({ name: 'alone', workflowId: workflow.id });
    const withWorkflow = await taskManager.createTask({ name: 'with', workflowId: workflow.id });
    // Both held by a paused batch, so each row carries a plan and this engine's name.
    await taskManager.pauseTask(alone.id);
    await taskManager.pauseTask(withWorkflow.id);
    const batch = executor.batchExecute(
      [
        [alone.id, echo],
        [withWorkflow.id, echo],
      ],
      { workflowId: workflow.id },
    );
    await reserved(registry, alone.id);
    expect((await reserved(registry, withWorkflow.id)).leaseOwner).not.toBeNull();
    await taskManager.cancelTask(alone.id);
    await workflowTracker.cancelWorkflow(workflow.id);
    const results = await batch;
    expect(results.map((result) => result.status)).toEqual(['CANCELLED', 'CANCELLED']);
    const rows = [await taskManager.getTask(alone.id), await taskManager.getTask(withWorkflow.id)];
    for (const row of rows) {
      expect(row.status).toBe('CANCELLED');
      expect(row.finishedAt).not.toBeNull();
      expect(runFields(row)).toEqual({
        execution: null,
        leaseOwner: null,
        leaseExpiresAt: null,
        runAfter: null,
      });
    }
  });

  it('a stored task no engine holds is cancelled with the same bookkeeping as a live one', async () => {
    const { store, reopen } = backend();
    const first = engine(store);
    const task = await services(first).taskManager.createTask({ name: 't' });
    await services(first).taskManager.pauseTask(task.id);
    // A batch records its plan, then the engine stops: the row keeps the plan, no engine holds it.
    const batch = services(first)
      .executor.batchExecute([[task.id, echo]])
      .catch((error: unknown) => error);
    expect((await reserved(first, task.id)).status).toBe('PAUSED');
    await first.stop();
    expect(await batch).toMatchObject({ code: 'ENGINE_STOPPED' });
    const second = engine(reopen());
    const cancelled = await services(second).taskManager.cancelTask(task.id);
    expect(cancelled.status).toBe('CANCELLED');
    expect(runFields(cancelled)).toEqual({
      execution: null,
      leaseOwner: null,
      leaseExpiresAt: null,
      runAfter: null,
    });
  });
});
