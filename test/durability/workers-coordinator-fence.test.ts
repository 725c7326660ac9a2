/**
 * The coordinator fence (issue 13, docs/scale-out.md "Graph workflows on workers"): a worker that
 * coordinates a graph workflow and is paused past its liveness window (here its commits are held
 * back, as SIGSTOP would) while another worker takes the workflow over and finishes it, makes no
 * node of it when it resumes: its fan-out's items are refused by the store, it drops the
 * coordination (COORDINATION_LOST) and the workflow stays COMPLETED with exactly its nodes.
 */
import { expect, it } from 'vitest';
import type { Agent, ServiceRegistry, Store, StoreBatch } from '../../src/index.js';
import { detachBatch } from '../../src/repositories/coordination.js';
import { until } from '../support/wait.js';
import { describeEveryStore, useEngines } from './backends.js';

/**
 * A store handle whose commits stop at the first batch `holds` picks (and every one after it)
 * until `resume()`: the engine above it is stuck as a paused process is, its beats included. The
 * held batch is copied when it comes, as a paused process keeps what it was writing.
 */
function pausable(store: Store, holds: (batch: StoreBatch) => boolean) {
  let paused = false;
  let resume = () => {};
  const gate = new Promise<void>((resolve) => (resume = resolve));
  let resumed: Promise<unknown> = Promise.resolve();
  const handle = new Proxy(store, {
    get(target, property) {
      if (property === 'commit') {
        return (batch: StoreBatch) => {
          if (!paused && !holds(batch)) return target.commit(batch);
          paused = true;
          const copy = detachBatch(batch);
          const done = gate.then(() => target.commit(copy));
          resumed = resumed.then(() => done.catch(() => {}));
          return done;
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return {
    store: handle,
    get paused() {
      return paused;
    },
    /** Holds back every commit from now on. */
    pause(): void {
      paused = true;
    },
    /** Lets the held commits go; resolves once they have returned. */
    async resume(): Promise<void> {
      resume();
      await resumed;
    },
  };
}

/** triage -> each (a fan-out over triage's documents) -> report. */
async function buildGraph(registry: ServiceRegistry): Promise<string> {
  const tracker = registry.getWorkflowTracker();
  const manager = registry.getTaskManager();
  const workflow = await tracker.createWorkflow({ name: 'fan-out on workers' });
  const [triage, each, report] = await Promise.all(
    ['triage', 'each', 'report'].map((name) => manager.createTask({ name })),
  );
  await tracker.addTasksToWorkflow(workflow.id, [
    { taskId: triage!.id, key: 'triage' },
    { taskId: each!.id, dependsOn: [triage!.id], forEach: 'outputs.triage.documents' },
    { taskId: report!.id, dependsOn: [each!.id] },
  ]);
  return workflow.id;
}

/** triage -> report. */
async function buildChain(registry: ServiceRegistry): Promise<{ workflowId: string; triageId: string }> {
  const tracker = registry.getWorkflowTracker();
  const manager = registry.getTaskManager();
  const workflow = await tracker.createWorkflow({ name: 'chain on workers' });
  const [triage, report] = await Promise.all(
    ['triage', 'report'].map((name) => manager.createTask({ name })),
  );
  await tracker.addTasksToWorkflow(workflow.id, [
    { taskId: triage!.id, key: 'triage' },
    { taskId: report!.id, dependsOn: [triage!.id] },
  ]);
  return { workflowId: workflow.id, triageId: triage!.id };
}

function agentOf(worker: string, runs: string[]): Agent {
  return {
    id: 'graph-agent',
    async execute(task) {
      runs.push(`${worker} ${task.name}`);
      if (task.name === 'triage') return { documents: ['d1', 'd2', 'd3'] };
      return { done: task.name };
    },
  };
}

describeEveryStore('coordinator fence on workers', (backend) => {
  const engine = useEngines();

  it('a coordinator paused past its window makes no node of the graph another worker finished (COORDINATION_LOST)', async () => {
    const b = backend();
    const submitter = engine(b.store);
    const workflowId = await buildGraph(submitter);
    await submitter.getEnhancedExecutor().enqueueWorkflow(workflowId, { agentKey: 'graph-agent' });
    const runs: string[] = [];
    // A is paused at the commit that makes the fan-out's items.
    const a = pausable(b.reopen(), (batch) => batch.tasks?.some((task) => task.graph?.item) ?? false);
    const timing = { controlPollMs: 20, livenessMs: 200 };
    const workerA = await engine(a.store, { engineId: 'engine-A', ...timing }).startWorker({
      resolveAgent: () => agentOf('A', runs),
      pollMs: 20,
    });
    await until('A is paused as it makes the items', () => a.paused);
    expect(runs).toEqual(['A triage']);

    // A's beats have stopped: once they expire (by the store's clock) B takes the workflow over.
    const workerB = await engine(b.reopen(), { engineId: 'engine-B', ...timing }).startWorker({
      resolveAgent: () => agentOf('B', runs),
      pollMs: 20,
    });
    await until('B finished the graph', async () => {
      const [run] = await b.store.submittedWorkflows!();
      return run?.endedAt !== null && (await b.store.workflows.get(workflowId))?.status === 'COMPLETED';
    });

    // A resumes: its held batch (the items, the fan-out's row) is refused, and A lets the workflow go.
    await a.resume();
    const tasks = await b.store.tasks.find({ where: { workflowId } });
    expect(tasks.map((task) => `${task.name} ${task.status}`).sort()).toEqual([
      'each COMPLETED',
      'each [0] COMPLETED',
      'each [1] COMPLETED',
      'each [2] COMPLETED',
      'report COMPLETED',
      'triage COMPLETED',
    ]);
    expect((await b.store.workflows.get(workflowId))?.status).toBe('COMPLETED');
    const records = await b.store.completions();
    expect(records.map((record) => record.taskId).sort()).toEqual(tasks.map((task) => task.id).sort());
    // Every node after triage ran on B, once; A ran none of them.
    expect(runs.filter((run) => run.startsWith('A '))).toEqual(['A triage']);
    expect(runs.filter((run) => run.startsWith('B ')).sort()).toEqual([
      'B each [0]',
      'B each [1]',
      'B each [2]',
      'B report',
    ]);
    await until('A dropped its coordination', () => workerA.stats().coordinationsLost === 1);
    expect(workerA.stats().coordinating).toBe(0);
    expect(workerB.stats()).toMatchObject({ coordinated: 1, coordinationsLost: 0 });
    await workerB.stop();
    await workerA.stop();
  });

  it('the new coordinator takes the nodes the old one runs, even if its beats came back before it looked', async () => {
    const b = backend();
    const submitter = engine(b.store);
    const { workflowId, triageId } = await buildChain(submitter);
    await submitter
      .getEnhancedExecutor()
      .enqueueWorkflow(workflowId, { agentKey: 'graph-agent', retry: { maxAttempts: 3 } });
    const runs: string[] = [];
    // A starts triage, then is paused (its commits held back) with the attempt running; the
    // attempt ends once A resumes.
    const a = pausable(b.reopen(), () => false);
    let finishA = () => {};
    const slow: Agent = {
      id: 'graph-agent',
      execute(task, context) {
        runs.push(`A ${task.name}`);
        a.pause();
        return new Promise((resolve, reject) => {
          finishA = () => resolve({ documents: ['by A'] });
          context.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
        });
      },
    };
    const timing = { controlPollMs: 20, livenessMs: 200 };
    const workerA = await engine(a.store, { engineId: 'engine-A', ...timing }).startWorker({
      resolveAgent: () => slow,
      pollMs: 20,
    });
    await until('A runs triage', async () => (await b.store.tasks.get(triageId))?.status === 'RUNNING');
    // B's claim of the workflow is answered as A's beats come back (A resumed just then): the
    // triage A holds is leased to a live engine when B looks at it, and B takes it all the same.
    const storeB = b.reopen();
    const claimWorkflows = storeB.claimWorkflows!.bind(storeB);
    storeB.claimWorkflows = async (options) => {
      const runsTaken = await claimWorkflows(options);
      if (runsTaken.length > 0) {
        await storeB.commit({ beats: [{ engineId: 'engine-A', ttlMs: 600_000, stopped: false }] });
      }
      return runsTaken;
    };
    const workerB = await engine(storeB, { engineId: 'engine-B', ...timing }).startWorker({
      resolveAgent: () => agentOf('B', runs),
      pollMs: 20,
    });
    await until(
      'B finished the graph',
      async () => (await b.store.workflows.get(workflowId))?.status === 'COMPLETED',
    );
    expect(runs).toEqual(['A triage', 'B triage', 'B report']);
    const triage = await b.store.tasks.get(triageId);
    expect(triage).toMatchObject({ status: 'COMPLETED', outputData: { documents: ['d1', 'd2', 'd3'] } });
    // A resumes and its attempt ends: nothing of its writes of the workflow lands (its result
    // included), and it lets the workflow be.
    await a.resume();
    finishA();
    await until('A dropped its coordination', () => workerA.stats().coordinationsLost === 1);
    expect(await b.store.tasks.get(triageId)).toMatchObject({
      status: 'COMPLETED',
      outputData: { documents: ['d1', 'd2', 'd3'] },
    });
    expect((await b.store.completions(triageId)).length).toBe(1);
    await workerB.stop();
    await workerA.stop();
  });
});
