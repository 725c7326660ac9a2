import { describe, expect, it } from 'vitest';
import { ServiceRegistry, type Agent, type Store } from '../../src/index.js';
import { localStores } from './local-stores.js';
import { createTestClock, flushEngine } from '../../src/testing/index.js';

// Steering a child-workflow node (docs/workflows.md, "Child workflows"): cancelling the node
// cancels its child, and nothing of the child starts once the node's cancel has committed;
// retrying a node whose child was cancelled fails it again and leaves the child's tasks CANCELLED.

const stores = localStores('child-cancel');

/** A parent `pre -> node -> post`, the node running a child `k1 -> k2` made from its definition. */
async function setUp(store: Store) {
  const registry = new ServiceRegistry({ store, clock: createTestClock(0), controlPollMs: 0 });
  const tasks = registry.getTaskManager();
  const tracker = registry.getWorkflowTracker();
  const parent = await tracker.createWorkflow({ name: 'parent' });
  const [pre, node, post] = await Promise.all(
    ['pre', 'node', 'post'].map((name) => tasks.createTask({ name })),
  );
  await tracker.addTasksToWorkflow(parent.id, [
    { taskId: pre!.id, key: 'pre' },
    {
      taskId: node!.id,
      key: 'node',
      dependsOn: [pre!.id],
      workflow: { definition: { name: 'kid', tasks: [{ key: 'k1' }, { key: 'k2', dependsOn: ['k1'] }] } },
    },
    { taskId: post!.id, dependsOn: [node!.id] },
  ]);
  const started: string[] = [];
  /** Child tasks that started while the node's row said CANCELLED. */
  const afterCancel: string[] = [];
  const gates: Array<() => void> = [];
  const agent: Agent = {
    id: 'gated',
    execute: async (task, context) => {
      if (task.workflowId === parent.id) return { ran: task.name };
      started.push(task.name);
      if ((await store.tasks.get(node!.id))?.status === 'CANCELLED') afterCancel.push(task.name);
      await new Promise<void>((resolve) => {
        gates.push(resolve);
        context.signal.addEventListener('abort', () => resolve());
      });
      return { ran: task.name };
    },
  };
  const run = registry.getEnhancedExecutor().executeWorkflow(parent.id, { agent, retry: { maxAttempts: 1 } });
  await flushEngine(30);
  const childId = (await tasks.getTask(node!.id)).graph!.workflow!.id!;
  const childStatuses = async () => (await tracker.getWorkflowTasks(childId)).map((task) => task.status);
  return {
    registry,
    tasks,
    tracker,
    parent,
    node: node!,
    agent,
    run,
    childId,
    childStatuses,
    started,
    afterCancel,
    gates,
  };
}

describe.each(stores)('a child-workflow node steered (%s)', (_name, makeStore) => {
  it('cancelling the node cancels its child; nothing of the child starts after', async () => {
    const t = await setUp(makeStore());
    expect(t.started).toEqual(['k1']);
    const cancelled = await t.tasks.cancelTask(t.node.id);
    expect(cancelled.status).toBe('CANCELLED');
    expect(await t.tracker.getWorkflowStatus(t.childId)).toBe('CANCELLED');
    expect(await t.childStatuses()).toEqual(['CANCELLED', 'CANCELLED']);
    for (const open of t.gates.splice(0)) open();
    await flushEngine(30);
    await t.run;
    expect(t.started).toEqual(['k1']);
    expect(await t.childStatuses()).toEqual(['CANCELLED', 'CANCELLED']);
    await t.registry.stop();
  });

  it('a child task that ends as the node is cancelled starts nothing after the cancel committed', async () => {
    for (let turns = 0; turns < 6; turns += 1) {
      const t = await setUp(makeStore());
      const cancelling = t.tasks.cancelTask(t.node.id);
      await flushEngine(turns);
      for (const open of t.gates.splice(0)) open();
      await cancelling;
      await flushEngine(30);
      for (const open of t.gates.splice(0)) open();
      await flushEngine(30);
      expect(t.afterCancel).toEqual([]);
      expect(await t.tracker.getWorkflowStatus(t.childId)).toBe('CANCELLED');
      expect(
        (await t.childStatuses()).every((status) => status === 'CANCELLED' || status === 'COMPLETED'),
      ).toBe(true);
      await t.registry.stop();
    }
  });

  it('retrying a node whose child was cancelled fails it again and leaves the child tasks CANCELLED', async () => {
    const t = await setUp(makeStore());
    await t.tracker.cancelWorkflow(t.childId);
    expect((await t.run).status).toBe('FAILED');
    expect(await t.childStatuses()).toEqual(['CANCELLED', 'CANCELLED']);
    await t.tasks.retryTask(t.node.id);
    const again = await t.registry.getEnhancedExecutor().executeWorkflow(t.parent.id, { agent: t.agent });
    expect(again.status).toBe('FAILED');
    const node = await t.tasks.getTask(t.node.id);
    expect(node.status).toBe('FAILED');
    expect(node.errors.map((error) => error.code)).toEqual([
      'CHILD_WORKFLOW_FAILED',
      'CHILD_WORKFLOW_FAILED',
    ]);
    expect(await t.tracker.getWorkflowStatus(t.childId)).toBe('CANCELLED');
    expect(await t.childStatuses()).toEqual(['CANCELLED', 'CANCELLED']);
    expect(t.started).toEqual(['k1']);
    await t.registry.stop();
  });
});
