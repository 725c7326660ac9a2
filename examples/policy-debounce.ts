/**
 * The "Debounce and singleton" example of docs/policies.md: three edits of one document enqueued
 * 100 ms apart with a 500 ms debounce; only the last runs, 500 ms after it came, and the two before
 * it end CANCELLED. A singleton that skips refuses a second task while the first is unfinished.
 * Time is simulated.
 *
 * Run: npx tsx examples/policy-debounce.ts
 */
import { ServiceRegistry, SymphonyError, type Agent } from '../src/index.js';
import { advance, createTestClock } from '../src/testing/index.js';

export async function main(log: (line: string) => void = console.log): Promise<string[]> {
  const clock = createTestClock(0);
  const registry = new ServiceRegistry({ store: ':memory:', clock });
  const tasks = registry.getTaskManager();
  const executor = registry.getEnhancedExecutor();
  const ran: string[] = [];
  const indexer: Agent = {
    id: 'indexer',
    execute: async (task) => {
      ran.push(`${task.name} at ${clock.now()} ms`);
      return 'indexed';
    },
  };
  await registry.startWorker({ resolveAgent: () => indexer, pollMs: 50 });

  const ids: string[] = [];
  for (const name of ['edit-1', 'edit-2', 'edit-3']) {
    const task = await tasks.createTask({ name });
    ids.push(task.id);
    await executor.enqueueTask(task.id, 'indexer', { debounce: { key: 'doc-7', delayMs: 500 } });
    await advance(clock, 100);
  }
  await advance(clock, 1_000);
  for (const id of ids) {
    const task = await tasks.getTask(id);
    log(`${task.name}: ${task.status}`);
  }
  log(`ran: ${ran.join(', ')}`);

  const singleton = { key: 'nightly-sync', mode: 'skip' } as const;
  const first = await tasks.createTask({ name: 'sync-1' });
  const second = await tasks.createTask({ name: 'sync-2' });
  await executor.enqueueTask(first.id, 'indexer', { singleton, delayMs: 60_000 });
  try {
    await executor.enqueueTask(second.id, 'indexer', { singleton });
  } catch (error) {
    if (!(error instanceof SymphonyError)) throw error;
    log(`sync-2: ${error.code}`);
  }
  await registry.stop();
  return ran;
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
