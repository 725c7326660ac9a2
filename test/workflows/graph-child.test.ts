import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MemoryStore, ServiceRegistry, type Agent, type Store } from '../../src/index.js';
import { SqliteStore } from '../../src/sqlite.js';
import { createTestClock, flushEngine } from '../../src/testing/index.js';

// Child workflows in a workflow graph (issue 12): a node whose work is another workflow; its output
// is the child's result; pausing or cancelling the parent pauses or cancels the child.

function open(store: Store = new MemoryStore()) {
  const registry = new ServiceRegistry({ store, clock: createTestClock(0), controlPollMs: 0 });
  return {
    registry,
    tasks: registry.getTaskManager(),
    tracker: registry.getWorkflowTracker(),
    executor: registry.getEnhancedExecutor(),
  };
}

type Opened = ReturnType<typeof open>;

/** Gives `{ ran: <name> }`; fails a task named `fail` once per flag set. */
function echo(failing: Set<string> = new Set()): Agent {
  return {
    id: 'echo',
    execute: async (task) => {
      if (failing.delete(task.name)) throw new Error(`${task.name} failed`);
      return { ran: task.name, deps: Object.keys(task.inputData) };
    },
  };
}

/** A child workflow `fetch -> summarise`; returns its id. */
async function child({ tasks, tracker }: Opened, name = 'child'): Promise<string> {
  const wf = await tracker.createWorkflow({ name });
  const fetch = await tasks.createTask({ name: 'fetch' });
  const summarise = await tasks.createTask({ name: 'summarise' });
  await tracker.addTasksToWorkflow(wf.id, [
    { taskId: fetch.id, key: 'fetch' },
    { taskId: summarise.id, key: 'summarise', dependsOn: [fetch.id] },
  ]);
  return wf.id;
}

