/**
 * A workflow's status while several workers change its tasks at once (issue 13): the store derives
 * it again from the stored tasks in each worker's commit, under the workflow row's lock, so the last
 * commit leaves it right whatever each worker's own counts say. On every store.
 */
import { expect, it } from 'vitest';
import type { Agent, ServiceRegistry } from '../../src/index.js';
import { until } from '../support/wait.js';
import { describeEveryStore, useEngines } from './backends.js';

/** An agent that yields a turn, then returns, or throws for the tasks named `fail`. */
const agent: Agent = {
  id: 'status-agent',
  async execute(task) {
    await new Promise((resolve) => setImmediate(resolve));
    if (task.name === 'fail') throw new Error('planned failure');
    return task.name;
  },
};

async function workflowOf(registry: ServiceRegistry, names: readonly string[]): Promise<string> {
  const workflow = await registry.getWorkflowTracker().createWorkflow({ name: 'shared' });
  const tasks = registry.getTaskManager();
  for (const name of names) {
    const task = await tasks.createTask({ name });
    await registry.getWorkflowTracker().addTaskToWorkflow(workflow.id, task.id);
  }
  await registry.getEnhancedExecutor().enqueueWorkflow(workflow.id, { agentKey: 'status-agent' });
  return workflow.id;
}

describeEveryStore('a workflow shared by workers', (backend) => {
  const engine = useEngines();

  async function runWith(names: readonly string[]): Promise<{ status: string; finished: number }> {
    const b = backend();
    const submitter = engine(b.store);
    const workflowId = await workflowOf(submitter, names);
    const workers = await Promise.all(
      ['w1', 'w2', 'w3'].map((name) =>
        engine(b.reopen(), { maxConcurrency: 4, engineId: `status-${name}` }).startWorker({
          resolveAgent: () => agent,
          pollMs: 10,
        }),
      ),
    );
    const tasks = submitter.getRepository('tasks');
    await until(
      'every task to end',
      async () =>
        (await tasks.count({ workflowId, status: 'PENDING' })) +
          (await tasks.count({ workflowId, status: 'RUNNING' })) ===
        0,
    );
    await Promise.all(workers.map((worker) => worker.stop()));
    const row = await submitter.getRepository('workflows').get(workflowId);
    return { status: row!.status, finished: names.length };
  }

  it('ends COMPLETED when three workers complete its tasks between them', async () => {
    const { status } = await runWith(Array.from({ length: 120 }, (_, i) => `task ${i}`));
    expect(status).toBe('COMPLETED');
  });

  it('ends FAILED when one of its tasks fails in one worker while the others complete theirs', async () => {
    const names = Array.from({ length: 60 }, (_, i) => (i === 17 ? 'fail' : `task ${i}`));
    const { status } = await runWith(names);
    expect(status).toBe('FAILED');
  });
});
