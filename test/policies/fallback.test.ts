import { expect, it } from 'vitest';
import type { AgentConfig, ServiceRegistry, Store } from '../../src/index.js';
import { createTestClock } from '../../src/testing/index.js';
import { describeEveryStore, useEngines } from '../durability/backends.js';
import { until } from '../support/wait.js';

// Issue 14, fallback agents: a task of a routed workflow that fails for good is routed again by the
// router's strategy, without the agent configs that failed it, up to `fallback.maxAgents` more.

/** A CUSTOM strategy that picks the candidate whose name comes first: A, then B, then C... */
const byName = (_task: unknown, candidates: readonly AgentConfig[]) =>
  [...candidates].sort((a, b) => a.name.localeCompare(b.name))[0];

/** Agent types `bad` (throws) and `good`, each recording the config's name on each run. */
function withAgents(registry: ServiceRegistry, ran: string[]): void {
  const factory = registry.getAgentFactory();
  factory.registerAgentType('bad', (config) => ({
    execute: async () => {
      ran.push(config.name);
      throw new Error(`${config.name} is down`);
    },
  }));
  factory.registerAgentType('good', (config) => ({
    execute: async () => {
      ran.push(config.name);
      return { by: config.name };
    },
  }));
}

/** Agent configs named and typed as given (`A:bad`), in that order. */
async function configs(registry: ServiceRegistry, specs: string[]): Promise<Record<string, AgentConfig>> {
  const made: Record<string, AgentConfig> = {};
  for (const spec of specs) {
    const [name, type] = spec.split(':') as [string, string];
    made[name] = await registry.getAgentFactory().createAgentConfig({ name, type });
  }
  return made;
}

/** A workflow of one task; returns both ids. */
async function oneTask(registry: ServiceRegistry): Promise<{ workflowId: string; taskId: string }> {
  const workflow = await registry.getWorkflowTracker().createWorkflow({ name: 'fallback' });
  const task = await registry.getTaskManager().createTask({ name: 'summarize', workflowId: workflow.id });
  return { workflowId: workflow.id, taskId: task.id };
}

