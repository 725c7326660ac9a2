import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../src/domain/agent.js';
import { MemoryStore } from '../../src/repositories/memory/memory-store.js';
import { createTestRegistry } from '../../src/testing/index.js';
import { describePostgres, dropTestSchemas } from '../repositories/pg-helpers.js';
import { enginesOnPostgres } from '../support/pg-engines.js';
import { windowsOverLimit } from '../support/rate-law.js';
import { StoreIo } from '../support/store-kit.js';

/** An agent of one rate limit that logs [priority, start time] and succeeds at once. */
function limitedAgent(now: () => number, capacity: number, per: number) {
  const starts: Array<[string, number]> = [];
  const agent: Agent = {
    id: 'limited',
    maxConcurrency: 1_000,
    rateLimits: [{ requests: capacity, per }],
    async execute(task) {
      starts.push([task.id, now()]);
      return null;
    },
  };
  return { agent, starts };
}

describe('rate limit law (fast-check, simulated time)', () => {
  it('never exceeds a window, and each token goes to the highest priority waiting', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 100, max: 1_000 }),
        fc.array(fc.record({ gap: fc.nat({ max: 700 }), priority: fc.integer({ min: 0, max: 9 }) }), {
          minLength: 1,
          maxLength: 25,
        }),
        async (capacity, per, arrivals) => {
          const io = new StoreIo();
          const kit = createTestRegistry({ store: io.track(new MemoryStore()), maxConcurrency: 1_000 });
          const { agent, starts } = limitedAgent(() => kit.clock.now(), capacity, per);
          const waiting: Array<Promise<unknown>> = [];
          const tasks = new Map<string, { priority: number; arrivedAt: number }>();
          for (const { gap, priority } of arrivals) {
            await io.advance(kit.clock, gap);
            const task = await kit.taskManager.createTask({ name: 't', priority });
            tasks.set(task.id, { priority, arrivedAt: kit.clock.now() });
            waiting.push(kit.executor.executeTask(task.id, agent));
            await io.settle();
          }
          await io.advance(kit.clock, Math.ceil((arrivals.length * per) / capacity) + per);
          await Promise.all(waiting);
          await kit.stop();
          expect(starts).toHaveLength(arrivals.length);
          expect(
            windowsOverLimit(
              starts.map(([, at]) => at),
              capacity,
              per,
            ),
          ).toEqual([]);
          // No start went to a lower priority while a higher one was waiting (arrived before it).
          const startOf = new Map(starts);
          for (const [id, at] of starts) {
            const { priority } = tasks.get(id)!;
            const passedOver = [...tasks].filter(
              ([other, t]) => t.priority > priority && t.arrivedAt < at && startOf.get(other)! > at,
            );
            expect(passedOver).toEqual([]);
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});

describePostgres('rate limits across two engines on one PostgreSQL store', () => {
  afterAll(dropTestSchemas);

  it('together they never exceed the window (start times from the agents’ own log)', async () => {
    const { clock, io, engines } = enginesOnPostgres(2, { maxConcurrency: 100 });
    const log: number[] = [];
    const agentOf = () => {
      const made = limitedAgent(() => clock.now(), 3, 1_000);
      return { ...made.agent, execute: async () => void log.push(clock.now()) };
    };
    const runs: Array<Promise<unknown>> = [];
    for (const kit of engines) {
      const agent = agentOf();
      for (let i = 0; i < 12; i += 1) {
        const task = await kit.taskManager.createTask({ name: `t${i}` });
        runs.push(kit.executor.executeTask(task.id, agent));
      }
    }
    await io.advance(clock, 9_000);
    await Promise.all(runs);
    await Promise.all(engines.map((kit) => kit.stop()));
    expect(log).toHaveLength(24);
    expect(windowsOverLimit(log, 3, 1_000)).toEqual([]);
    // At the rate, not below: 3 at once, then one every 333.3 ms for both engines together.
    expect(Math.max(...log)).toBeLessThanOrEqual(Math.ceil((21 * 1_000) / 3) + 1);
  });
});
