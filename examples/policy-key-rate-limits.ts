/**
 * The example of docs/policies.md#rate-limits, per fairness key: customer `big` is limited to 1
 * request a second on one agent with room for many; its three tasks start a second apart, while a
 * task of customer `small`, queued meanwhile, starts at once. Time is simulated, so it runs in no time.
 *
 * Run: npx tsx examples/policy-key-rate-limits.ts
 */
import { ServiceRegistry } from '../src/index.js';
import { advance, createTestClock, flushEngine } from '../src/testing/index.js';

export async function main(log: (line: string) => void = console.log): Promise<Array<[string, number]>> {
  const clock = createTestClock(0); // leave `clock` out in production: the system clock
  const registry = new ServiceRegistry({ store: ':memory:', clock });
  const starts: Array<[string, number]> = [];
  const factory = registry.getAgentFactory();
  factory.registerAgentType('llm', () => ({
    async execute(task) {
      starts.push([task.name, clock.now()]);
      return task.name;
    },
  }));
  const config = await factory.createAgentConfig({ name: 'Writer', type: 'llm', maxConcurrency: 10 });
  const agent = await factory.createAgent(config.id);
  const tasks = registry.getTaskManager();
  const executor = registry.getEnhancedExecutor();
  const runs = [];
  for (let i = 0; i < 3; i += 1) {
    const task = await tasks.createTask({ name: `big ${i}` });
    runs.push(
      executor.executeTask(task.id, agent, null, {
        concurrencyKey: 'big',
        keyRateLimits: [{ requests: 1, per: 1_000 }], // the key's bucket, on every engine of the store
      }),
    );
  }
  await flushEngine();
  await advance(clock, 500);
  const small = await tasks.createTask({ name: 'small 0' });
  runs.push(executor.executeTask(small.id, agent, null, { concurrencyKey: 'small' }));
  await advance(clock, 2_000);
  await Promise.all(runs);
  for (const [name, at] of starts) log(`${name} started at ${at} ms`);
  await registry.stop();
  return starts;
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
