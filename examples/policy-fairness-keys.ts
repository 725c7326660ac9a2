/**
 * The example of docs/policies.md#fairness-keys: one agent with 3 slots, customer `big` queues 6
 * tasks limited to 2 at a time, then customer `small` queues 1. `small` does not wait behind
 * `big`'s backlog: it takes the slot `big` may not use. Time is simulated, so it runs in no time.
 *
 * Run: npx tsx examples/policy-fairness-keys.ts
 */
import { ServiceRegistry } from '../src/index.js';
import { createTestClock, flushEngine } from '../src/testing/index.js';

export async function main(log: (line: string) => void = console.log): Promise<string[][]> {
  const clock = createTestClock(0); // leave `clock` out in production: the system clock
  const registry = new ServiceRegistry({ store: ':memory:', clock });
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  const rounds: string[][] = [[]];
  const factory = registry.getAgentFactory();
  factory.registerAgentType('llm', () => ({
    async execute(task) {
      rounds.at(-1)!.push(task.name);
      await held; // every run of the first round waits until the example looks at them
      return task.name;
    },
  }));
  const config = await factory.createAgentConfig({ name: 'Writer', type: 'llm', maxConcurrency: 3 });
  const agent = await factory.createAgent(config.id);
  const tasks = registry.getTaskManager();
  const executor = registry.getEnhancedExecutor();
  const runs = [];
  for (const [customer, count] of [
    ['big', 6],
    ['small', 1],
  ] as const) {
    for (let i = 0; i < count; i += 1) {
      const task = await tasks.createTask({ name: `${customer} ${i}` });
      runs.push(executor.executeTask(task.id, agent, null, { concurrencyKey: customer, keyConcurrency: 2 }));
    }
  }
  await flushEngine();
  log(`running first: ${rounds[0]!.join(', ')}`); // big 0, big 1, small 0
  rounds.push([]);
  release();
  await Promise.all(runs);
  log(`then: ${rounds[1]!.join(', ')}`); // big 2, big 3, big 4, big 5
  await registry.stop();
  return rounds;
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
