import { describe, expect, it } from 'vitest';
import { MemoryStore, ServiceRegistry, type Agent, type ExecutionContext } from '../../src/index.js';

function engine() {
  const store = new MemoryStore();
  const registry = new ServiceRegistry({ store, controlPollMs: 0 });
  return {
    store,
    registry,
    tasks: registry.getTaskManager(),
    tracker: registry.getWorkflowTracker(),
    executor: registry.getEnhancedExecutor(),
  };
}

/** An agent that records what ran, with the dependencies it saw, and returns `outputs[name]`. */
function recorder(outputs: Record<string, unknown> = {}) {
  const ran: Array<{ name: string; dependencies: Record<string, unknown> }> = [];
  const agent: Agent = {
    id: 'recorder',
    async execute(task, context: ExecutionContext) {
      ran.push({ name: task.name, dependencies: { ...context.dependencies } });
      return outputs[task.name] ?? { from: task.name };
    },
  };
  return { agent, ran };
}

describe('executeWorkflow runs a graph', () => {
  it('runs each task after its dependencies, with their outputs by key', async () => {
    const { registry, tasks, tracker, executor } = engine();
    const wf = await tracker.createWorkflow({ name: 'diamond' });
    const a = await tasks.createTask({ name: 'a' });
    const b = await tasks.createTask({ name: 'b' });
    const c = await tasks.createTask({ name: 'c' });
    const d = await tasks.createTask({ name: 'd' });
    await tracker.addTaskToWorkflow(wf.id, a.id, { key: 'first' });
    await tracker.addTaskToWorkflow(wf.id, b.id, { dependsOn: [a.id], key: 'left' });
    await tracker.addTaskToWorkflow(wf.id, c.id, { dependsOn: [a.id] });
    await tracker.addTaskToWorkflow(wf.id, d.id, { dependsOn: [b.id, c.id] });
    const { agent, ran } = recorder();
    const result = await executor.executeWorkflow(wf.id, { agent });
    expect(result.status).toBe('COMPLETED');
    expect(result.results).toHaveLength(4);
    const order = ran.map((r) => r.name);
    expect(order[0]).toBe('a');
    expect(order[3]).toBe('d');
    expect(ran[3]!.dependencies).toEqual({ left: { from: 'b' }, [c.id]: { from: 'c' } });
    expect(ran.find((r) => r.name === 'b')!.dependencies).toEqual({ first: { from: 'a' } });
    expect(await tracker.getWorkflowStatus(wf.id)).toBe('COMPLETED');
    await registry.stop();
  });

  it('skips a task whose CEL condition is false, and its dependents', async () => {
    const { registry, tasks, tracker, executor } = engine();
    const wf = await tracker.createWorkflow({ name: 'branch' });
    const triage = await tasks.createTask({ name: 'triage' });
    const bug = await tasks.createTask({ name: 'bug' });
    const fix = await tasks.createTask({ name: 'fix' });
    const feature = await tasks.createTask({ name: 'feature' });
    await tracker.addTaskToWorkflow(wf.id, triage.id, { key: 'triage' });
    await tracker.addTaskToWorkflow(wf.id, bug.id, {
      dependsOn: [triage.id],
      when: 'outputs.triage.label == "bug"',
    });
    await tracker.addTaskToWorkflow(wf.id, fix.id, { dependsOn: [bug.id] });
    await tracker.addTaskToWorkflow(wf.id, feature.id, {
      dependsOn: [triage.id],
      when: (deps) => (deps.triage as { label: string }).label === 'feature',
    });
    const { agent, ran } = recorder({ triage: { label: 'feature' } });
    const result = await executor.executeWorkflow(wf.id, { agent });
    expect(result.status).toBe('COMPLETED');
    expect(ran.map((r) => r.name).sort()).toEqual(['feature', 'triage']);
    const statuses = Object.fromEntries(
      (await tracker.getWorkflowTasks(wf.id)).map((t) => [t.name, t.status]),
    );
    expect(statuses).toEqual({ triage: 'COMPLETED', bug: 'SKIPPED', fix: 'SKIPPED', feature: 'COMPLETED' });
    await registry.stop();
  });
});

