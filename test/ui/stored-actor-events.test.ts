/**
 * The machine view's recent events (issue 15): read from the events the engines stored, followed
 * with a cursor; derived from rows only where no event is stored (`storeEvents: false`). And the
 * agents page's rate-limit buckets, read without writing.
 */
import { describe, expect, it, vi } from 'vitest';
import { ServiceRegistry, type Agent } from '../../src/index.js';
import { peekRateLimits } from '../../src/cli/overview/agents.js';
import { storedActorEvents } from '../../src/cli/overview/stored-actor-events.js';
import { Session } from '../../src/cli/store.js';
import { agentGate, bucketIds } from '../../src/engine/rate-limits.js';
import { MemoryStore } from '../../src/repositories/memory/memory-store.js';
import { advance, createTestClock } from '../../src/testing/clock.js';
import { sequentialIds, stopNow } from '../../src/testing/test-registry.js';

/** An agent whose first two attempts of the task `summarise` fail with code E_OVERLOADED. */
function overloadedTwice(failures: Map<string, number>): Agent {
  return {
    id: 'flaky',
    async execute(task) {
      const failed = failures.get(task.id) ?? 0;
      if (task.name !== 'summarise' || failed >= 2) return 'ok';
      failures.set(task.id, failed + 1);
      throw Object.assign(new Error('model overloaded'), { code: 'E_OVERLOADED' });
    },
  };
}

/**
 * A task that fails twice (opening its agent's breaker), waits out the cool-down and completes,
 * on a memory store; and a dashboard session on that store.
 */
async function breakerRun(storeEvents: boolean) {
  const clock = createTestClock(1_000);
  const store = new MemoryStore({ clock });
  const registry = new ServiceRegistry({
    store,
    clock,
    storeEvents,
    idGenerator: sequentialIds('m-'),
    random: () => 0.5,
    controlPollMs: 0,
    retry: { maxAttempts: 4, initialDelayMs: 10, maxDelayMs: 60_000, jitter: 0 },
  });
  const factory = registry.getAgentFactory();
  const failures = new Map<string, number>();
  factory.registerAgentType('flaky', () => overloadedTwice(failures));
  const config = await factory.createAgentConfig({
    name: 'A',
    type: 'flaky',
    circuitBreaker: { failureThreshold: 2, windowMs: 10_000, cooldownMs: 5_000 },
  });
  const task = await registry.getTaskManager().createTask({ name: 'summarise' });
  const done = registry.getEnhancedExecutor().executeTask(task.id, await factory.createAgent(config.id));
  await advance(clock, 60);
  await advance(clock, 5_000);
  expect((await done).status).toBe('COMPLETED');
  const session = new Session(registry, 'memory', null, null, undefined, store);
  return { registry, clock, store, taskId: task.id, agentId: config.id, session };
}

