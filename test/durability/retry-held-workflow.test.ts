/**
 * A task retried from another process while the engine that runs its workflow goes on (found by
 * the adversarial tester's task-control probe: the task ended PENDING under a workflow stored
 * CANCELLED, which nothing would run again). A retried task has no holder (its run ended), so the
 * caller applies the retry; the holder's own view of the workflow misses it, so the status the
 * holder writes is derived again by the store from the stored tasks (docs/status-rules.md rule 6:
 * CANCELLED only when every task is done or CANCELLED). Two registries on one store stand for two
 * processes (controlPollMs on, as in the CLI).
 */
import { expect, it } from 'vitest';
import type { Store } from '../../src/index.js';
import { manualAgent } from '../../src/testing/index.js';
import { until } from '../support/wait.js';
import { describeSharedStores, useEngines } from './backends.js';

/** The workflow's status as stored, read through a handle of its own. */
async function storedStatus(store: Store, workflowId: string): Promise<string | undefined> {
  await store.open();
  try {
    return (await store.workflows.get(workflowId))?.status;
  } finally {
    await store.close();
  }
}

describeSharedStores('retrying a task of a workflow another process runs', (backend) => {
  const engine = useEngines();

  it('keeps the workflow RUNNING while the retried task is PENDING, and the task can then run', async () => {
    const shared = backend();
    const runner = engine(shared.store, { controlPollMs: 10, maxConcurrency: 1, engineId: 'runner' });
    const steerer = engine(shared.reopen(), { controlPollMs: 10, engineId: 'steerer' });
    const workflow = await runner.getWorkflowTracker().createWorkflow({ name: 'held' });
    const manager = runner.getTaskManager();
    const first = await manager.createTask({ name: 'first', workflowId: workflow.id });
    const second = await manager.createTask({ name: 'second', workflowId: workflow.id });
    const agent = manualAgent('manual');
    const results = runner.getEnhancedExecutor().batchExecute(
      [
        [first.id, agent],
        [second.id, agent],
      ],
      { workflowId: workflow.id },
    );
    await until('the first task to start', () => agent.calls.length === 1);
    const steer = steerer.getTaskManager();
    // Cancelled in the runner, which holds it; retried here, as no engine holds a cancelled task.
    expect((await steer.cancelTask(first.id)).status).toBe('CANCELLED');
    expect((await steer.retryTask(first.id)).status).toBe('PENDING');
    await until('the second task to start', () => agent.calls.length === 2);
    agent.resolveNext('second');
    expect((await results).map((result) => result.status)).toEqual(['CANCELLED', 'COMPLETED']);
    // The runner counted the first task CANCELLED; the store has it PENDING (rule 8, not 6).
    expect(await storedStatus(shared.reopen(), workflow.id)).toBe('RUNNING');
    expect((await steer.getTask(first.id)).status).toBe('PENDING');
    // Not stranded: the retried task runs, and the workflow completes.
    const again = manualAgent('again');
    const rerun = steerer.getEnhancedExecutor().executeTask(first.id, again);
    await until('the retried task to start', () => again.calls.length === 1);
    again.resolveNext('first');
    expect((await rerun).status).toBe('COMPLETED');
    expect(await storedStatus(shared.reopen(), workflow.id)).toBe('COMPLETED');
  });
});
