import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PriorityQueue } from '../../src/engine/priority-queue.js';
import { rankOf } from '../../src/engine/queue-order.js';
import { manualAgent } from '../../src/testing/index.js';
import { describeEveryStore } from '../durability/backends.js';
import { useStoreKit } from '../support/store-kit.js';

const AGING_MS = 1_000;
const START = 1_700_000_000_000;

interface Waiting {
  name: string;
  priority: number;
  /** When its wait started, ms after START. */
  readyAt: number;
}

/**
 * A scenario whose order aging decides: with one point per second waited, `old` (priority 0, ready
 * at 0) has waited 3 s when `late` (priority 2, ready at 3.5 s) arrives, so it goes first; `urgent`
 * (priority 5 at 3.5 s) outranks both; `mid` and `mid2` tie on priority and go first queued first.
 * Ranks (priority - readyAt / 1000): old 0, early -0.5, late -1.5, urgent 1.5, mid -2, mid2 -2.
 */
const SCENARIO: Waiting[] = [
  { name: 'old', priority: 0, readyAt: 0 },
  { name: 'early', priority: 0, readyAt: 500 },
  { name: 'mid', priority: 1, readyAt: 3_000 },
  { name: 'late', priority: 2, readyAt: 3_500 },
  { name: 'urgent', priority: 5, readyAt: 3_500 },
  { name: 'mid2', priority: 1, readyAt: 3_000 },
];
const EXPECTED = ['urgent', 'old', 'early', 'late', 'mid', 'mid2'];

describe('priority with aging (the queue law)', () => {
  it('a task is never started after one of higher priority p + d that became ready more than d * agingMs after it', () => {
    const task = fc.record({ priority: fc.integer({ min: -5, max: 5 }), readyAt: fc.nat(60_000) });
    fc.assert(
      fc.property(
        fc.array(task, { minLength: 2, maxLength: 60 }),
        fc.integer({ min: 1, max: 5_000 }),
        (tasks, aging) => {
          const queue = new PriorityQueue<number>();
          tasks.forEach((t, i) => queue.push(i, rankOf(t.priority, t.readyAt, aging)));
          const order: number[] = [];
          while (queue.size > 0) order.push(queue.shift()!);
          order.forEach((first, i) => {
            for (const later of order.slice(i + 1)) {
              const a = tasks[first]!;
              const b = tasks[later]!;
              // b waited longer than its priority deficit is worth: it may not come after a.
              expect(a.readyAt - b.readyAt > (a.priority - b.priority) * aging).toBe(false);
            }
          });
        },
      ),
    );
  });

  it('a low-priority task under a constant stream of high-priority work starts within the bound', () => {
    // One slot, each attempt takes `serviceMs`; a high-priority task arrives every `everyMs` (more
    // than the slot can take), the low one at `lowAt`. Bound: it starts before every task that
    // became ready more than (high - low) * agingMs after it.
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 2, max: 50 }),
        fc.integer({ min: 1, max: 20 }),
        fc.nat(500),
        (gap, serviceMs, everyMs, lowAt) => {
          const aging = 100;
          const queue = new PriorityQueue<{ low: boolean; readyAt: number }>();
          const bound = lowAt + gap * aging;
          let next = 0;
          let lowStarted = false;
          // Bounded: arrivals past the bound rank below the low task, so it starts well before.
          for (let now = 0; !lowStarted && now < 10_000_000; now += serviceMs) {
            for (; next <= now; next += everyMs)
              queue.push({ low: false, readyAt: next }, rankOf(gap, next, aging));
            if (lowAt <= now && lowAt > now - serviceMs)
              queue.push({ low: true, readyAt: lowAt }, rankOf(0, lowAt, aging));
            const started = queue.shift();
            if (started === undefined) continue;
            if (started.low) lowStarted = true;
            else if (now >= lowAt) expect(started.readyAt).toBeLessThanOrEqual(bound);
          }
          expect(lowStarted).toBe(true);
        },
      ),
    );
  });
});

describeEveryStore('priority with aging', (backend) => {
  const tests = useStoreKit(backend, { agingMs: AGING_MS, start: START });

  it('the engine runs queued work in rank order', async () => {
    const { executor, taskManager, clock } = tests.setup({ maxConcurrency: 1 });
    const agent = manualAgent('m');
    const blocker = await taskManager.createTask({ name: 'blocker' });
    const tasks = new Map<string, string>();
    for (const { name, priority } of SCENARIO)
      tasks.set(name, (await taskManager.createTask({ name, priority })).id);
    const running = [executor.executeTask(blocker.id, agent)];
    await tests.flush();
    for (const { name, readyAt } of [...SCENARIO].sort((a, b) => a.readyAt - b.readyAt)) {
      clock.set(START + readyAt);
      running.push(executor.executeTask(tasks.get(name)!, agent));
      await tests.flush();
    }
    for (let i = 0; i <= SCENARIO.length; i += 1) {
      agent.resolveNext(i);
      await tests.flush();
    }
    await Promise.all(running);
    expect(agent.calls.map((call) => call.task.name)).toEqual(['blocker', ...EXPECTED]);
  });

  it('store claims take enqueued work in the same order', async () => {
    const { executor, taskManager, clock } = tests.setup();
    for (const { name, priority, readyAt } of [...SCENARIO].sort((a, b) => a.readyAt - b.readyAt)) {
      const task = await taskManager.createTask({ name, priority });
      clock.set(START + readyAt);
      await executor.enqueueTask(task.id, 'workers');
    }
    const claimed: string[] = [];
    for (let i = 0; i < SCENARIO.length; i += 1) {
      const [task] = await tests.store.claimRunnable!({ engineId: 'claimer', limit: 1, now: clock.now() });
      claimed.push(task!.name);
    }
    expect(claimed).toEqual(EXPECTED);
  });
});
