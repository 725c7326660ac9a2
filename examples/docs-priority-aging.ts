/**
 * The "Priority and fairness" example of docs/policies.md: with `agingMs: 1000`, a waiting task
 * gains one priority point a second. A priority-0 task queued 3 s before a priority-2 one starts
 * first; a priority-5 task queued with the priority-2 one starts before both. Time is simulated.
 *
 * Run: npx tsx examples/docs-priority-aging.ts
 */
import { ServiceRegistry, type Agent } from '../src/index.js';
import { createTestClock, flushEngine } from '../src/testing/index.js';

export async function main(log: (line: string) => void = console.log): Promise<string[]> {
  const clock = createTestClock(Date.UTC(2025, 0, 1));
  const registry = new ServiceRegistry({ store: ':memory:', clock, agingMs: 1_000, maxConcurrency: 1 });
  const taskManager = registry.getTaskManager();
  const executor = registry.getEnhancedExecutor();

  const started: string[] = [];
  let open: () => void = () => {};
  const gate = new Promise<void>((resolve) => (open = resolve));
  const agent: Agent = {
    id: 'one-at-a-time',
    execute: async (task) => {
      started.push(task.name);
      await gate; // The first task holds the only slot until every other one is queued.
      return task.name;
    },
  };

  const runs: Promise<unknown>[] = [];
  const queue = async (name: string, priority: number) => {
    const task = await taskManager.createTask({ name, priority });
    runs.push(executor.executeTask(task.id, agent));
    await flushEngine();
  };
  await queue('first', 0);
  await queue('patient', 0); // Queued at 0 s.
  clock.increment(3_000);
  await queue('important', 2); // Queued at 3 s: 2 - 3 < 0, behind 'patient'.
  await queue('urgent', 5); // 5 - 3 > 0: ahead of 'patient'.
  open();
  await Promise.all(runs);
  await registry.stop();
  log(`Started in order: ${started.join(', ')}`);
  return started;
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
