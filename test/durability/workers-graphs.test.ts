import { expect, it } from 'vitest';
import type { Agent, ServiceRegistry, Store } from '../../src/index.js';
import type { WorkflowPlan } from '../../src/repositories/workflow-runs.js';
import { until } from '../support/wait.js';
import { describeEveryStore, useEngines } from './backends.js';

// Issue 13: workflows with graph parts go to workers as a whole (enqueueWorkflow -> Store.submitWorkflow);
// one worker at a time coordinates each, another takes it over when it is gone.

const plan = (agentKey: string): WorkflowPlan => ({
  agentKey,
  agentKeys: {},
  retry: {
    maxAttempts: 1,
    initialDelayMs: 0,
    backoffFactor: 1,
    maxDelayMs: 0,
    jitter: 0,
    nonRetryableErrors: [],
    maxInterruptions: 1,
  },
  timeoutMs: 0,
  metadata: {},
  maxConcurrent: null,
});

/** An agent that records each run (task name, worker) and answers by task name. */
function graphAgent(worker: string, runs: Array<{ name: string; worker: string }>): Agent {
  return {
    id: 'graph-agent',
    async execute(task) {
      runs.push({ name: task.name, worker });
      await new Promise((resolve) => setImmediate(resolve));
      if (task.name === 'triage') return { label: 'bug', documents: ['d1', 'd2', 'd3'] };
      return { done: task.name };
    },
  };
}

/**
 * triage -> bug (when label == "bug") -> fix; triage -> feature (when label == "feature", skipped);
 * triage -> each (fan-out over the documents) -> report (after fix and each).
 */
async function buildGraph(registry: ServiceRegistry): Promise<string> {
  const tracker = registry.getWorkflowTracker();
  const manager = registry.getTaskManager();
  const workflow = await tracker.createWorkflow({ name: 'graph on workers' });
  const make = (name: string) => manager.createTask({ name });
  const [triage, bug, fix, feature, each, report] = await Promise.all(
    ['triage', 'bug', 'fix', 'feature', 'each', 'report'].map(make),
  );
  await tracker.addTasksToWorkflow(workflow.id, [
    { taskId: triage!.id, key: 'triage' },
    { taskId: bug!.id, dependsOn: [triage!.id], when: 'outputs.triage.label == "bug"' },
    { taskId: fix!.id, dependsOn: [bug!.id] },
    { taskId: feature!.id, dependsOn: [triage!.id], when: 'outputs.triage.label == "feature"' },
    { taskId: each!.id, dependsOn: [triage!.id], forEach: 'outputs.triage.documents' },
    { taskId: report!.id, dependsOn: [fix!.id, each!.id] },
  ]);
  return workflow.id;
}

const statusOf = async (store: Store, workflowId: string) => (await store.workflows.get(workflowId))?.status;