describeEveryStore('fallback agents', (backend) => {
  const engines = useEngines();
  const engine = (store: Store, retry = { maxAttempts: 1 }) => {
    const registry = engines(store, { clock: createTestClock(1_000_000), customRouting: byName, retry });
    registry.getTaskRouter('CUSTOM');
    return registry;
  };

  it('a task failing for good on A completes on B, with a fresh attempt budget; history names each agent', async () => {
    const registry = engine(backend().store, { maxAttempts: 1 });
    const ran: string[] = [];
    withAgents(registry, ran);
    const { A, B } = await configs(registry, ['A:bad', 'B:good']);
    const { workflowId, taskId } = await oneTask(registry);

    const result = await registry
      .getEnhancedExecutor()
      .executeWorkflow(workflowId, { fallback: { maxAgents: 1 }, retry: { maxAttempts: 1 } });

    expect(result.status).toBe('COMPLETED');
    expect(ran).toEqual(['A', 'B']);
    expect(result.results.map((one) => [one.status, one.agentId])).toEqual([
      ['FAILED', A!.id],
      ['COMPLETED', B!.id],
    ]);
    const task = await registry.getTaskManager().getTask(taskId);
    expect(task.status).toBe('COMPLETED');
    expect(task.outputData).toEqual({ by: 'B' });
    expect(task.agentId).toBe(B!.id);
    expect(task.metadata).toMatchObject({ fallbackFrom: [A!.id], fallbackAgent: B!.id });
    expect(task.errors.map((error) => [error.agentId, error.message])).toEqual([[A!.id, 'A is down']]);
  });

  it('the limit holds: with maxAgents 2 the task tries A, B, C once each and stays FAILED', async () => {
    const registry = engine(backend().store);
    const ran: string[] = [];
    withAgents(registry, ran);
    const { A, B, C } = await configs(registry, ['A:bad', 'B:bad', 'C:bad', 'D:good']);
    const { workflowId, taskId } = await oneTask(registry);

    const result = await registry
      .getEnhancedExecutor()
      .executeWorkflow(workflowId, { fallback: { maxAgents: 2 } });

    expect(result.status).toBe('FAILED');
    // A is never picked again for it, nor B; D, past the limit, never runs.
    expect(ran).toEqual(['A', 'B', 'C']);
    const task = await registry.getTaskManager().getTask(taskId);
    expect(task.status).toBe('FAILED');
    expect(task.errors.map((error) => error.agentId)).toEqual([A!.id, B!.id, C!.id]);
    expect(task.metadata).toMatchObject({ fallbackFrom: [A!.id, B!.id], fallbackAgent: C!.id });
  });

  it('off by default; with no agent left the task stays FAILED with its history', async () => {
    const registry = engine(backend().store);
    const ran: string[] = [];
    withAgents(registry, ran);
    await configs(registry, ['A:bad', 'B:good']);
    const first = await oneTask(registry);
    const result = await registry.getEnhancedExecutor().executeWorkflow(first.workflowId);
    expect([result.status, ran]).toEqual(['FAILED', ['A']]);

    // With A the only agent config, routing finds no one to fall back to (NO_AGENT_AVAILABLE).
    const lonely = engine(backend().store);
    const lonelyRan: string[] = [];
    withAgents(lonely, lonelyRan);
    await configs(lonely, ['A:bad']);
    const second = await oneTask(lonely);
    const alone = await lonely
      .getEnhancedExecutor()
      .executeWorkflow(second.workflowId, { fallback: { maxAgents: 3 } });
    expect([alone.status, lonelyRan]).toEqual(['FAILED', ['A']]);
    const task = await lonely.getTaskManager().getTask(second.taskId);
    expect(task.errors).toHaveLength(1);
  });

  it('falls back only among the candidates given', async () => {
    const registry = engine(backend().store);
    const ran: string[] = [];
    withAgents(registry, ran);
    const { A, C } = await configs(registry, ['A:bad', 'B:good', 'C:good']);
    const { workflowId } = await oneTask(registry);
    const result = await registry
      .getEnhancedExecutor()
      .executeWorkflow(workflowId, { fallback: { maxAgents: 1, candidates: [A!.id, C!.id] } });
    expect([result.status, ran]).toEqual(['COMPLETED', ['A', 'C']]);
  });

  // A config only at its maxConcurrency is still one to fall back to: the task waits in its queue
  // (routing used to answer all-at-limit, which was taken as "no agent left": FAILED for good).
  it('falls back to a config that is only busy: the task waits for its slot and completes there', async () => {
    const registry = engine(backend().store);
    const ran: string[] = [];
    withAgents(registry, ran);
    const factory = registry.getAgentFactory();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    factory.registerAgentType('held', (config) => ({
      execute: async (task) => {
        ran.push(`${config.name}:${task.name}`);
        if (task.name === 'other') await gate;
        return { by: config.name };
      },
    }));
    const { A } = await configs(registry, ['A:bad']);
    const B = await factory.createAgentConfig({ name: 'B', type: 'held', maxConcurrency: 1 });
    const router = registry.getTaskRouter();
    // B's one slot is taken by a task of its own, held until the test lets it go.
    const other = await registry.getTaskManager().createTask({ name: 'other' });
    const busy = registry.getEnhancedExecutor().executeTask(other.id, await factory.createAgent(B.id));
    await until('B is busy', async () => (await router.getLoad()).get(B.id)?.inFlight === 1);
    const { workflowId, taskId } = await oneTask(registry);

    const run = registry.getEnhancedExecutor().executeWorkflow(workflowId, { fallback: { maxAgents: 1 } });
    let ended: string | undefined;
    void run.then((result) => (ended = result.status));
    const manager = registry.getTaskManager();
    try {
      await until('the task fell back to B (or the run ended)', async () => {
        const task = await manager.getTask(taskId);
        return ended !== undefined || (task.status === 'PENDING' && task.metadata.fallbackAgent === B.id);
      });
      expect(ended).toBeUndefined();
      expect(ran).toEqual(['B:other', 'A']);
    } finally {
      release();
    }
    expect((await busy).status).toBe('COMPLETED');
    const result = await run;
    expect(result.status).toBe('COMPLETED');
    expect(ran).toEqual(['B:other', 'A', 'B:summarize']);
    const task = await manager.getTask(taskId);
    expect([task.status, task.agentId]).toEqual(['COMPLETED', B.id]);
    expect(task.metadata).toMatchObject({ fallbackFrom: [A!.id], fallbackAgent: B.id });
  });

  it('with no candidate config left (a busy config not among them), the task stays FAILED', async () => {
    const registry = engine(backend().store);
    const ran: string[] = [];
    withAgents(registry, ran);
    const factory = registry.getAgentFactory();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    factory.registerAgentType('held', () => ({ execute: () => gate.then(() => 'done') }));
    const { A } = await configs(registry, ['A:bad']);
    const B = await factory.createAgentConfig({ name: 'B', type: 'held', maxConcurrency: 1 });
    const other = await registry.getTaskManager().createTask({ name: 'other' });
    const busy = registry.getEnhancedExecutor().executeTask(other.id, await factory.createAgent(B.id));
    const { workflowId, taskId } = await oneTask(registry);
    const result = await registry
      .getEnhancedExecutor()
      .executeWorkflow(workflowId, { fallback: { maxAgents: 1, candidates: [A!.id] } });
    release();
    expect([result.status, ran]).toEqual(['FAILED', ['A']]);
    const task = await registry.getTaskManager().getTask(taskId);
    expect(task.status).toBe('FAILED');
    expect(task.metadata.fallbackAgent).toBeUndefined();
    expect((await busy).status).toBe('COMPLETED');
  });

  it('an agent whose circuit breaker is open is skipped', async () => {
    const registry = engine(backend().store);
    const ran: string[] = [];
    withAgents(registry, ran);
    const factory = registry.getAgentFactory();
    const { A } = await configs(registry, ['A:bad']);
    const B = await factory.createAgentConfig({
      name: 'B',
      type: 'bad',
      circuitBreaker: { failureThreshold: 1, windowMs: 60_000, cooldownMs: 60_000 },
    });
    const made = await configs(registry, ['C:good']);
    // B fails once on a task of its own: its breaker opens.
    const other = await registry.getTaskManager().createTask({ name: 'other' });
    const broken = await registry
      .getEnhancedExecutor()
      .executeTask(other.id, await factory.createAgent(B.id));
    expect(broken.status).toBe('FAILED');
    ran.length = 0;
    const { workflowId, taskId } = await oneTask(registry);

    // A, then (B open) C: B is not tried, and not counted against the limit.
    const result = await registry
      .getEnhancedExecutor()
      .executeWorkflow(workflowId, { fallback: { maxAgents: 1 } });
    expect(result.status).toBe('COMPLETED');
    expect(ran).toEqual(['A', 'C']);
    const task = await registry.getTaskManager().getTask(taskId);
    expect(task.metadata).toMatchObject({ fallbackFrom: [A!.id], fallbackAgent: made.C!.id });
  });

  it('a graph submitted to workers falls back in its coordinator', async () => {
    const b = backend();
    const submitter = engines(b.store);
    const ran: string[] = [];
    const { A, B } = await configs(submitter, ['A:bad', 'B:good']);
    const tracker = submitter.getWorkflowTracker();
    const manager = submitter.getTaskManager();
    const workflow = await tracker.createWorkflow({ name: 'fallback on workers' });
    const first = await manager.createTask({ name: 'first' });
    const second = await manager.createTask({ name: 'second' });
    await tracker.addTasksToWorkflow(workflow.id, [
      { taskId: first.id, key: 'first' },
      { taskId: second.id, dependsOn: [first.id] },
    ]);
    await submitter
      .getEnhancedExecutor()
      .enqueueWorkflow(workflow.id, { agentKey: A!.id, fallback: { maxAgents: 1 } });
    const worker = engines(b.reopen(), { engineId: 'engine-worker', customRouting: byName });
    worker.getTaskRouter('CUSTOM');
    withAgents(worker, ran);
    await worker.startWorker({ pollMs: 20 });
    const store = b.store;
    await until(
      'the graph COMPLETED',
      async () => (await store.workflows.get(workflow.id))?.status === 'COMPLETED',
    );
    // Each task failed on A (the plan's agent) and completed on B.
    expect(ran).toEqual(['A', 'B', 'A', 'B']);
    for (const id of [first.id, second.id]) {
      const task = await store.tasks.get(id);
      expect(task?.agentId).toBe(B!.id);
      expect(task?.errors.map((error) => error.agentId)).toEqual([A!.id]);
    }
  });

  it('checks the option; a plain workflow with fallback goes to workers as a whole', async () => {
    const b = backend();
    const registry = engine(b.store);
    withAgents(registry, []);
    const { A } = await configs(registry, ['A:bad']);
    const { workflowId } = await oneTask(registry);
    const executor = registry.getEnhancedExecutor();
    const agent = await registry.getAgentFactory().createAgent(A!.id);
    for (const options of [
      { fallback: { maxAgents: 0 } },
      { fallback: { maxAgents: 1.5 } },
      { fallback: { maxAgents: 1, extra: true } },
      { fallback: { maxAgents: 1, candidates: 'A' } },
      { fallback: {} },
      { fallback: { maxAgents: 1 }, agent },
    ]) {
      await expect(executor.executeWorkflow(workflowId, options as never)).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
    }
    await expect(
      executor.enqueueWorkflow(workflowId, { agentKey: A!.id, fallback: { maxAgents: -1 } }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    // A workflow with fallback agents goes to workers as a whole, even without graph parts: its
    // coordinator falls back.
    await executor.enqueueWorkflow(workflowId, { agentKey: A!.id, fallback: { maxAgents: 1 } });
    const [submitted] = await b.store.submittedWorkflows!();
    expect(submitted?.plan.fallback).toEqual({ maxAgents: 1 });
  });
});