describe('addTasksToWorkflow builds a graph in one call', () => {
  it('takes dependencies on tasks of the same call in any order, and runs them in dependency order', async () => {
    const { registry, tasks, tracker, executor } = engine();
    const wf = await tracker.createWorkflow({ name: 'batch' });
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((name) => tasks.createTask({ name })));
    await tracker.addTasksToWorkflow(wf.id, [
      { taskId: c!.id, dependsOn: [b!.id] },
      { taskId: b!.id, dependsOn: [a!.id], key: 'b' },
      { taskId: a!.id },
    ]);
    const { agent, ran } = recorder();
    expect((await executor.executeWorkflow(wf.id, { agent })).status).toBe('COMPLETED');
    expect(ran.map((r) => r.name)).toEqual(['a', 'b', 'c']);
    expect(ran[2]!.dependencies).toEqual({ b: { from: 'b' } });
    await registry.stop();
  });

  it('refuses a cycle, an unknown dependency or a duplicate key, and then adds nothing', async () => {
    const { registry, tasks, tracker } = engine();
    const wf = await tracker.createWorkflow({ name: 'bad' });
    const [a, b] = await Promise.all(['a', 'b'].map((name) => tasks.createTask({ name })));
    const cycle = tracker.addTasksToWorkflow(wf.id, [
      { taskId: a!.id, dependsOn: [b!.id] },
      { taskId: b!.id, dependsOn: [a!.id] },
    ]);
    await expect(cycle).rejects.toMatchObject({ code: 'INVALID_GRAPH', details: { problem: 'cycle' } });
    await expect(
      tracker.addTasksToWorkflow(wf.id, [{ taskId: a!.id, dependsOn: ['nope'] }]),
    ).rejects.toMatchObject({
      code: 'INVALID_GRAPH',
      details: { problem: 'unknown-dependency', dependency: 'nope' },
    });
    await expect(
      tracker.addTasksToWorkflow(wf.id, [
        { taskId: a!.id, key: 'k' },
        { taskId: b!.id, key: 'k' },
      ]),
    ).rejects.toMatchObject({ code: 'INVALID_GRAPH', details: { problem: 'duplicate-key', key: 'k' } });
    await expect(tracker.addTaskToWorkflow(wf.id, a!.id, { dependsOn: [a!.id] })).rejects.toMatchObject({
      code: 'INVALID_GRAPH',
      details: { problem: 'self-dependency' },
    });
    await expect(tracker.addTaskToWorkflow(wf.id, a!.id, { when: 'outputs.x ==' })).rejects.toMatchObject({
      code: 'INVALID_CONDITION',
    });
    expect(await tracker.getWorkflowTasks(wf.id)).toEqual([]);
    await registry.stop();
  });

  it('a task with a condition that throws ends FAILED unrun with CONDITION_FAILED; a retry decides it again', async () => {
    const { registry, tasks, tracker, executor } = engine();
    const wf = await tracker.createWorkflow({ name: 'reject' });
    const a = await tasks.createTask({ name: 'a' });
    const b = await tasks.createTask({ name: 'b' });
    let answer: () => boolean = () => {
      throw new Error('no idea');
    };
    await tracker.addTasksToWorkflow(wf.id, [
      { taskId: a.id, key: 'a' },
      { taskId: b.id, dependsOn: [a.id], when: () => answer() },
    ]);
    const { agent, ran } = recorder();
    const first = await executor.executeWorkflow(wf.id, { agent });
    expect(first.status).toBe('FAILED');
    const failed = await tasks.getTask(b.id);
    expect(failed.status).toBe('FAILED');
    expect(failed.attempts).toBe(0);
    expect(failed.errors.at(-1)).toMatchObject({ code: 'CONDITION_FAILED', retryable: false });
    answer = () => true;
    await tasks.retryTask(b.id);
    const second = await executor.executeWorkflow(wf.id, { agent });
    expect(second.status).toBe('COMPLETED');
    expect(ran.map((r) => r.name)).toEqual(['a', 'b']);
    await registry.stop();
  });
});

