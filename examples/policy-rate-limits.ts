/**
 * The example of docs/policies.md#rate-limits: an agent config limited to 2 requests a second, five
 * tasks of it started at the limit's rate, highest priority first, and a provider's 429 with a
 * retry-after that pauses the agent's bucket. Time is simulated, so it runs in no time.
 *
 * Run: npx tsx examples/policy-rate-limits.ts
 */
import { ServiceRegistry } from '../src/index.js';
import { advance, createTestClock, flushEngine } from '../src/testing/index.js';

export async function main(log: (line: string) => void = console.log): Promise<Array<[string, number]>> {
  const clock = createTestClock(0); // leave `clock` out in production: the system clock
  const registry = new ServiceRegistry({ store: ':memory:', clock, retry: { maxAttempts: 2 } });
  const starts: Array<[string, number]> = [];
  const factory = registry.getAgentFactory();
  factory.registerAgentType('llm', () => ({
    async execute(task, context) {
      starts.push([task.name, clock.now()]);
      // A provider's 429: its retry-after (ms) empties the agent's bucket until then.
      if (task.name === 'p9' && context.attempt === 1) {
        throw Object.assign(new Error('429 Too Many Requests'), { retryAfterMs: 3_000 });
      }
      return task.name;
    },
  }));
  const config = await factory.createAgentConfig({
    name: 'Writer',
    type: 'llm',
    maxConcurrency: 10,
    rateLimits: [{ requests: 2, per: 1_000 }],
  });
  const agent = await factory.createAgent(config.id);
  const tasks = registry.getTaskManager();
  const executor = registry.getEnhancedExecutor();
  const runs = [];
  for (const priority of [1, 5, 3, 4, 2]) {
    const task = await tasks.createTask({ name: `p${priority}`, priority });
    runs.push(executor.executeTask(task.id, agent));
  }
  await flushEngine();
  await advance(clock, 2_000);
  const throttled = await tasks.createTask({ name: 'p9', priority: 9 });
  const last = await tasks.createTask({ name: 'p0', priority: 0 });
  runs.push(executor.executeTask(throttled.id, agent), executor.executeTask(last.id, agent));
  await advance(clock, 4_000);
  await Promise.all(runs);
  for (const [name, at] of starts) log(`${name} started at ${at} ms`);
  await registry.stop();
  return starts;
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
