import { describe, expect, it } from 'vitest';
import { failingAgent, manualAgent, succeedingAgent } from '../../src/testing/index.js';
import { describeEveryStore } from '../durability/backends.js';
import { useStoreKit } from '../support/store-kit.js';

describeEveryStore('workflow tracker', (backend) => {
  const { setup, flush, advance } = useStoreKit(backend);

  describe('automatic workflow integration', () => {
    it('executeTask with a workflowId adds the task to the workflow', async () => {
      const { taskManager, workflowTracker, executor } = setup();
      const workflow = await workflowTracker.createWorkflow({ name: 'w' });
      const task = await taskManager.createTask({ name: 't' });
      expect(await workflowTracker.getWorkflowTasks(workflow.id)).toEqual([]);

      const result = await executor.executeTask(task.id, succeedingAgent('a'), workflow.id);

      expect(result.workflowId).toBe(workflow.id);
      expect((await taskManager.getTask(task.id)).workflowId).toBe(workflow.id);
      expect((await workflowTracker.getWorkflowTasks(workflow.id)).map((t) => t.id)).toEqual([task.id]);
      expect(await workflowTracker.getWorkflowStatus(workflow.id)).toBe('COMPLETED');
    });

    it('a task of one workflow cannot run in, or be added to, another (INVALID_ARGUMENT)', async () => {
      const { taskManager, workflowTracker, executor } = setup();
      const [a, b] = await Promise.all([
        workflowTracker.createWorkflow({ name: 'a' }),
        workflowTracker.createWorkflow({ name: 'b' }),
      ]);
      const task = await taskManager.createTask({ name: 't', workflowId: a.id });
      await expect(executor.executeTask(task.id, succeedingAgent('x'), b.id)).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
      await expect(workflowTracker.addTaskToWorkflow(b.id, task.id)).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
      expect(await workflowTracker.getWorkflowTasks(b.id)).toEqual([]);
    });

    it('an unknown workflow: WORKFLOW_NOT_FOUND', async () => {
      const { taskManager, workflowTracker, executor } = setup();
      const task = await taskManager.createTask({ name: 't' });
      await expect(workflowTracker.getWorkflow('nope')).rejects.toMatchObject({ code: 'WORKFLOW_NOT_FOUND' });
      await expect(executor.executeTask(task.id, succeedingAgent('x'), 'nope')).rejects.toMatchObject({
        code: 'WORKFLOW_NOT_FOUND',
      });
      await expect(workflowTracker.addTaskToWorkflow('nope', task.id)).rejects.toMatchObject({
        code: 'WORKFLOW_NOT_FOUND',
      });
      expect((await taskManager.getTask(task.id)).workflowId).toBeNull();
    });
  });

  describe('derived workflow status', () => {
    it('PENDING before any task starts, RUNNING while one runs, COMPLETED when all are', async () => {
      const { taskManager, workflowTracker, executor } = setup();
      const workflow = await workflowTracker.createWorkflow({ name: 'w' });
      expect(workflow.status).toBe('PENDING');
      const first = await taskManager.createTask({ name: 'first', workflowId: workflow.id });
      const second = await taskManager.createTask({ name: 'second' });
      await workflowTracker.addTaskToWorkflow(workflow.id, second.id);
      expect(await workflowTracker.getWorkflowStatus(workflow.id)).toBe('PENDING');

      const agent = manualAgent('m');
      const running = executor.executeTask(first.id, agent);
      await flush();
      expect(await workflowTracker.getWorkflowStatus(workflow.id)).toBe('RUNNING');
      agent.resolveNext('done');
      await running;
      expect(await workflowTracker.getWorkflowStatus(workflow.id)).toBe('RUNNING');

      await executor.executeTask(second.id, succeedingAgent('s'));
      expect(await workflowTracker.getWorkflowStatus(workflow.id)).toBe('COMPLETED');
    });

    it('RUNNING while a task waits for its retry, FAILED once its retries are exhausted', async () => {
      const { clock, taskManager, workflowTracker, executor } = setup({
        retry: { maxAttempts: 2, initialDelayMs: 100, jitter: 0 },
      });
      const workflow = await workflowTracker.createWorkflow({ name: 'w' });
      const ok = await taskManager.createTask({ name: 'ok', workflowId: workflow.id });
      const bad = await taskManager.createTask({ name: 'bad', workflowId: workflow.id });
      await executor.executeTask(ok.id, succeedingAgent('s'));

      const failing = executor.executeTask(bad.id, failingAgent('f', Infinity));
      await flush();
      expect(await workflowTracker.getWorkflowStatus(workflow.id)).toBe('RUNNING');
      await advance(clock, 100);
      expect((await failing).status).toBe('FAILED');
      expect(await workflowTracker.getWorkflowStatus(workflow.id)).toBe('FAILED');
    });

    it('updates the stored workflow row at each change (status and updatedAt from the clock)', async () => {
      const { clock, taskManager, workflowTracker, executor } = setup({ start: 5_000 });
      const workflow = await workflowTracker.createWorkflow({ name: 'w' });
      const task = await taskManager.createTask({ name: 't', workflowId: workflow.id });
      clock.increment(250);
      await executor.executeTask(task.id, succeedingAgent('s'));
      const [row] = await workflowTracker.listWorkflows();
      expect(row).toMatchObject({ id: workflow.id, status: 'COMPLETED', createdAt: 5_000, updatedAt: 5_250 });
    });

    it('updateWorkflowMetadata merges into the stored metadata', async () => {
      const { workflowTracker } = setup();
      const workflow = await workflowTracker.createWorkflow({ name: 'w', metadata: { owner: 'ana' } });
      const updated = await workflowTracker.updateWorkflowMetadata(workflow.id, { priority: 'high' });
      expect(updated.metadata).toEqual({ owner: 'ana', priority: 'high' });
      expect((await workflowTracker.getWorkflow(workflow.id)).metadata).toEqual({
        owner: 'ana',
        priority: 'high',
      });
    });
  });
});