describe('forEach: a fan-out', () => {
  it('makes one task per item, runs them, and completes with their outputs in order for its dependents', async () => {
    const { store, registry, tasks, tracker, executor } = engine();
    const wf = await tracker.createWorkflow({ name: 'fan-out' });
    const fetch = await tasks.createTask({ name: 'fetch' });
    const each = await tasks.createTask({ name: 'summarise', inputData: { style: 'short' } });
    const review = await tasks.createTask({ name: 'review' });
    await tracker.addTasksToWorkflow(wf.id, [
      { taskId: fetch.id, key: 'fetch' },
      { taskId: each.id, dependsOn: [fetch.id], key: 'summaries', forEach: 'outputs.fetch.documents' },
      { taskId: review.id, dependsOn: [each.id] },
    ]);
    const ran: Array<{ name: string; input: Record<string, unknown>; deps: Record<string, unknown> }> = [];
    const agent: Agent = {
      id: 'a',
      async execute(task, context) {
        ran.push({ name: task.name, input: task.inputData, deps: { ...context.dependencies } });
        if (task.name === 'fetch') return { documents: ['x', 'y', 'z'] };
        if (task.name.startsWith('summarise')) return `sum of ${String(task.inputData.item)}`;
        return 'reviewed';
      },
    };
    const result = await executor.executeWorkflow(wf.id, { agent, maxConcurrent: 2 });
    expect(result.status).toBe('COMPLETED');
    const names = ran.map((r) => r.name);
    expect(names[0]).toBe('fetch');
    expect(names.slice(1, 4).sort()).toEqual(['summarise [0]', 'summarise [1]', 'summarise [2]']);
    expect(names[4]).toBe('review');
    expect(ran[1]!.input).toMatchObject({ style: 'short', index: expect.any(Number) });
    expect(ran[4]!.deps).toEqual({ summaries: ['sum of x', 'sum of y', 'sum of z'] });
    const all = await tracker.getWorkflowTasks(wf.id);
    expect(all).toHaveLength(6);
    const parent = all.find((t) => t.id === each.id)!;
    expect(parent.status).toBe('COMPLETED');
    expect(parent.attempts).toBe(0);
    expect(parent.graph!.children).toEqual([0, 1, 2].map((i) => `${each.id}-${i}`));
    const completions = await store.completions();
    expect(completions.filter((c) => c.taskId === each.id)).toHaveLength(1);
    await registry.stop();
  });

  it('an empty list completes at once with []; a list that is not one fails the fan-out unrun', async () => {
    const { registry, tasks, tracker, executor } = engine();
    const wf = await tracker.createWorkflow({ name: 'fan-out edge' });
    const root = await tasks.createTask({ name: 'root' });
    const empty = await tasks.createTask({ name: 'empty' });
    const bad = await tasks.createTask({ name: 'bad' });
    await tracker.addTasksToWorkflow(wf.id, [
      { taskId: root.id, key: 'root' },
      { taskId: empty.id, dependsOn: [root.id], forEach: (deps) => (deps.root as { none: unknown[] }).none },
      { taskId: bad.id, dependsOn: [root.id], forEach: 'outputs.root.label' },
    ]);
    const agent: Agent = { id: 'a', execute: async () => ({ none: [], label: 'x' }) };
    const result = await executor.executeWorkflow(wf.id, { agent });
    expect(result.status).toBe('FAILED');
    expect(await tasks.getTask(empty.id)).toMatchObject({ status: 'COMPLETED', outputData: [] });
    const failed = await tasks.getTask(bad.id);
    expect(failed.status).toBe('FAILED');
    expect(failed.errors.at(-1)).toMatchObject({ code: 'CONDITION_FAILED' });
    await registry.stop();
  });
});

describe('a graph node runs when its graph releases it', () => {
  it('executeTask refuses a node still waiting for its dependencies (INVALID_STATE); executeWorkflow runs it', async () => {
    const { registry, tasks, tracker, executor } = engine();
    const wf = await tracker.createWorkflow({ name: 'guarded' });
    const a = await tasks.createTask({ name: 'a' });
    const b = await tasks.createTask({ name: 'b' });
    await tracker.addTasksToWorkflow(wf.id, [{ taskId: a.id }, { taskId: b.id, dependsOn: [a.id] }]);
    const { agent, ran } = recorder();
    await expect(executor.executeTask(b.id, agent)).rejects.toMatchObject({
      code: 'INVALID_STATE',
      details: { taskId: b.id, node: 'waiting' },
    });
    expect((await executor.executeWorkflow(wf.id, { agent })).status).toBe('COMPLETED');
    expect(ran.map((r) => r.name)).toEqual(['a', 'b']);
    await registry.stop();
  });
});