describe('machine view: recent events', () => {
  it("lists a task's and an agent's stored events, error codes and every breaker transition included", async () => {
    const run = await breakerRun(true);
    const source = storedActorEvents(run.session);
    const task = await source.recent({ kind: 'task', id: run.taskId }, 20);
    expect(task.every((event) => event.from === 'events')).toBe(true);
    // Newest first: every attempt's start and failure, not only what the row keeps.
    expect(task[0]!.type).toBe('task.completed');
    expect(task.at(-1)!.type).toBe('task.created');
    const failed = task.filter((event) => event.type === 'task.attemptFailed').map((event) => event.text);
    expect(
      failed.filter((text) => /failed: E_OVERLOADED: model overloaded \(retry at /.test(text)),
    ).toHaveLength(2);
    expect(task.filter((event) => event.type === 'task.started')).toHaveLength(failed.length + 1);

    // The breaker's row keeps only its last transition; the stored events have all three.
    const breaker = await source.recent({ kind: 'breaker', id: run.agentId }, 20);
    const circuit = breaker.filter((event) => event.type === 'agent.circuit').map((event) => event.text);
    expect(circuit.reverse()).toEqual([
      `agent ${run.agentId} CLOSED -> OPEN`,
      `agent ${run.agentId} OPEN -> HALF_OPEN`,
      `agent ${run.agentId} HALF_OPEN -> CLOSED`,
    ]);
    const agent = await source.recent({ kind: 'agent', id: run.agentId }, 50);
    expect(agent.map((event) => event.type)).toEqual(expect.arrayContaining(['agent.load', 'agent.circuit']));
    expect(agent.find((event) => event.type === 'agent.load')!.text).toMatch(/running, idle \(engine /);
    await stopNow(run.registry, run.clock);
  });

  it('reads only what was stored since, once an actor is followed', async () => {
    const run = await breakerRun(true);
    const source = storedActorEvents(run.session);
    const agent = { kind: 'agent' as const, id: run.agentId };
    const first = await source.recent(agent, 20);
    const read = vi.spyOn(run.registry, 'readEvents');
    expect(await source.recent(agent, 20)).toEqual(first);
    expect(read).toHaveBeenCalledTimes(1);
    expect(read.mock.calls[0]![0]).toMatchObject({ after: expect.any(String) });
    // Another task on the agent: its events come first, read from the cursor on.
    const factory = run.registry.getAgentFactory();
    const next = await run.registry.getTaskManager().createTask({ name: 'again' });
    const done = run.registry
      .getEnhancedExecutor()
      .executeTask(next.id, await factory.createAgent(run.agentId));
    await advance(run.clock, 100);
    expect((await done).status).toBe('COMPLETED');
    const later = await source.recent(agent, 20);
    const tasks = later.filter((event) => event.type.startsWith('task.'));
    expect(tasks.slice(0, 2).map((event) => event.type)).toEqual(['task.completed', 'task.started']);
    expect(tasks[0]!.text).toContain(next.id);
    expect(read.mock.calls.slice(1).every(([options]) => options?.after !== undefined)).toBe(true);
    await stopNow(run.registry, run.clock);
  });

  it('derives them from rows, and says so, where no event was stored (storeEvents: false)', async () => {
    const run = await breakerRun(false);
    const task = await storedActorEvents(run.session).recent({ kind: 'task', id: run.taskId }, 20);
    expect(task.length).toBeGreaterThan(0);
    expect(task.every((event) => event.from === 'rows')).toBe(true);
    // A row keeps the failed attempts (with their codes) and the first start only.
    expect(task.filter((event) => event.type === 'task.attemptFailed').length).toBeGreaterThanOrEqual(2);
    expect(task.filter((event) => event.type === 'task.started')).toHaveLength(1);
    await stopNow(run.registry, run.clock);
  });
});

describe('agents page: rate-limit buckets', () => {
  it('reads the buckets without writing them: no take, no refill stored', async () => {
    const clock = createTestClock(10_000);
    const store = new MemoryStore({ clock });
    const registry = new ServiceRegistry({ store, clock, controlPollMs: 0 });
    const limits = [{ requests: 2, per: 1_000 }];
    const config = await registry.getAgentFactory().createAgentConfig({
      name: 'limited',
      type: 'default',
      rateLimits: limits,
    });
    const [bucket] = bucketIds(agentGate(config.id), limits);
    await store.takeRateTokens!([
      { key: bucket!, capacity: 2, perMs: 1_000, add: 0, take: 2, spend: true, blockMs: 0 },
    ]);
    const session = new Session(registry, 'memory', null, null, undefined, store);
    const take = vi.spyOn(store, 'takeRateTokens');
    clock.increment(250);
    await expect(peekRateLimits(session, config)).resolves.toEqual([
      { limit: limits[0], open: false, waitMs: 250 },
    ]);
    expect(take).not.toHaveBeenCalled();
    // The stored bucket is as the take left it (a read that refilled it would have moved it on).
    await expect(store.readRateBuckets!([bucket!])).resolves.toEqual({
      now: 10_250,
      buckets: [{ key: bucket, tokens: 0, updatedAt: 10_000 }],
    });
    clock.increment(250);
    await expect(peekRateLimits(session, config)).resolves.toEqual([
      { limit: limits[0], open: true, waitMs: 0 },
    ]);
    await stopNow(registry, clock);
  });
});
