import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStore, ServiceRegistry, type StoreBatch } from '../../src/index.js';
import { createTestClock, flushEngine, manualAgent } from '../../src/testing/index.js';

// addTaskToWorkflow reads the task's row and TaskDoor.join stages it whole. Right after an
// execution of the task ended here (forgotten, its COMPLETED row in the commit in flight), the store
// still has the RUNNING row: the read must wait for this engine's writes of the task, or the stale
// row would overwrite COMPLETED in the next commit (found by review; failed before the fix).

/** A memory store whose first commit holding `taskId` COMPLETED waits until the test releases it. */
function storeHoldingCompletion() {
  const store = new MemoryStore();
  let taskId = '';
  let release: () => void = () => {};
  let held: () => void = () => {};
  const released = new Promise<void>((resolve) => (release = resolve));
  const commitHeld = new Promise<void>((resolve) => (held = resolve));
  const commit = store.commit.bind(store);
  let holding = false;
  store.commit = async (batch: StoreBatch) => {
    const copy = structuredClone(batch); // rows are live objects: copy before the first await
    const rows = [...(copy.tasks ?? []), ...(copy.taskStates ?? [])];
    if (!holding && rows.some((row) => row.id === taskId && row.status === 'COMPLETED')) {
      holding = true;
      held();
      await released;
    }
    return commit(copy);
  };
  return { store, watch: (id: string) => (taskId = id), commitHeld, release };
}

describe('addTaskToWorkflow right after an execution of the task ended', () => {
  let registry: ServiceRegistry | null = null;
  afterEach(async () => {
    await registry?.stop({ graceMs: 0 });
    registry = null;
  });

  it('keeps the task COMPLETED with its output', async () => {
    const { store, watch, commitHeld, release } = storeHoldingCompletion();
    registry = new ServiceRegistry({
      store,
      clock: createTestClock(),
      retry: { maxAttempts: 1 },
      controlPollMs: 0,
    });
    const taskManager = registry.getTaskManager();
    const workflowTracker = registry.getWorkflowTracker();
    const executor = registry.getEnhancedExecutor();
    const task = await taskManager.createTask({ name: 't' });
    const workflow = await workflowTracker.createWorkflow({ name: 'w' });
    watch(task.id);
    const agent = manualAgent('a');
    const done = executor.executeTask(task.id, agent);
    await flushEngine();
    agent.resolveNext({ answer: 42 });
    await commitHeld; // the COMPLETED row is in the commit in flight; the execution is forgotten

    const joining = workflowTracker.addTaskToWorkflow(workflow.id, task.id);
    // Without the wait, addTaskToWorkflow reads the row the store still has (RUNNING) here.
    await flushEngine();
    release();
    await joining;
    expect((await done).status).toBe('COMPLETED');
    await flushEngine();

    const row = await taskManager.getTask(task.id);
    expect(row).toMatchObject({ status: 'COMPLETED', outputData: { answer: 42 }, workflowId: workflow.id });
    expect((await workflowTracker.getWorkflow(workflow.id)).status).toBe('COMPLETED');
  });
});
