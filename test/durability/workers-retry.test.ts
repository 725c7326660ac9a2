/**
 * Retrying a task that workers ran (issue 13, Control). `retryTask` gives a FAILED task a new run:
 * PENDING again, its history kept, but without an execution plan (a final state clears it) and
 * without a holder. Workers claim only tasks with a plan, so the retried task waits until it is
 * enqueued again (`enqueueTasks`, as `symphony retry --submit` does); then a worker runs it. On
 * every store.
 */
import { expect, it } from 'vitest';
import type { Agent, ServiceRegistry } from '../../src/index.js';
import { describeEveryStore, useEngines } from './backends.js';

/** Polls `check` until it holds; fails after `ms` (generous: the suite runs alongside other work). */
async function until(check: () => Promise<boolean>, what: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const AGENT_KEY = 'retry-agent';

/** An agent that records each attempt and throws for the task named `flaky` while `failing` says so. */
function flakyAgent(runs: string[], failing: { now: boolean }): Agent {
  return {
    id: AGENT_KEY,
    async execute(task) {
      runs.push(task.id);
      await new Promise((resolve) => setImmediate(resolve));
      if (task.name === 'flaky' && failing.now) throw new Error('planned failure');
      return task.name;
    },
  };
}

/** A workflow of a steady task and a flaky one, left to workers. */
async function submitted(registry: ServiceRegistry): Promise<{ workflowId: string; flakyId: string }> {
  const tracker = registry.getWorkflowTracker();
  const manager = registry.getTaskManager();
  const workflow = await tracker.createWorkflow({ name: 'retried by workers' });
  const steady = await manager.createTask({ name: 'steady' });
  const flaky = await manager.createTask({ name: 'flaky' });
  await tracker.addTaskToWorkflow(workflow.id, steady.id);
  await tracker.addTaskToWorkflow(workflow.id, flaky.id);
  await registry.getEnhancedExecutor().enqueueWorkflow(workflow.id, { agentKey: AGENT_KEY });
  return { workflowId: workflow.id, flakyId: flaky.id };
}

describeEveryStore('retrying a task that workers ran', (backend) => {
  const engine = useEngines();

  it('a retried task keeps no plan and no holder; enqueued again, a worker runs it and the workflow completes', async () => {
    const b = backend();
    const submitter = engine(b.store);
    const { workflowId, flakyId } = await submitted(submitter);
    const runs: string[] = [];
    const failing = { now: true };
    const worker = await engine(b.reopen(), { engineId: 'retry-worker' }).startWorker({
      resolveAgent: () => flakyAgent(runs, failing),
      pollMs: 10,
    });
    const workflows = submitter.getRepository('workflows');
    const tasks = submitter.getRepository('tasks');
    await until(async () => (await workflows.get(workflowId))?.status === 'FAILED', 'the workflow FAILED');
    expect(runs.filter((id) => id === flakyId)).toHaveLength(1);

    // The retry, by another engine than the worker's: PENDING again, history kept, no plan, no holder.
    await submitter.getTaskManager().retryTask(flakyId);
    const retried = await tasks.get(flakyId);
    expect(retried).toMatchObject({
      status: 'PENDING',
      attempts: 1,
      execution: null,
      leaseOwner: null,
      leaseExpiresAt: null,
      finishedAt: null,
    });
    expect(retried!.errors).toHaveLength(1);
    // The workflow is unfinished again as soon as the retry is stored (what a watch of it relies on).
    expect((await workflows.get(workflowId))?.status).not.toBe('FAILED');

    // Without a plan no worker takes it: two more claims pass and it is still waiting, unrun.
    const claims = worker.stats().claims;
    await until(async () => worker.stats().claims >= claims + 2, 'two more claims');
    expect(await tasks.get(flakyId)).toMatchObject({ status: 'PENDING', leaseOwner: null, execution: null });
    expect(runs.filter((id) => id === flakyId)).toHaveLength(1);

    // Enqueued again with its agent config: the worker runs it, the workflow completes.
    failing.now = false;
    await submitter.getEnhancedExecutor().enqueueTasks([[flakyId, retried!.agentId ?? AGENT_KEY]], {
      retry: { maxAttempts: 2 },
    });
    const planned = await tasks.get(flakyId);
    // A full attempt budget for the new run, counted from the attempts it has made.
    expect(planned?.execution).toMatchObject({ agentKey: AGENT_KEY, attemptLimit: 3 });
    await until(
      async () => (await workflows.get(workflowId))?.status === 'COMPLETED',
      'the workflow COMPLETED',
    );
    const done = await tasks.get(flakyId);
    expect(done).toMatchObject({ status: 'COMPLETED', attempts: 2, leaseOwner: null, execution: null });
    expect(done!.errors).toHaveLength(1);
    expect(runs.filter((id) => id === flakyId)).toHaveLength(2);
    expect(await b.store.completions(flakyId)).toHaveLength(1);
    await worker.stop();
  });

  it('a task retried while no worker runs waits in the store, and the first worker started runs it', async () => {
    const b = backend();
    const submitter = engine(b.store);
    const { workflowId, flakyId } = await submitted(submitter);
    const runs: string[] = [];
    const failing = { now: true };
    const first = await engine(b.reopen(), { engineId: 'retry-first' }).startWorker({
      resolveAgent: () => flakyAgent(runs, failing),
      pollMs: 10,
    });
    const workflows = submitter.getRepository('workflows');
    await until(async () => (await workflows.get(workflowId))?.status === 'FAILED', 'the workflow FAILED');
    await first.stop();

    failing.now = false;
    await submitter.getTaskManager().retryTask(flakyId);
    await submitter.getEnhancedExecutor().enqueueTasks([[flakyId, AGENT_KEY]]);
    expect(await submitter.getRepository('tasks').get(flakyId)).toMatchObject({
      status: 'PENDING',
      leaseOwner: null,
    });
    const second = await engine(b.reopen(), { engineId: 'retry-second' }).startWorker({
      resolveAgent: () => flakyAgent(runs, failing),
      pollMs: 10,
    });
    await until(
      async () => (await workflows.get(workflowId))?.status === 'COMPLETED',
      'the workflow COMPLETED',
    );
    expect(second.stats().completed).toBe(1);
    expect(runs.filter((id) => id === flakyId)).toHaveLength(2);
    await second.stop();
  });
});
