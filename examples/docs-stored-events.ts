/**
 * The "Events from the store" example of docs/monitoring.md: a worker engine runs a task (its
 * agent fails once, then succeeds); a dashboard engine on the same store, as another process would
 * be, reads the stored events page by page with a cursor, then follows the store from that cursor.
 *
 * Run: npx tsx examples/docs-stored-events.ts
 */
import { MemoryStore, ServiceRegistry, type Agent } from '../src/index.js';

export async function main(log: (line: string) => void = console.log): Promise<string[]> {
  // One store, two engines; with a SQLite file or a postgres:// URL they may be two processes.
  const store = new MemoryStore();
  const worker = new ServiceRegistry({
    store,
    engineId: 'worker-1',
    retry: { maxAttempts: 2, initialDelayMs: 1 },
  });
  const dashboard = new ServiceRegistry({ store, engineId: 'dashboard' });

  let calls = 0;
  const agent: Agent = {
    id: 'flaky',
    execute: async () => {
      calls += 1;
      if (calls === 1) throw new Error('provider hiccup');
      return { summary: 'ok' };
    },
  };
  const manager = worker.getTaskManager();
  const first = await manager.createTask({ name: 'Summarise' });
  await worker.getEnhancedExecutor().executeTask(first.id, agent);

  // The task events stored so far, three at a time; each page says where the next one starts.
  const names = ['task.created', 'task.started', 'task.attemptFailed', 'task.completed'] as const;
  const seen: string[] = [];
  let cursor: string | undefined;
  for (;;) {
    const after = cursor === undefined ? {} : { after: cursor };
    const page = await dashboard.readEvents({ names, limit: 3, ...after });
    for (const event of page.events) seen.push(`${event.name} by ${event.engineId}`);
    cursor = page.cursor;
    if (page.events.length < 3) break;
  }
  log(`stored: ${seen.join(', ')}`);

  // Follow the store from that cursor: the next task's completion, written by the worker.
  const controller = new AbortController();
  const second = await manager.createTask({ name: 'Translate' });
  const running = worker.getEnhancedExecutor().executeTask(second.id, agent);
  for await (const event of dashboard.watchEvents({
    after: cursor,
    names: ['task.completed'],
    pollMs: 20,
    signal: controller.signal,
  })) {
    log(`followed: ${event.payload.name} completed after ${event.payload.attempts} attempt(s)`);
    seen.push(`${event.name} by ${event.engineId}`);
    controller.abort();
  }
  await running;
  await worker.stop();
  await dashboard.stop();
  return seen;
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
