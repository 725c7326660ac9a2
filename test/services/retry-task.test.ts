import { expect, it } from 'vitest';
import { failingAgent } from '../../src/testing/index.js';
import { describeEveryStore } from '../durability/backends.js';
import { useStoreKit } from '../support/store-kit.js';
import { stepUntilSettled } from '../support/wait.js';

describeEveryStore('taskManager.retryTask', (backend) => {
  const tests = useStoreKit(backend);

  /** Moves simulated time on, a second at a time, until `promise` settles. */
  async function drive<T>(promise: Promise<T>): Promise<T> {
    return stepUntilSettled('the execution to settle', promise, () => tests.advance(tests.kit.clock, 1_000));
  }

  it('runs a FAILED task again; history is kept and the workflow follows to COMPLETED', async () => {
    const { taskManager, workflowTracker, executor } = tests.setup({ retry: { maxAttempts: 2 } });
    const workflow = await workflowTracker.createWorkflow({ name: 'w' });
    const task = await taskManager.createTask({ name: 't', workflowId: workflow.id });
    // Fails its first three attempts: two in the first execution, one more after the retry.
    const agent = failingAgent('flaky', 3, 'finally');
    const first = await drive(executor.executeTask(task.id, agent, workflow.id));
    expect(first).toMatchObject({ status: 'FAILED', attempts: 2 });
    expect(await workflowTracker.getWorkflowStatus(workflow.id)).toBe('FAILED');

    const retried = await taskManager.retryTask(task.id);
    expect(retried).toMatchObject({ status: 'PENDING', attempts: 2, finishedAt: null, execution: null });
    expect(retried.errors).toHaveLength(2);
    expect(await workflowTracker.getWorkflowStatus(workflow.id)).toBe('RUNNING');

    const second = await drive(executor.executeTask(task.id, agent, workflow.id));
    expect(second).toMatchObject({ status: 'COMPLETED', attempts: 4, output: 'finally' });
    expect(second.errors.map((error) => error.attempt)).toEqual([1, 2, 3]);
    expect(await workflowTracker.getWorkflowStatus(workflow.id)).toBe('COMPLETED');
  });

  it('refuses tasks that did not fail, with INVALID_STATE', async () => {
    const { taskManager } = tests.setup();
    const task = await taskManager.createTask({ name: 'fresh' });
    await expect(taskManager.retryTask(task.id)).rejects.toMatchObject({ code: 'INVALID_STATE' });
    await expect(taskManager.retryTask('missing')).rejects.toMatchObject({ code: 'TASK_NOT_FOUND' });
  });
});