describeEveryStore('graph workflows on workers', (backend) => {
  const engine = useEngines();

  it('the store hands a submitted workflow to one claimer at a time and keeps its tasks from task claims', async () => {
    const b = backend();
    const submitter = engine(b.store);
    const workflowId = await buildGraph(submitter);
    const other = await submitter.getWorkflowTracker().createWorkflow({ name: 'not submitted' });
    const store = b.store;
    await store.submitWorkflow!(workflowId, plan('graph-agent'), 1_000);
    await store.submitWorkflow!(other.id, plan('graph-agent'), 2_000);
    await submitter.getWorkflowTracker().pauseWorkflow(other.id);

    // The workflow's tasks are never claimed one by one, even with a plan and no holder.
    const [triage] = await store.tasks.find({ where: { workflowId, name: 'triage' } });
    await submitter.getEnhancedExecutor().enqueueTask(triage!.id, 'graph-agent');
    expect(await store.claimRunnable!({ engineId: 'e1', limit: 100, now: Date.now() })).toEqual([]);

    const first = await store.claimWorkflows!({ engineId: 'e1', limit: 10, running: [] });
    expect(first.map((run) => [run.workflowId, run.coordinator])).toEqual([[workflowId, 'e1']]);
    expect(first[0]!.plan).toEqual(plan('graph-agent'));
    // Held by e1 (which never beat: it keeps it until it lets go); paused `other` is not claimable.
    expect(await store.claimWorkflows!({ engineId: 'e2', limit: 10, running: [] })).toEqual([]);
    expect(await store.claimWorkflows!({ engineId: 'e1', limit: 10, running: [workflowId] })).toEqual([]);
    // A release by another engine changes nothing; e1's lets e2 take it.
    await store.releaseWorkflow!(workflowId, 'e2', null);
    expect(await store.claimWorkflows!({ engineId: 'e2', limit: 10, running: [] })).toEqual([]);
    await store.releaseWorkflow!(workflowId, 'e1', null);
    const second = await store.claimWorkflows!({ engineId: 'e2', limit: 10, running: [] });
    expect(second.map((run) => run.coordinator)).toEqual(['e2']);
    // Ended: never claimed again, until submitted again.
    await store.releaseWorkflow!(workflowId, 'e2', 5_000);
    expect(await store.claimWorkflows!({ engineId: 'e3', limit: 10, running: [] })).toEqual([]);
    const listed = await store.submittedWorkflows!();
    expect(listed.map((run) => [run.workflowId, run.coordinator, run.endedAt])).toEqual([
      [workflowId, null, 5_000],
      [other.id, null, null],
    ]);
    await store.submitWorkflow!(workflowId, plan('other-agent'), 9_000);
    const again = await store.claimWorkflows!({ engineId: 'e3', limit: 10, running: [] });
    expect(again.map((run) => [run.workflowId, run.plan.agentKey, run.submittedAt])).toEqual([
      [workflowId, 'other-agent', 1_000],
    ]);
  });

  it('a worker coordinates an enqueued graph: conditions, a fan-out and joins, each node once', async () => {
    const b = backend();
    const submitter = engine(b.store);
    const workflowId = await buildGraph(submitter);
    const enqueued = await submitter
      .getEnhancedExecutor()
      .enqueueWorkflow(workflowId, { agentKey: 'graph-agent' });
    expect(enqueued).toHaveLength(6);
    const runs: Array<{ name: string; worker: string }> = [];
    const workers = await Promise.all(
      ['w1', 'w2'].map((name) =>
        engine(b.reopen(), { engineId: `engine-${name}` }).startWorker({
          resolveAgent: () => graphAgent(name, runs),
          pollMs: 20,
        }),
      ),
    );
    await until('the graph COMPLETED', async () => (await statusOf(b.store, workflowId)) === 'COMPLETED');
    const names = runs.map((run) => run.name).sort();
    expect(names).toEqual(['bug', 'each [0]', 'each [1]', 'each [2]', 'fix', 'report', 'triage']);
    // One coordinator ran the whole graph.
    expect(new Set(runs.map((run) => run.worker)).size).toBe(1);
    const tasks = await b.store.tasks.find({ where: { workflowId } });
    expect(tasks.filter((task) => task.status === 'SKIPPED').map((task) => task.name)).toEqual(['feature']);
    expect((await b.store.completions()).length).toBe(tasks.filter((t) => t.status === 'COMPLETED').length);
    await until('the coordinator let the ended workflow go', async () =>
      (await b.store.submittedWorkflows!()).every((run) => run.coordinator === null && run.endedAt !== null),
    );
    expect(workers.reduce((sum, worker) => sum + worker.stats().coordinated, 0)).toBe(1);
    for (const worker of workers) await worker.stop();
  });

  it('a stopped coordinator lets the workflow go; another worker finishes the graph', async () => {
    const b = backend();
    const submitter = engine(b.store);
    const workflowId = await buildGraph(submitter);
    await submitter
      .getEnhancedExecutor()
      .enqueueWorkflow(workflowId, { agentKey: 'graph-agent', retry: { maxAttempts: 3 } });
    const started: string[] = [];
    const hanging: Agent = {
      id: 'hanging',
      execute(task, context) {
        started.push(task.name);
        if (task.name === 'triage') return Promise.resolve({ label: 'bug', documents: ['d1', 'd2'] });
        return new Promise((_, reject) => {
          context.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
        });
      },
    };
    const first = await engine(b.reopen(), { engineId: 'engine-first' }).startWorker({
      resolveAgent: () => hanging,
      pollMs: 20,
    });
    await until('the first worker ran past triage', () => started.length >= 3);
    await first.stop({ graceMs: 0 });
    expect((await b.store.submittedWorkflows!())[0]!.coordinator).toBeNull();

    const runs: Array<{ name: string; worker: string }> = [];
    const second = await engine(b.reopen(), { engineId: 'engine-second' }).startWorker({
      resolveAgent: () => graphAgent('second', runs),
      pollMs: 20,
    });
    await until('the graph COMPLETED', async () => (await statusOf(b.store, workflowId)) === 'COMPLETED');
    // triage completed under the first worker: not run again.
    expect(runs.map((run) => run.name)).not.toContain('triage');
    expect(runs.map((run) => run.name).sort()).toEqual(['bug', 'each [0]', 'each [1]', 'fix', 'report']);
    const records = await b.store.completions();
    expect(new Set(records.map((record) => record.taskId)).size).toBe(records.length);
    await second.stop();
  });

  it('signals, pause and resume reach the worker that coordinates a graph', async () => {
    const b = backend();
    const submitter = engine(b.store, { controlPollMs: 10, engineId: 'engine-submitter' });
    const tracker = submitter.getWorkflowTracker();
    const manager = submitter.getTaskManager();
    const workflow = await tracker.createWorkflow({ name: 'approval on workers' });
    const [draft, approval, publish] = await Promise.all(
      ['draft', 'approval', 'publish'].map((name) => manager.createTask({ name })),
    );
    await tracker.addTasksToWorkflow(workflow.id, [
      { taskId: draft!.id, key: 'draft' },
      { taskId: approval!.id, key: 'approval', dependsOn: [draft!.id], waitFor: 'approval' },
      { taskId: publish!.id, dependsOn: [approval!.id] },
    ]);
    await submitter.getEnhancedExecutor().enqueueWorkflow(workflow.id, { agentKey: 'graph-agent' });
    const runs: Array<{ name: string; worker: string }> = [];
    const worker = await engine(b.reopen(), {
      controlPollMs: 10,
      engineId: 'engine-coordinator',
    }).startWorker({
      resolveAgent: () => graphAgent('coordinator', runs),
      pollMs: 10,
    });
    const statusOfTask = async (id: string) => (await b.store.tasks.get(id))?.status;
    await until('the draft COMPLETED', async () => (await statusOfTask(draft!.id)) === 'COMPLETED');
    await tracker.pauseWorkflow(workflow.id);
    // Kept while the workflow is paused (the coordinator applied the pause before pauseWorkflow
    // resolved), taken on resume (graph-signal-pause.test.ts checks it turn by turn).
    await submitter.signal(workflow.id, 'approval', { approved: true });
    expect(await statusOfTask(approval!.id)).toBe('PENDING');
    expect((await b.store.workflows.get(workflow.id))?.status).toBe('PAUSED');
    expect(runs.map((run) => run.name)).toEqual(['draft']);
    await tracker.resumeWorkflow(workflow.id);
    await until('the wait took the signal', async () => (await statusOfTask(approval!.id)) === 'COMPLETED');
    await until('the graph COMPLETED', async () => (await statusOf(b.store, workflow.id)) === 'COMPLETED');
    expect(runs.map((run) => run.name)).toEqual(['draft', 'publish']);
    expect((await b.store.tasks.get(approval!.id))?.outputData).toMatchObject({
      signal: 'approval',
      payload: { approved: true },
    });
    await until('the coordinator let it go', () => worker.stats().coordinating === 0);
    expect(worker.stats().coordinated).toBe(1);
    await worker.stop();
  });

  it('refuses a graph whose condition is given in code', async () => {
    const b = backend();
    const submitter = engine(b.store);
    const tracker = submitter.getWorkflowTracker();
    const manager = submitter.getTaskManager();
    const workflow = await tracker.createWorkflow({ name: 'code condition' });
    const a = await manager.createTask({ name: 'a' });
    const c = await manager.createTask({ name: 'c' });
    await tracker.addTaskToWorkflow(workflow.id, a.id, { key: 'a' });
    await tracker.addTaskToWorkflow(workflow.id, c.id, { dependsOn: [a.id], when: () => true });
    await expect(
      submitter.getEnhancedExecutor().enqueueWorkflow(workflow.id, { agentKey: 'x' }),
    ).rejects.toMatchObject({ code: 'INVALID_STATE', details: { feature: 'when' } });
    expect(await b.store.submittedWorkflows!()).toEqual([]);
  });
});
