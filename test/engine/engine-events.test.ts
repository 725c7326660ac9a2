import { describe, expect, it } from 'vitest';
import { ServiceRegistry, type Store } from '../../src/index.js';
import { advance, createTestClock } from '../../src/testing/clock.js';
import { failingAgent, succeedingAgent } from '../../src/testing/fake-agents.js';
import { sequentialIds, stopNow } from '../../src/testing/test-registry.js';
import type { SymphonyEvents } from '../../src/engine/engine-events.js';
import { describeEveryStore, type BackendFactory } from '../durability/backends.js';
import { advanceUntil } from '../support/wait.js';

type Seen = { type: keyof SymphonyEvents } & Record<string, unknown>;

/** A registry on `store` recording every event it publishes, with what the store held at that moment. */
function recorded(store: Store, options: ConstructorParameters<typeof ServiceRegistry>[0] = {}) {
  const clock = createTestClock(1_000);
  const registry = new ServiceRegistry({
    store,
    clock,
    idGenerator: sequentialIds('e-'),
    random: () => 0.5,
    controlPollMs: 0,
    retry: { maxAttempts: 2, initialDelayMs: 0, jitter: 0 },
    ...options,
  });
  const seen: Seen[] = [];
  const names: (keyof SymphonyEvents)[] = [
    'task.created',
    'task.started',
    'task.attemptFailed',
    'task.completed',
    'task.failed',
    'task.cancelled',
    'task.retried',
    'workflow.status',
  ];
  for (const name of names) registry.on(name, (event) => seen.push({ type: name, ...event }));
  return { registry, clock, seen, stop: () => stopNow(registry, clock) };
}

describeEveryStore('Engine events', (backend: BackendFactory) => {
  it('reports a task that fails once and then completes, each event after its change committed', async () => {
    const { store } = backend();
    const kit = recorded(store);
    const stored: Array<[string, string | undefined]> = [];
    kit.registry.on('task.completed', (event) => {
      // Published after the commit: the store already holds the COMPLETED row.
      void store.tasks.get(event.taskId).then((row) => stored.push([event.taskId, row?.status]));
    });
    const manager = kit.registry.getTaskManager();
    const task = await manager.createTask({ name: 'flaky' });
    const done = kit.registry.getEnhancedExecutor().executeTask(task.id, failingAgent('a1', 1, 'ok'));
    let settled = false;
    void done.finally(() => (settled = true));
    // The retry's zero delay is a timer on the simulated clock: let it fire, with a bound.
    await advanceUntil('the task to settle', kit.clock, 0, () => settled);
    expect((await done).status).toBe('COMPLETED');
    await expect.poll(() => stored.length).toBe(1);
    expect(stored).toEqual([[task.id, 'COMPLETED']]);
    expect(kit.seen.map((event) => [event.type, event['attempt'] ?? event['attempts'] ?? null])).toEqual([
      ['task.created', null],
      ['task.started', 1],
      ['task.attemptFailed', 1],
      ['task.started', 2],
      ['task.completed', 2],
    ]);
    const failed = kit.seen.find((event) => event.type === 'task.attemptFailed')!;
    expect(failed).toMatchObject({ taskId: task.id, name: 'flaky', willRetry: true, workflowId: null });
    // The retry's delay is 0: it may start at the failure's time. Whose attempt it was is named.
    expect(failed).toMatchObject({ agentId: 'a1', retryAt: failed['at'] });
    const completed = kit.seen.find((event) => event.type === 'task.completed')!;
    expect(completed).toMatchObject({ agentId: 'a1', usage: null, modelId: null });
    expect((failed['error'] as { message: string }).message).toContain('failed on purpose');
    await kit.stop();
  });

  it('reports a final failure with its error, and a workflow through its statuses', async () => {
    const { store } = backend();
    const kit = recorded(store, { retry: { maxAttempts: 1 } });
    const tracker = kit.registry.getWorkflowTracker();
    const manager = kit.registry.getTaskManager();
    const workflow = await tracker.createWorkflow({ name: 'wf', description: 'two tasks' });
    const good = await manager.createTask({ name: 'good' });
    const bad = await manager.createTask({ name: 'bad' });
    await tracker.addTaskToWorkflow(workflow.id, good.id);
    await tracker.addTaskToWorkflow(workflow.id, bad.id);
    const executor = kit.registry.getEnhancedExecutor();
    await executor.executeTask(good.id, succeedingAgent('ok'), workflow.id);
    await executor.executeTask(bad.id, failingAgent('no', Infinity), workflow.id);
    const statuses = kit.seen.filter((event) => event.type === 'workflow.status');
    expect(statuses.map((event) => [event['from'], event['to']])).toEqual([
      ['PENDING', 'RUNNING'],
      ['RUNNING', 'FAILED'],
    ]);
    const final = kit.seen.filter((event) => event.type === 'task.failed');
    expect(final).toHaveLength(1);
    expect(final[0]).toMatchObject({ taskId: bad.id, workflowId: workflow.id, attempts: 1, agentId: 'no' });
    const lastAttempt = kit.seen.find((event) => event.type === 'task.attemptFailed')!;
    expect(lastAttempt).toMatchObject({ willRetry: false, retryAt: null, agentId: 'no' });
    expect((final[0]!['error'] as { attempt: number }).attempt).toBe(1);
    await kit.stop();
  });
});