describe('child workflows', () => {
  it('runs the child when the node is reached; the node completes with its outputs by key', async () => {
    const opened = open();
    const { registry, tasks, tracker, executor } = opened;
    const childId = await child(opened);
    const parent = await tracker.createWorkflow({ name: 'parent' });
    const plan = await tasks.createTask({ name: 'plan' });
    const research = await tasks.createTask({ name: 'research' });
    const report = await tasks.createTask({ name: 'report' });
    await tracker.addTasksToWorkflow(parent.id, [
      { taskId: plan.id },
      { taskId: research.id, key: 'research', dependsOn: [plan.id], workflow: childId },
      { taskId: report.id, dependsOn: [research.id] },
    ]);
    const seen: Record<string, unknown>[] = [];
    const agent: Agent = {
      id: 'spy',
      execute: async (task, context) => {
        if (task.name === 'report') seen.push(context.dependencies);
        return { ran: task.name };
      },
    };
    const result = await executor.executeWorkflow(parent.id, { agent });
    expect(result.status).toBe('COMPLETED');
    const node = await tasks.getTask(research.id);
    const expected = {
      workflowId: childId,
      status: 'COMPLETED',
      outputs: { fetch: { ran: 'fetch' }, summarise: { ran: 'summarise' } },
    };
    expect(node).toMatchObject({ status: 'COMPLETED', attempts: 0, outputData: expected });
    expect(await tracker.getWorkflowStatus(childId)).toBe('COMPLETED');
    expect(seen).toEqual([{ research: expected }]);
    expect((await registry.getWorkflowTracker().getWorkflowTasks(childId)).map((t) => t.status)).toEqual([
      'COMPLETED',
      'COMPLETED',
    ]);
    await registry.stop();
  });

  it('a failed child fails the node CHILD_WORKFLOW_FAILED; retrying the node retries the child', async () => {
    const opened = open();
    const { registry, tasks, tracker, executor } = opened;
    const childId = await child(opened);
    const parent = await tracker.createWorkflow({ name: 'parent' });
    const node = await tasks.createTask({ name: 'node' });
    await tracker.addTaskToWorkflow(parent.id, node.id, { workflow: { id: childId } });
    const failing = new Set(['summarise']);
    const first = await executor.executeWorkflow(parent.id, {
      agent: echo(failing),
      retry: { maxAttempts: 1 },
    });
    expect(first.status).toBe('FAILED');
    const failed = await tasks.getTask(node.id);
    expect(failed.status).toBe('FAILED');
    expect(failed.errors.at(-1)).toMatchObject({
      code: 'CHILD_WORKFLOW_FAILED',
      retryable: false,
    });
    expect(await tracker.getWorkflowStatus(childId)).toBe('FAILED');
    await tasks.retryTask(node.id);
    const second = await executor.executeWorkflow(parent.id, { agent: echo(failing) });
    expect(second.status).toBe('COMPLETED');
    expect(await tracker.getWorkflowStatus(childId)).toBe('COMPLETED');
    await registry.stop();
  });

  it('pausing the parent pauses the running child; resuming resumes both; cancelling cancels both', async () => {
    const opened = open();
    const { registry, tasks, tracker, executor } = opened;
    const childId = await child(opened);
    const parent = await tracker.createWorkflow({ name: 'parent' });
    const node = await tasks.createTask({ name: 'node' });
    await tracker.addTaskToWorkflow(parent.id, node.id, { workflow: childId });
    const gate: Array<() => void> = [];
    const agent: Agent = {
      id: 'gated',
      execute: (task) => new Promise((resolve) => gate.push(() => resolve({ ran: task.name }))),
    };
    const run = executor.executeWorkflow(parent.id, { agent });
    await flushEngine(20);
    expect(gate).toHaveLength(1); // fetch of the child is running
    await tracker.pauseWorkflow(parent.id);
    gate.shift()!();
    expect((await run).status).toBe('PAUSED');
    expect(await tracker.getWorkflowStatus(childId)).toBe('PAUSED');
    await tracker.resumeWorkflow(parent.id);
    expect(await tracker.getWorkflowStatus(childId)).not.toBe('PAUSED');
    const resumed = executor.executeWorkflow(parent.id, { agent });
    await flushEngine(20);
    expect(gate).toHaveLength(1); // summarise
    await tracker.cancelWorkflow(parent.id);
    expect((await resumed).status).toBe('CANCELLED');
    expect(await tracker.getWorkflowStatus(childId)).toBe('CANCELLED');
    await registry.stop();
  });

  it('refuses an unknown child, a workflow running itself, and a cycle through children', async () => {
    const opened = open();
    const { registry, tasks, tracker } = opened;
    const a = await tracker.createWorkflow({ name: 'a' });
    const b = await tracker.createWorkflow({ name: 'b' });
    const [x, y, z] = await Promise.all(['x', 'y', 'z'].map((name) => tasks.createTask({ name })));
    await expect(tracker.addTaskToWorkflow(a.id, x!.id, { workflow: 'nope' })).rejects.toMatchObject({
      code: 'WORKFLOW_NOT_FOUND',
    });
    await expect(tracker.addTaskToWorkflow(a.id, x!.id, { workflow: a.id })).rejects.toMatchObject({
      code: 'INVALID_GRAPH',
      details: { problem: 'workflow-cycle' },
    });
    await tracker.addTaskToWorkflow(a.id, x!.id, { workflow: b.id });
    await expect(tracker.addTaskToWorkflow(b.id, y!.id, { workflow: a.id })).rejects.toMatchObject({
      code: 'INVALID_GRAPH',
      details: { problem: 'workflow-cycle', cycle: [b.id, a.id, b.id] },
    });
    await expect(tracker.addTaskToWorkflow(a.id, z!.id, { workflow: b.id })).rejects.toMatchObject({
      code: 'INVALID_GRAPH',
      details: { problem: 'duplicate-child' },
    });
    await expect(
      tracker.addTaskToWorkflow(a.id, z!.id, { workflow: b.id, waitFor: 'x' }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await registry.stop();
  });

  it('on SQLite: a parent stopped while its child runs goes on after a restart, the child not re-run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'symphony-child-'));
    try {
      const path = join(dir, 'c.db');
      const first = open(new SqliteStore({ path }));
      const childId = await child(first);
      const parent = await first.tracker.createWorkflow({ name: 'parent' });
      const node = await first.tasks.createTask({ name: 'node' });
      await first.tracker.addTaskToWorkflow(parent.id, node.id, { workflow: childId, key: 'node' });
      const ran: string[] = [];
      let hold: (() => void) | null = null;
      const agent: Agent = {
        id: 'a',
        execute: async (task) => {
          ran.push(task.name);
          if (task.name === 'summarise' && hold === null) await new Promise<void>((r) => (hold = r));
          return { ran: task.name };
        },
      };
      void first.executor.executeWorkflow(parent.id, { agent }).catch(() => {});
      await flushEngine(20);
      expect(ran).toEqual(['fetch', 'summarise']);
      await first.registry.stop({ graceMs: 0 });

      const second = open(new SqliteStore({ path }));
      await second.registry.recover({ workflowId: childId, resolveAgent: () => agent });
      const result = await second.executor.executeWorkflow(parent.id, { agent });
      expect(result.status).toBe('COMPLETED');
      expect(ran).toEqual(['fetch', 'summarise', 'summarise']);
      expect((await second.tasks.getTask(node.id)).outputData).toMatchObject({
        workflowId: childId,
        outputs: { fetch: { ran: 'fetch' }, summarise: { ran: 'summarise' } },
      });
      await second.registry.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('makes a child from a definition when the node is reached, once, with fixed ids; its tasks see the parent input', async () => {
    const { registry, tasks, tracker, executor } = open();
    const parent = await tracker.createWorkflow({ name: 'parent' });
    const node = await tasks.createTask({ name: 'node', inputData: { topic: 'llamas' } });
    await tracker.addTaskToWorkflow(parent.id, node.id, {
      key: 'node',
      workflow: {
        definition: {
          name: 'research',
          tasks: [
            { key: 'fetch', inputData: { step: 1 } },
            { key: 'check', dependsOn: ['fetch'], when: 'outputs.fetch.ok == true' },
            { key: 'skipme', dependsOn: ['fetch'], when: 'outputs.fetch.ok == false' },
          ],
        },
      },
    });
    const inputs: Record<string, unknown>[] = [];
    const agent: Agent = {
      id: 'a',
      execute: async (task) => {
        inputs.push(task.inputData);
        return { ok: true, name: task.name };
      },
    };
    expect((await executor.executeWorkflow(parent.id, { agent })).status).toBe('COMPLETED');
    const childId = `${node.id}-wf`;
    const made = await tracker.getWorkflowTasks(childId);
    expect(made.map((t) => [t.id, t.status])).toEqual([
      [`${childId}-fetch`, 'COMPLETED'],
      [`${childId}-check`, 'COMPLETED'],
      [`${childId}-skipme`, 'SKIPPED'],
    ]);
    expect(inputs[0]).toEqual({ step: 1, parent: { topic: 'llamas' } });
    expect((await tasks.getTask(node.id)).graph?.workflow?.id).toBe(childId);
    expect((await tasks.getTask(node.id)).outputData).toEqual({
      workflowId: childId,
      status: 'COMPLETED',
      outputs: { fetch: { ok: true, name: 'fetch' }, check: { ok: true, name: 'check' } },
    });
    await registry.stop();
  });

  it('loops over a group of tasks: each iteration makes the definition anew until `until` holds', async () => {
    const { registry, tasks, tracker, executor } = open();
    const parent = await tracker.createWorkflow({ name: 'parent' });
    const loop = await tasks.createTask({ name: 'draft-review' });
    await tracker.addTaskToWorkflow(parent.id, loop.id, {
      key: 'rounds',
      loop: { until: 'outputs.rounds.outputs.review.approved == true', maxIterations: 4 },
      workflow: {
        definition: {
          name: 'round',
          tasks: [
            { key: 'write', inputData: { role: 'writer' } },
            { key: 'review', dependsOn: ['write'], inputData: { role: 'reviewer' } },
          ],
        },
      },
    });
    const agent: Agent = {
      id: 'a',
      execute: async (task) => {
        const iteration = (task.inputData.parent as { iteration: number }).iteration;
        return task.inputData.role === 'reviewer' ? { approved: iteration >= 1 } : { draft: iteration };
      },
    };
    expect((await executor.executeWorkflow(parent.id, { agent })).status).toBe('COMPLETED');
    const done = await tasks.getTask(loop.id);
    expect(done.graph?.children).toEqual([`${loop.id}-0`, `${loop.id}-1`]);
    expect(done.outputData).toMatchObject({
      workflowId: `${loop.id}-1-wf`,
      outputs: { write: { draft: 1 }, review: { approved: true } },
    });
    expect(await tracker.getWorkflowStatus(`${loop.id}-0-wf`)).toBe('COMPLETED');
    await registry.stop();
  });

  it('refuses bad definitions with typed errors', async () => {
    const { registry, tasks, tracker } = open();
    const wf = await tracker.createWorkflow({ name: 'p' });
    const x = await tasks.createTask({ name: 'x' });
    const add = (definition: unknown) =>
      tracker.addTaskToWorkflow(wf.id, x.id, { workflow: { definition } as never });
    await expect(add({ name: 'd', tasks: [] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(add({ name: 'd', tasks: [{ key: 'a' }, { key: 'a' }] })).rejects.toMatchObject({
      code: 'INVALID_GRAPH',
    });
    await expect(
      add({
        name: 'd',
        tasks: [
          { key: 'a', dependsOn: ['b'] },
          { key: 'b', dependsOn: ['a'] },
        ],
      }),
    ).rejects.toMatchObject({ code: 'INVALID_GRAPH', details: { problem: 'cycle' } });
    await expect(add({ name: 'd', tasks: [{ key: 'a', dependsOn: ['zz'] }] })).rejects.toMatchObject({
      code: 'INVALID_GRAPH',
      details: { problem: 'unknown-dependency' },
    });
    await expect(add({ name: 'd', tasks: [{ key: 'a', when: () => true }] })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    await expect(add({ name: 'd', tasks: [{ key: 'a', when: 'outputs +' }] })).rejects.toMatchObject({
      code: 'INVALID_CONDITION',
    });
    await expect(
      add({ name: 'd', tasks: [{ key: 'a', inputData: { big: 'x'.repeat(2_000_000) } }] }),
    ).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    await registry.stop();
  });
});
