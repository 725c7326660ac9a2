/**
 * The "Events in code" example of docs/monitoring.md: a task whose agent fails once and then
 * succeeds, watched through `registry.on` and `registry.events()`.
 *
 * Run: npx tsx examples/docs-events.ts
 */
import { ServiceRegistry, type Agent } from '../src/index.js';

export async function main(log: (line: string) => void = console.log): Promise<string[]> {
  const registry = new ServiceRegistry({ store: ':memory:', retry: { maxAttempts: 2, initialDelayMs: 1 } });
  const seen: string[] = [];
  registry.on('task.attemptFailed', (event) =>
    log(
      `${event.name}: attempt ${event.attempt} failed (${event.error?.message}), retry: ${event.willRetry}`,
    ),
  );
  registry.on('task.completed', (event) => log(`${event.name}: done in ${event.attempts} attempts`));
  const feed = registry.events({ names: ['task.started', 'task.attemptFailed', 'task.completed'] });
  const reading = (async () => {
    for await (const event of feed) {
      seen.push(event.type);
      if (event.type === 'task.completed') break;
    }
  })();

  let calls = 0;
  const agent: Agent = {
    id: 'flaky',
    execute: async () => {
      calls += 1;
      if (calls === 1) throw new Error('provider hiccup');
      return { summary: 'ok' };
    },
  };
  const task = await registry.getTaskManager().createTask({ name: 'Summarise' });
  await registry.getEnhancedExecutor().executeTask(task.id, agent);
  await reading;
  await registry.stop();
  log(`iterator saw: ${seen.join(', ')}`);
  return seen;
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
