/**
 * The "Circuit breakers" example of docs/policies.md: an agent that keeps failing opens its
 * breaker, routing goes to the other agent, and after the cool-down a probe closes it again.
 *
 * Run: npx tsx examples/policy-circuit-breaker.ts
 */
import { MemoryStore, ServiceRegistry } from '../src/index.js';
import { createTestClock, flushEngine } from '../src/testing/index.js';

export async function main(log: (line: string) => void = console.log): Promise<string[]> {
  const clock = createTestClock(Date.UTC(2026, 0, 1));
  const registry = new ServiceRegistry({ store: new MemoryStore(), clock, retry: { maxAttempts: 1 } });
  const factory = registry.getAgentFactory();
  let down = true;
  factory.registerAgentType('llm', () => ({
    execute: async () => {
      if (down) throw new Error('503 from the provider');
      return 'answer';
    },
  }));
  const primary = await factory.createAgentConfig({
    name: 'primary',
    type: 'llm',
    circuitBreaker: { failureThreshold: 2, windowMs: 60_000, cooldownMs: 30_000, halfOpenProbes: 1 },
  });
  const backup = await factory.createAgentConfig({ name: 'backup', type: 'llm' });
  const names = new Map([
    [primary.id, 'primary'],
    [backup.id, 'backup'],
  ]);
  const router = registry.getTaskRouter('CAPABILITY_MATCH');
  const run = async () => {
    const task = await registry.getTaskManager().createTask({ name: 'ask' });
    const agent = await factory.createAgent(primary.id);
    return registry.getEnhancedExecutor().executeTask(task.id, agent);
  };
  const route = async () => {
    const task = await registry.getTaskManager().createTask({ name: 'ask' });
    return names.get(await router.routeTask(task.id))!;
  };

  const seen: string[] = [];
  const note = (line: string) => {
    seen.push(line);
    log(line);
  };
  note(`routed to ${await route()}`); // primary: both closed, the lower id first
  for (let i = 0; i < 2; i += 1) note(`primary: ${(await run()).status}`);
  note(`routed to ${await route()}`); // its breaker is open: backup
  note(`primary: ${(await run()).error?.code}`); // fails fast, the agent does not run
  clock.increment(30_000); // the cool-down passes: half-open
  await flushEngine();
  down = false;
  note(`primary: ${(await run()).status}`); // the probe succeeds: closed again
  await registry.stop();
  return seen;
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
