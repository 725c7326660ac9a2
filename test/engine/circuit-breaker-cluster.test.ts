import { afterAll, expect, it } from 'vitest';
import { ServiceRegistry } from '../../src/index.js';
import { PostgresStore } from '../../src/repositories/postgres/postgres-store.js';
import { createTestClock, flushEngine } from '../../src/testing/index.js';
import { PG_URL, describePostgres, dropTestSchemas, nextSchema } from '../repositories/pg-helpers.js';
import { until } from '../support/wait.js';

// A breaker opened by one engine is seen open by another engine on the same PostgreSQL store at
// its next read (controlPollMs 0: every routing reads).

describePostgres('circuit breakers across engines on PostgreSQL', () => {
  afterAll(dropTestSchemas);

  it('routing in engine B skips the agent whose breaker engine A opened', async () => {
    const schema = nextSchema();
    const clock = createTestClock(1_000_000);
    const open = (engineId: string) =>
      new ServiceRegistry({
        store: new PostgresStore({ connectionString: PG_URL, schema, poolSize: 2 }),
        clock,
        engineId,
        controlPollMs: 0,
        retry: { maxAttempts: 1 },
      });
    const a = open('engine-a');
    const b = open('engine-b');
    for (const registry of [a, b]) {
      registry.getAgentFactory().registerAgentType('flaky', () => ({
        execute: async () => {
          throw new Error('provider down');
        },
      }));
      registry.getAgentFactory().registerAgentType('steady', () => ({ execute: async () => 'ok' }));
    }
    const circuitBreaker = { failureThreshold: 2, windowMs: 10_000, cooldownMs: 5_000 };
    const flaky = await a.getAgentFactory().createAgentConfig({ name: 'A', type: 'flaky', circuitBreaker });
    const steady = await a.getAgentFactory().createAgentConfig({ name: 'B', type: 'steady' });
    const candidates = [flaky.id, steady.id];
    const subject = await b.getTaskManager().createTask({ name: 'subject' });
    // B's breaker of A exists and is closed: round robin reaches both agents.
    const first = await b.getTaskRouter('ROUND_ROBIN').routeTask(subject.id, { candidates });
    const second = await b.getTaskRouter().routeTask(subject.id, { candidates });
    expect(new Set([first, second])).toEqual(new Set(candidates));

    for (let i = 0; i < 2; i += 1) {
      const task = await a.getTaskManager().createTask({ name: `t${i}` });
      const agent = await a.getAgentFactory().createAgent(flaky.id);
      expect((await a.getEnhancedExecutor().executeTask(task.id, agent)).status).toBe('FAILED');
    }
    const store = new PostgresStore({ connectionString: PG_URL, schema, poolSize: 1 });
    await store.open();
    await until('engine A stores its open breaker', async () =>
      (await store.breakers()).some((row) => row.agentId === flaky.id && row.state === 'OPEN'),
    );
    await store.close();
    for (let i = 0; i < 3; i += 1) {
      await expect(b.getTaskRouter().routeTask(subject.id, { candidates })).resolves.toBe(steady.id);
    }
    await expect(b.getTaskRouter().routeTask(subject.id, { candidates: [flaky.id] })).rejects.toMatchObject({
      code: 'CIRCUIT_OPEN',
    });
    // After the cool-down B lets A be routed again (half-open).
    clock.increment(5_000);
    await flushEngine();
    await expect(b.getTaskRouter().routeTask(subject.id, { candidates: [flaky.id] })).resolves.toBe(flaky.id);
    await a.stop();
    await b.stop();
  });
});
