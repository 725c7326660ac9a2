import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStore, ServiceRegistry, type Task } from '../../src/index.js';
import { succeedingAgent } from '../../src/testing/index.js';

// An execution is admitted on rows read from the store. A row read while another execution of the
// same task ran here may be stale (PENDING in the read, COMPLETED since): such a call is refused,
// so no task runs twice. The store's read is held open by the test to make the race certain (on
// PostgreSQL it happened by itself, about once in a few hundred runs).

/** A memory store whose next `getMany` returns the rows as they were when it was called, when the test says. */
function storeWithHeldRead() {
  const store = new MemoryStore();
  let release: () => void = () => {};
  let called: () => void = () => {};
  const readStarted = new Promise<void>((resolve) => (called = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  const getMany = store.tasks.getMany.bind(store.tasks);
  let held = false;
  store.tasks.getMany = async (ids: readonly string[]): Promise<Task[]> => {
    const rows = structuredClone(await getMany(ids));
    if (!held) {
      held = true;
      called();
      await released;
    }
    return rows;
  };
  return { store, readStarted, release };
}

describe('admission of executions', () => {
  let registry: ServiceRegistry | null = null;
  afterEach(async () => {
    await registry?.stop();
    registry = null;
  });

  it('refuses a batch whose rows were read while one of its tasks ran here; the task ran once', async () => {
    const { store, readStarted, release } = storeWithHeldRead();
    registry = new ServiceRegistry({ store, retry: { maxAttempts: 1 }, controlPollMs: 0 });
    const taskManager = registry.getTaskManager();
    const executor = registry.getEnhancedExecutor();
    const first = await taskManager.createTask({ name: 'first' });
    const second = await taskManager.createTask({ name: 'second' });
    const agent = succeedingAgent('a', 'done');

    const batch = executor.batchExecute([
      [first.id, agent],
      [second.id, agent],
    ]);
    await readStarted; // the batch holds rows of both tasks, PENDING
    expect(await executor.executeTask(second.id, agent)).toMatchObject({ status: 'COMPLETED' });
    release();

    await expect(batch).rejects.toMatchObject({ code: 'INVALID_STATE', details: { taskId: second.id } });
    expect(agent.calls.map((call) => call.task.id)).toEqual([second.id]);
    expect(await taskManager.getTask(second.id)).toMatchObject({ status: 'COMPLETED', attempts: 1 });
    expect(await taskManager.getTask(first.id)).toMatchObject({ status: 'PENDING', attempts: 0 });
    // Read again, the first task can run.
    expect(await executor.executeTask(first.id, agent)).toMatchObject({ status: 'COMPLETED' });
  });
});
