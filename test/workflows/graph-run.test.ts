import { describe, expect, it } from 'vitest';
import { MemoryStore, ServiceRegistry, type Agent, type ExecutionContext } from '../../src/index.js';

function engine() {
  const registry = new ServiceRegistry({ store: new MemoryStore(), controlPollMs: 0 });
  return {
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
    await tracker.addTaskToWorkflow(wf.id, bug.id, { dependsOn: [triage.id], when: 'outputs.triage.label == "bug"' });
    await tracker.addTaskToWorkflow(wf.id, fix.id, { dependsOn: [bug.id] });
    await tracker.addTaskToWorkflow(wf.id, feature.id, {
      dependsOn: [triage.id],
      when: (deps) => (deps.triage as { label: string }).label === 'feature',
    });
    const { agent, ran } = recorder({ triage: { label: 'feature' } });
    const result = await executor.executeWorkflow(wf.id, { agent });
    expect(result.status).toBe('COMPLETED');
    expect(ran.map((r) => r.name).sort()).toEqual(['feature', 'triage']);
    const statuses = Object.fromEntries((await tracker.getWorkflowTasks(wf.id)).map((t) => [t.name, t.status]));
    expect(statuses).toEqual({ triage: 'COMPLETED', bug: 'SKIPPED', fix: 'SKIPPED', feature: 'COMPLETED' });
    await registry.stop();
  });
});