describe('Engine events (memory store)', () => {
  it('a listener that throws breaks nothing, and an iterator sees the same events', async () => {
    const warnings: string[] = [];
    const logger = {
      error: () => {},
      warn: (_: object, m: string) => warnings.push(m),
      info: () => {},
      debug: () => {},
    };
    const kit = recorded(':memory:' as unknown as Store, { store: ':memory:', logger });
    kit.registry.on('task.started', () => {
      throw new Error('listener bug');
    });
    const feed = kit.registry.events({ names: ['task.completed', 'task.cancelled'] });
    const manager = kit.registry.getTaskManager();
    const executor = kit.registry.getEnhancedExecutor();
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      const task = await manager.createTask({ name: `t${i}` });
      ids.push(task.id);
      expect((await executor.executeTask(task.id, succeedingAgent('ok'))).status).toBe('COMPLETED');
    }
    const read: string[] = [];
    for await (const event of feed) {
      read.push(`${event.type}:${(event as { taskId: string }).taskId}`);
      if (read.length === 3) break;
    }
    expect(read).toEqual(ids.map((id) => `task.completed:${id}`));
    expect(warnings.filter((m) => m.includes('listener threw'))).toHaveLength(3);
    await kit.stop();
  });

  it('ends open iterators when the engine stops, and refuses unknown names', async () => {
    const kit = recorded(':memory:' as unknown as Store, { store: ':memory:' });
    expect(() => kit.registry.on('task.exploded' as 'task.started', () => {})).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
    const feed = kit.registry.events();
    const next = feed.next();
    await kit.stop();
    expect(await next).toEqual({ value: undefined, done: true });
  });
});

describe('Agent and worker events', () => {
  it("publishes a breaker's changes (CLOSED -> OPEN -> HALF_OPEN -> CLOSED) and a worker's start and stop", async () => {
    const kit = recorded(':memory:' as unknown as Store, {
      store: ':memory:',
      retry: { maxAttempts: 4, initialDelayMs: 10, maxDelayMs: 60_000, jitter: 0 },
    });
    const seen: string[] = [];
    kit.registry.on('agent.circuit', (event) => {
      expect(event.observed).toBe(false);
      seen.push(`${event.agentId}: ${event.from} -> ${event.to} at ${event.at}`);
    });
    for (const name of ['worker.started', 'worker.stopped'] as const) {
      kit.registry.on(name, (event) => seen.push(`${name} ${event.engineId} at ${event.at}`));
    }
    const factory = kit.registry.getAgentFactory();
    // Each agent built fails its task's first two attempts, then succeeds.
    factory.registerAgentType('flaky', () => failingAgent('flaky', 2, 'ok'));
    const config = await factory.createAgentConfig({
      name: 'A',
      type: 'flaky',
      circuitBreaker: { failureThreshold: 2, windowMs: 10_000, cooldownMs: 5_000 },
    });
    const task = await kit.registry.getTaskManager().createTask({ name: 't' });
    const done = kit.registry
      .getEnhancedExecutor()
      .executeTask(task.id, await factory.createAgent(config.id));
    // Two failures open the breaker; after the cool-down a probe succeeds and closes it.
    await advance(kit.clock, 60);
    await advance(kit.clock, 5_000);
    expect((await done).status).toBe('COMPLETED');
    const worker = await kit.registry.startWorker({ resolveAgent: () => succeedingAgent('ok'), pollMs: 10 });
    await worker.stop();
    const engineId = (seen.find((line) => line.startsWith('worker.started')) ?? '').split(' ')[1];
    expect(seen.map((line) => line.replace(/ at \d+$/, ''))).toEqual([
      `${config.id}: CLOSED -> OPEN`,
      `${config.id}: OPEN -> HALF_OPEN`,
      `${config.id}: HALF_OPEN -> CLOSED`,
      `worker.started ${engineId}`,
      `worker.stopped ${engineId}`,
    ]);
    expect(engineId).toMatch(/\S/);
  });
});
