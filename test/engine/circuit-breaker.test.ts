import { describe, expect, it } from 'vitest';
import { MemoryStore, ServiceRegistry, type Store } from '../../src/index.js';
import { createTestClock, flushEngine } from '../../src/testing/index.js';

/** An engine on `store` and a simulated clock, with agent types that fail or succeed on demand. */
async function engine(store: Store = new MemoryStore(), clock = createTestClock(1_000_000)) {
  const registry = new ServiceRegistry({
    store,
    clock,
    random: () => 0.5,
    controlPollMs: 0,
    retry: { maxAttempts: 1 },
  });
  const factory = registry.getAgentFactory();
  const broken = { fail: true };
  const ran: string[] = [];
  factory.registerAgentType('flaky', (config) => ({
    execute: async () => {
      ran.push(config.name);
      if (broken.fail) throw new Error('provider down');
      return 'ok';
    },
  }));
  factory.registerAgentType('steady', (config) => ({
    execute: async () => {
      ran.push(config.name);
      return 'steady';
    },
  }));
  const circuitBreaker = { failureThreshold: 2, windowMs: 10_000, cooldownMs: 5_000, halfOpenProbes: 1 };
  return { registry, clock, store, factory, broken, ran, circuitBreaker };
}

async function runOn(registry: ServiceRegistry, agentConfigId: string) {
  const task = await registry.getTaskManager().createTask({ name: 't' });
  const agent = await registry.getAgentFactory().createAgent(agentConfigId);
  return registry.getEnhancedExecutor().executeTask(task.id, agent);
}

describe('circuit breakers in the engine', () => {
  it('opens after N failures, routing skips the agent, a probe goes through after the cool-down', async () => {
    const { registry, clock, factory, broken, ran, circuitBreaker } = await engine();
    const flaky = await factory.createAgentConfig({ name: 'A', type: 'flaky', circuitBreaker });
    const steady = await factory.createAgentConfig({ name: 'B', type: 'steady' });
    const router = registry.getTaskRouter('ROUND_ROBIN');
    const subject = await registry.getTaskManager().createTask({ name: 'subject' });
    const candidates = [flaky.id, steady.id];

    expect((await runOn(registry, flaky.id)).status).toBe('FAILED');
    expect((await runOn(registry, flaky.id)).status).toBe('FAILED');
    // Open: every pick goes to B.
    for (let i = 0; i < 3; i += 1) {
      await expect(router.routeTask(subject.id, { candidates })).resolves.toBe(steady.id);
    }
    // Only A asked for: CIRCUIT_OPEN with the cool-down left.
    await expect(router.routeTask(subject.id, { candidates: [flaky.id] })).rejects.toMatchObject({
      code: 'CIRCUIT_OPEN',
      retryAfterMs: 5_000,
    });
    // A fixed-agent execution fails fast: the agent does not run.
    ran.length = 0;
    const fast = await runOn(registry, flaky.id);
    expect(fast.status).toBe('FAILED');
    expect(fast.error).toMatchObject({ code: 'CIRCUIT_OPEN' });
    expect(ran).toEqual([]);

    clock.increment(5_000);
    await flushEngine();
    broken.fail = false;
    expect(await router.routeTask(subject.id, { candidates: [flaky.id] })).toBe(flaky.id);
    expect((await runOn(registry, flaky.id)).status).toBe('COMPLETED');
    expect(ran).toEqual(['A']);
    const stored = await registry.getAgentFactory().getAgentConfig(flaky.id);
    expect(stored.circuitBreaker).toEqual(circuitBreaker);
    await registry.stop();
  });

  it('a fixed-agent attempt refused by an open breaker is retried after the cool-down', async () => {
    const store = new MemoryStore();
    const clock = createTestClock(1_000_000);
    const registry = new ServiceRegistry({
      store,
      clock,
      random: () => 0.5,
      controlPollMs: 0,
      retry: { maxAttempts: 4, initialDelayMs: 10, maxDelayMs: 60_000, jitter: 0 },
    });
    const factory = registry.getAgentFactory();
    let failures = 2;
    factory.registerAgentType('flaky', () => ({
      execute: async () => {
        if (failures > 0) {
          failures -= 1;
          throw new Error('provider down');
        }
        return 'ok';
      },
    }));
    const config = await factory.createAgentConfig({
      name: 'A',
      type: 'flaky',
      circuitBreaker: { failureThreshold: 2, windowMs: 10_000, cooldownMs: 5_000 },
    });
    const done = runOn(registry, config.id);
    // Attempt 1 fails, 10 ms later attempt 2 fails and opens the breaker, 40 ms later attempt 3 is refused.
    for (const ms of [10, 40]) {
      await flushEngine();
      clock.increment(ms);
    }
    await flushEngine();
    const row = (await store.tasks.find()).find((task) => task.attempts === 3);
    expect(row?.errors.at(-1)).toMatchObject({ code: 'CIRCUIT_OPEN' });
    clock.increment(5_000);
    await flushEngine();
    const result = await done;
    expect(result.status).toBe('COMPLETED');
    await registry.stop();
  });

  it('an agent defined in code with a partial breaker gets the defaults of the fields it leaves out', async () => {
    const { registry, ran } = await engine();
    const executor = registry.getEnhancedExecutor();
    const agent = {
      id: 'coded',
      circuitBreaker: { failureThreshold: 2 },
      execute: async () => {
        ran.push('coded');
        throw new Error('provider down');
      },
    };
    const tasks = registry.getTaskManager();
    for (let i = 0; i < 2; i += 1) {
      const task = await tasks.createTask({ name: `t${i}` });
      expect((await executor.executeTask(task.id, agent)).status).toBe('FAILED');
    }
    // Open after two failures (the default window and cool-down apply): the agent does not run.
    const third = await tasks.createTask({ name: 't2' });
    const result = await executor.executeTask(third.id, agent);
    expect(result.status).toBe('FAILED');
    expect(result.error).toMatchObject({ code: 'CIRCUIT_OPEN' });
    expect(ran).toEqual(['coded', 'coded']);
    await registry.stop();
  });
});
