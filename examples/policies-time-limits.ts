/**
 * The "Delays, deadlines and timeouts" example of docs/policies.md, on a simulated clock: a delayed
 * task starts at its time; a task still queued at its deadline ends DEADLINE_EXCEEDED unrun; a task
 * not done within its schedule-to-close limit is aborted; an agent that falls silent is aborted by
 * its heartbeat timeout and the retry resumes from its last heartbeat.
 *
 * Run: npx tsx examples/policies-time-limits.ts
 */
import { MemoryStore, ServiceRegistry, type Agent, type ExecutionContext } from '../src/index.js';
import { advance, createTestClock } from '../src/testing/index.js';

/** Waits until the attempt is aborted (by a time limit), then throws its reason. */
const untilAborted = (context: ExecutionContext) =>
  new Promise<never>((_, reject) => {
    context.signal.addEventListener('abort', () => reject(new Error('aborted')));
  });

export async function main(log: (line: string) => void = console.log): Promise<string[]> {
  const clock = createTestClock(Date.UTC(2026, 0, 1));
  const t0 = clock.now();
  const registry = new ServiceRegistry({ store: new MemoryStore(), clock, retry: { maxAttempts: 1 } });
  const tasks = registry.getTaskManager();
  const executor = registry.getEnhancedExecutor();
  const seen: string[] = [];
  const note = (line: string) => {
    seen.push(line);
    log(line);
  };

  // A delayed start: the first attempt starts 1000 ms after the call, not before.
  const quick: Agent = { id: 'quick', execute: async () => `started at +${clock.now() - t0} ms` };
  const later = await tasks.createTask({ name: 'later' });
  const delayed = executor.executeTask(later.id, quick, undefined, { delayMs: 1_000 });
  await advance(clock, 1_000);
  note(`delayed: ${String((await delayed).output)}`);

  // Schedule-to-start: a task queued behind a busy agent past its deadline ends unrun.
  const busy: Agent = { id: 'busy', maxConcurrency: 1, execute: (_, context) => untilAborted(context) };
  const first = await tasks.createTask({ name: 'first' });
  const second = await tasks.createTask({ name: 'second' });
  const running = executor.executeTask(first.id, busy, undefined, { scheduleToCloseMs: 500 });
  const queued = executor.executeTask(second.id, busy, undefined, { scheduleToStartMs: 100 });
  await advance(clock, 100);
  const late = await queued;
  note(`deadline: ${late.status} ${late.error?.code} after ${late.attempts} attempts`);

  // Schedule-to-close: the first task's attempt still runs 500 ms after the call; it is aborted.
  await advance(clock, 400);
  const closed = await running;
  note(`close: ${closed.status} ${closed.error?.code}`);

  // Heartbeat timeout: attempt 1 reports page 1, then falls silent; attempt 2 resumes after it.
  const reader: Agent = {
    id: 'reader',
    execute: async (_, context) => {
      if (context.attempt === 1) {
        context.heartbeat({ page: 1 });
        return untilAborted(context);
      }
      const { page } = context.lastHeartbeat as { page: number };
      return `attempt ${context.attempt} resumed after page ${page}`;
    },
  };
  const report = await tasks.createTask({ name: 'report' });
  const reading = executor.executeTask(report.id, reader, undefined, {
    heartbeatTimeoutMs: 200,
    retry: { maxAttempts: 2, initialDelayMs: 0, maxDelayMs: 0 },
  });
  let settled = false;
  void reading.finally(() => (settled = true));
  await advance(clock, 200); // attempt 1 aborted; the retry (no backoff) fires on the next ticks
  for (let tick = 0; tick < 1_000 && !settled; tick += 1) await advance(clock, 0);
  const read = await reading;
  note(`heartbeat: ${read.status}, ${String(read.output)} (${read.errors[0]?.code} before)`);
  await registry.stop();
  return seen;
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
