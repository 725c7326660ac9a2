import { describe, expect, it } from 'vitest';
import type { ExecutionResult } from '../../src/index.js';
import { failingAgent, hangingAgent, manualAgent, succeedingAgent } from '../../src/testing/index.js';
import { describeEveryStore } from '../durability/backends.js';
import { useStoreKit } from '../support/store-kit.js';

/** A promise's outcome, readable before it settles. */
function watch(promise: Promise<ExecutionResult>): { result?: ExecutionResult; error?: unknown } {
  const state: { result?: ExecutionResult; error?: unknown } = {};
  promise.then(
    (result) => (state.result = result),
    (error: unknown) => (state.error = error),
  );
  return state;
}

function watchAll(promise: Promise<ExecutionResult[]>): { results?: ExecutionResult[]; error?: unknown } {
  const state: { results?: ExecutionResult[]; error?: unknown } = {};
  promise.then(
    (results) => (state.results = results),
    (error: unknown) => (state.error = error),
  );
  return state;
}

describeEveryStore('executor cancel and pause', (backend) => {
  const tests = useStoreKit(backend);
  const { setup, createTasks, flush, advance } = tests;

  describe('cancelling', () => {
    it('a cancelled attempt leaves flight but counts as neither completed nor failed in the load', async () => {
      const { taskManager, executor, router } = setup();
      const agent = manualAgent('a');
      const [id] = await createTasks(1);
      const result = executor.executeTask(id!, agent);
      await flush();
      expect((await router.getLoad()).get('a')).toMatchObject({ inFlight: 1, completed: 0, failed: 0 });
      await taskManager.cancelTask(id!);
      expect((await result).status).toBe('CANCELLED');
      expect((await router.getLoad()).get('a')).toMatchObject({ inFlight: 0, completed: 0, failed: 0 });
    });

    it('a queued task: it never starts, ends CANCELLED, and the running one is unaffected', async () => {
      const { taskManager, executor } = setup({ maxConcurrency: 1 });
      const agent = manualAgent('a');
      const [first, second] = await createTasks(2);
      const running = executor.executeTask(first!, agent);
      const queued = executor.executeTask(second!, agent);
      await flush();
      expect(await executor.getStats()).toMatchObject({ inFlight: 1, queued: 1 });

      const row = await taskManager.cancelTask(second!);
      const cancelled = await queued;

      expect(row.status).toBe('CANCELLED');
      expect(cancelled).toMatchObject({ status: 'CANCELLED', attempts: 0 });
      expect(cancelled.error).toMatchObject({ code: 'EXECUTION_CANCELLED' });
      expect(await executor.getStats()).toMatchObject({ inFlight: 1, queued: 0 });
      agent.resolveNext('first');
      expect(await running).toMatchObject({ status: 'COMPLETED', output: 'first' });
      await flush();
      expect(agent.calls.map((call) => call.task.id)).toEqual([first]);
    });

    it("a running task: the agent's signal aborts, the result is CANCELLED and the slot is freed", async () => {
      const { taskManager, executor } = setup();
      const agent = hangingAgent('h', { maxConcurrency: 1 });
      const [first, second] = await createTasks(2);
      const running = executor.executeTask(first!, agent);
      const next = executor.executeTask(second!, succeedingAgent('other', 'x', { configId: 'h' }));
      await flush();
      const signal = agent.calls[0]!.context.signal;
      expect(signal.aborted).toBe(false);

      await executor.cancelTask(first!);
      const result = await running;

      expect(signal.aborted).toBe(true);
      expect(signal.reason).toMatchObject({ code: 'EXECUTION_CANCELLED' });
      expect(result).toMatchObject({ status: 'CANCELLED', attempts: 1, output: null });
      expect(await taskManager.getTask(first!)).toMatchObject({ status: 'CANCELLED' });
      // The second execution shares the agent key "h" (limit 1): it runs once the slot is freed.
      expect((await next).status).toBe('COMPLETED');
    });

    it('a task waiting for a retry: it is not attempted again', async () => {
      const { clock, taskManager, executor } = setup({ retry: { maxAttempts: 3, initialDelayMs: 100 } });
      const agent = failingAgent('f', Infinity);
      const [id] = await createTasks(1);
      const done = executor.executeTask(id!, agent);
      await flush();
      expect(await taskManager.getTask(id!)).toMatchObject({ status: 'PENDING', attempts: 1 });

      await taskManager.cancelTask(id!);
      const result = await done;
      await advance(clock, 10_000);

      expect(result).toMatchObject({ status: 'CANCELLED', attempts: 1 });
      expect(result.errors).toHaveLength(1);
      expect(agent.calls).toHaveLength(1);
      expect((await taskManager.getTask(id!)).status).toBe('CANCELLED');
    });

    it("through the caller's AbortSignal, before or during the run", async () => {
      const { executor } = setup();
      const agent = hangingAgent('h');
      const [early, late] = await createTasks(2);
      const aborted = new AbortController();
      aborted.abort();
      const before = await executor.executeTask(early!, agent, null, { signal: aborted.signal });
      expect(before.status).toBe('CANCELLED');
      expect(agent.calls).toHaveLength(0);

      const controller = new AbortController();
      const during = executor.executeTask(late!, agent, null, { signal: controller.signal });
      await flush();
      controller.abort();
      expect((await during).status).toBe('CANCELLED');
      expect(agent.calls[0]!.context.signal.aborted).toBe(true);
    });

    it('a stored PENDING task with no execution; it can then not be executed', async () => {
      const { taskManager, executor } = setup();
      const [id] = await createTasks(1);
      expect((await taskManager.cancelTask(id!)).status).toBe('CANCELLED');
      await expect(executor.executeTask(id!, succeedingAgent('a'))).rejects.toMatchObject({
        code: 'INVALID_STATE',
      });
    });

    it('cancelWorkflow cancels every unfinished task (running, queued, never started) and keeps finished ones', async () => {
      const { workflowTracker, executor } = setup();
      const workflow = await workflowTracker.createWorkflow({ name: 'w' });
      const [done, running, queued, idle] = await createTasks(4, workflow.id);
      await executor.executeTask(done!, succeedingAgent('s'));
      const agent = hangingAgent('h', { maxConcurrency: 1 });
      const runningResult = executor.executeTask(running!, agent);
      const queuedResult = executor.executeTask(queued!, agent);
      await flush();
      expect(agent.calls).toHaveLength(1);

      const cancelled = await workflowTracker.cancelWorkflow(workflow.id);

      expect(cancelled.status).toBe('CANCELLED');
      expect((await runningResult).status).toBe('CANCELLED');
      expect((await queuedResult).status).toBe('CANCELLED');
      expect(agent.calls[0]!.context.signal.aborted).toBe(true);
      const statuses = Object.fromEntries(
        (await workflowTracker.getWorkflowTasks(workflow.id)).map((task) => [task.id, task.status]),
      );
      expect(statuses).toEqual({
        [done!]: 'COMPLETED',
        [running!]: 'CANCELLED',
        [queued!]: 'CANCELLED',
        [idle!]: 'CANCELLED',
      });
      await flush();
      expect(agent.calls).toHaveLength(1);
      await expect(executor.executeTask(idle!, succeedingAgent('s'))).rejects.toMatchObject({
        code: 'INVALID_STATE',
      });
    });

    // Regression: a task waiting for a batch lane was unknown to the runtime, so cancelling it only
    // changed the stored row and the batch later ran it anyway (CANCELLED became COMPLETED).
    it('a task waiting for a batch lane: it stays CANCELLED and the rest of the batch runs', async () => {
      const { taskManager, executor } = setup();
      const agent = manualAgent('a');
      const ids = await createTasks(3);
      const batch = executor.batchExecute(
        ids.map((id) => [id, agent] as const),
        { maxConcurrent: 1 },
      );
      await flush();
      expect((await taskManager.cancelTask(ids[1]!)).status).toBe('CANCELLED');
      for (let i = 0; i < 3 && agent.waiting.length > 0; i += 1) {
        agent.resolveNext('ok');
        await flush();
      }
      const results = await batch;
      expect(results.map((r) => r.status)).toEqual(['COMPLETED', 'CANCELLED', 'COMPLETED']);
      expect((await taskManager.getTask(ids[1]!)).status).toBe('CANCELLED');
      expect(agent.calls.map((call) => call.task.id)).toEqual([ids[0], ids[2]]);
    });

    it('cancelWorkflow reaches the tasks of a batch still waiting for a lane', async () => {
      const { taskManager, workflowTracker, executor } = setup();
      const workflow = await workflowTracker.createWorkflow({ name: 'w' });
      const ids = await createTasks(3);
      const agent = manualAgent('a');
      const batch = executor.batchExecute(
        ids.map((id) => [id, agent] as const),
        { workflowId: workflow.id, maxConcurrent: 1 },
      );
      await flush();
      await workflowTracker.cancelWorkflow(workflow.id);
      const results = await batch;
      expect(results.map((r) => r.status)).toEqual(['CANCELLED', 'CANCELLED', 'CANCELLED']);
      expect(agent.calls).toHaveLength(1);
      const rows = await Promise.all(ids.map((id) => taskManager.getTask(id)));
      expect(rows.map((row) => [row.status, row.workflowId])).toEqual(
        ids.map(() => ['CANCELLED', workflow.id]),
      );
      expect(await workflowTracker.getWorkflowStatus(workflow.id)).toBe('CANCELLED');
    });
  });

  describe('pausing', () => {
    it('pauseWorkflow lets running tasks finish; waiting ones start only after resumeWorkflow', async () => {
      const { workflowTracker, executor } = setup();
      const workflow = await workflowTracker.createWorkflow({ name: 'w' });
      const ids = await createTasks(3, workflow.id);
      const agent = manualAgent('m', { maxConcurrency: 1 });
      const results = ids.map((id) => watch(executor.executeTask(id, agent, workflow.id)));
      await flush();
      expect(agent.calls).toHaveLength(1);

      expect((await workflowTracker.pauseWorkflow(workflow.id)).status).toBe('PAUSED');
      agent.resolveNext('first');
      await flush();

      expect(results[0]!.result).toMatchObject({ status: 'COMPLETED', output: 'first' });
      expect(agent.calls).toHaveLength(1);
      expect(await workflowTracker.getWorkflowStatus(workflow.id)).toBe('PAUSED');
      expect((await tests.kit.taskManager.getTask(ids[1]!)).status).toBe('PENDING');

      expect((await workflowTracker.resumeWorkflow(workflow.id)).status).toBe('RUNNING');
      await flush();
      expect(agent.calls).toHaveLength(2);
      agent.resolveNext('second');
      await flush();
      agent.resolveNext('third');
      await flush();
      expect(results.map((r) => r.result?.status)).toEqual(['COMPLETED', 'COMPLETED', 'COMPLETED']);
      expect(await workflowTracker.getWorkflowStatus(workflow.id)).toBe('COMPLETED');
    });

    it('a task submitted to a paused workflow waits until the workflow resumes', async () => {
      const { workflowTracker, executor } = setup();
      const workflow = await workflowTracker.createWorkflow({ name: 'w' });
      const [id] = await createTasks(1, workflow.id);
      await workflowTracker.pauseWorkflow(workflow.id);
      const agent = succeedingAgent('s', 'done');
      const state = watch(executor.executeTask(id!, agent));
      await flush();
      expect(agent.calls).toHaveLength(0);
      await workflowTracker.resumeWorkflow(workflow.id);
      await flush();
      expect(state.result).toMatchObject({ status: 'COMPLETED', output: 'done' });
    });

    it('pauseTask holds a queued task until resumeTask; a paused stored task waits after executeTask', async () => {
      const { taskManager, executor } = setup();
      const agent = manualAgent('m', { maxConcurrency: 1 });
      const [running, queued, stored] = await createTasks(3);
      const first = watch(executor.executeTask(running!, agent));
      const second = watch(executor.executeTask(queued!, agent));
      await flush();

      expect((await taskManager.pauseTask(queued!)).status).toBe('PAUSED');
      expect((await taskManager.pauseTask(stored!)).status).toBe('PAUSED');
      const third = watch(executor.executeTask(stored!, agent));
      agent.resolveNext(1);
      await flush();
      expect(first.result?.status).toBe('COMPLETED');
      expect(agent.calls).toHaveLength(1);
      expect(await executor.getStats()).toMatchObject({ inFlight: 0, queued: 0 });

      expect((await taskManager.resumeTask(stored!)).status).not.toBe('PAUSED');
      await flush();
      expect(agent.calls.map((call) => call.task.id)).toEqual([running, stored]);
      agent.resolveNext(3);
      await taskManager.resumeTask(queued!);
      await flush();
      agent.resolveNext(2);
      await flush();
      expect([first, second, third].map((s) => s.result?.status)).toEqual([
        'COMPLETED',
        'COMPLETED',
        'COMPLETED',
      ]);
      expect(second.result!.output).toBe(2);
    });

    it('pauseTask holds a task waiting for a batch lane until resumeTask', async () => {
      const { taskManager, executor } = setup();
      const agent = manualAgent('a');
      const ids = await createTasks(3);
      const batch = watchAll(
        executor.batchExecute(
          ids.map((id) => [id, agent] as const),
          { maxConcurrent: 1 },
        ),
      );
      await flush();
      expect((await taskManager.pauseTask(ids[1]!)).status).toBe('PAUSED');
      agent.resolveNext(0);
      await flush();
      // The lane moved on to the paused task, which waits; the third task waits behind it.
      expect(agent.calls.map((call) => call.task.id)).toEqual([ids[0]]);
      expect((await taskManager.getTask(ids[1]!)).status).toBe('PAUSED');

      await taskManager.resumeTask(ids[1]!);
      await flush();
      agent.resolveNext(1);
      await flush();
      agent.resolveNext(2);
      await flush();
      expect(batch.results?.map((r) => r.output)).toEqual([0, 1, 2]);
      expect(agent.calls.map((call) => call.task.id)).toEqual(ids);
    });

    it('a running task cannot be paused (INVALID_STATE); resuming a task that is not paused is refused too', async () => {
      const { taskManager, executor } = setup();
      const agent = manualAgent('m');
      const [id, other] = await createTasks(2);
      const state = watch(executor.executeTask(id!, agent));
      await flush();
      await expect(taskManager.pauseTask(id!)).rejects.toMatchObject({
        code: 'INVALID_STATE',
        name: 'InvalidStateError',
      });
      await expect(taskManager.resumeTask(other!)).rejects.toMatchObject({ code: 'INVALID_STATE' });
      agent.resolveNext('ok');
      await flush();
      expect(state.result?.status).toBe('COMPLETED');
    });
  });
});
