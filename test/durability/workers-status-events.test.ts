/**
 * The `workflow.status` events of a workflow whose tasks two workers share (docs/monitoring.md,
 * "Not from a commit"; scale-out.md). Each worker's view of the workflow lags the other's commits:
 * a worker that loaded it PENDING and starts its task after the other's start has landed must not
 * store a second PENDING -> RUNNING. The event is the change the commit made to the stored row
 * (from its status under the lock to the derived one), whoever's view it was. On every store.
 */
import { expect, it } from 'vitest';
import type { Agent, ServiceRegistry, Store, StoreBatch } from '../../src/index.js';
import { until } from '../support/wait.js';
import { describeEveryStore, useEngines } from './backends.js';

const AGENT = 'shared-agent';

const agent: Agent = { id: AGENT, execute: async (task) => task.name };

/**
 * `store`, whose commits that write workflow rows wait while `held` is set (the batch copied
 * first: the engine's rows are live); `waiting` resolves when one does.
 */
function gated(store: Store) {
  let release: () => void = () => {};
  let reached: () => void = () => {};
  const gate = {
    held: true,
    opened: new Promise<void>((resolve) => (release = resolve)),
    waiting: new Promise<void>((resolve) => (reached = resolve)),
    open: () => {
      gate.held = false;
      release();
    },
  };
  const commit = async (batch: StoreBatch) => {
    if (gate.held && batch.workflows?.length) {
      const copy: StoreBatch = {
        ...batch,
        workflows: batch.workflows.map((row) => ({ ...row })),
        ...(batch.taskStates ? { taskStates: batch.taskStates.map((row) => ({ ...row })) } : {}),
        ...(batch.tasks ? { tasks: batch.tasks.map((row) => ({ ...row })) } : {}),
      };
      reached();
      await gate.opened;
      return store.commit(copy);
    }
    return store.commit(batch);
  };
  const wrapped = new Proxy(store, {
    get(target, key) {
      if (key === 'commit') return commit;
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { store: wrapped, gate };
}

/** A workflow of two tasks, planned for AGENT. */
async function submitted(registry: ServiceRegistry): Promise<{ workflowId: string; taskIds: string[] }> {
  const workflow = await registry.getWorkflowTracker().createWorkflow({ name: 'shared by two workers' });
  const manager = registry.getTaskManager();
  const taskIds: string[] = [];
  for (const name of ['one', 'two'])
    taskIds.push((await manager.createTask({ name, workflowId: workflow.id })).id);
  await registry.getEnhancedExecutor().enqueueTasks(taskIds.map((id) => [id, AGENT] as const));
  return { workflowId: workflow.id, taskIds };
}

describeEveryStore('workflow.status events of a workflow two workers share', (backend) => {
  const engine = useEngines();

  it('stores one PENDING -> RUNNING and one RUNNING -> COMPLETED, each by the engine whose commit made it', async () => {
    const b = backend();
    const submitter = engine(b.store, { engineId: 'submitter' });
    const { workflowId, taskIds } = await submitted(submitter);
    const heard = new Map<string, string[]>([
      ['worker-a', []],
      ['worker-b', []],
    ]);
    const listen = (registry: ServiceRegistry, engineId: string) => {
      registry.on('workflow.status', (e) => {
        if (e.workflowId === workflowId) heard.get(engineId)!.push(`${e.from}->${e.to}`);
      });
      return registry;
    };
    // Worker A claims a task and loads the workflow PENDING; its start waits at the gate.
    const { store: slow, gate } = gated(b.reopen());
    const a = listen(engine(slow, { engineId: 'worker-a' }), 'worker-a');
    await a.startWorker({ agents: [agent], pollMs: 5, batchSize: 1 });
    await gate.waiting;
    // Worker B runs the other task meanwhile: its start stores PENDING -> RUNNING.
    const bee = listen(engine(b.reopen(), { engineId: 'worker-b' }), 'worker-b');
    await bee.startWorker({ agents: [agent], pollMs: 5, batchSize: 1 });
    const tasks = submitter.getRepository('tasks');
    await until('one task completed by worker B', async () =>
      (await tasks.getMany(taskIds)).some((task) => task.status === 'COMPLETED'),
    );
    // A's start lands on a RUNNING row: no change of status, no event; its completion ends it.
    gate.open();
    const workflows = submitter.getRepository('workflows');
    await until(
      'the workflow completed',
      async () => (await workflows.get(workflowId))?.status === 'COMPLETED',
    );
    const stored = await eventuallyStored(submitter, workflowId, 2);
    expect(stored.map((e) => `${e.from}->${e.to} by ${e.engineId}`)).toEqual([
      'PENDING->RUNNING by worker-b',
      'RUNNING->COMPLETED by worker-a',
    ]);
    // Each engine's listeners heard what its commits stored.
    expect(heard.get('worker-b')).toEqual(['PENDING->RUNNING']);
    expect(heard.get('worker-a')).toEqual(['RUNNING->COMPLETED']);
  });
});

/** The workflow's stored status events, once there are at least `least` (PostgreSQL hands out late). */
async function eventuallyStored(registry: ServiceRegistry, workflowId: string, least: number) {
  let events: Array<{ from: string; to: string; engineId: string }> = [];
  await until(`${least} workflow.status events stored`, async () => {
    const page = await registry.readEvents({ workflowId, names: ['workflow.status'] });
    events = page.events.map((e) => ({
      ...(e.payload as { from: string; to: string }),
      engineId: e.engineId,
    }));
    return events.length >= least;
  });
  return events;
}
