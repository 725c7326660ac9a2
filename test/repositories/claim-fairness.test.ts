/**
 * Store claims and fairness keys (docs/policies.md "Fairness keys", src/repositories/fair-order.ts):
 * a claim of n takes what n claims of one would, from any state of held tasks and serve marks, on
 * every store, unless an agent config's room runs out within the claim (then a key's turn also counts
 * its candidates the agent limit leaves out: the claim may take others, never over a limit).
 * (test/engine/fairness-keys.test.ts checks claims against the engine's order.)
 */
import fc from 'fast-check';
import { afterEach, expect, it } from 'vitest';
import type { ExecutionPlan, Task } from '../../src/domain/task.js';
import type { Store } from '../../src/repositories/store.js';
import { sampleAgentConfig, sampleTask, SAMPLE_TIME } from '../../src/testing/samples.js';
import { describeEveryStore, type BackendFactory } from '../durability/backends.js';

interface Spec {
  key: string | null;
  priority: number;
  agent: 'free' | 'limited';
}

function plan({ key, priority, agent }: Spec, limits: Record<string, number>): ExecutionPlan {
  return {
    agentKey: agent,
    attemptLimit: 1,
    maxAttempts: 1,
    initialDelayMs: 0,
    backoffFactor: 2,
    maxDelayMs: 0,
    jitter: 0,
    nonRetryableErrors: [],
    maxInterruptions: 3,
    timeoutMs: 0,
    priority,
    metadata: {},
    ...(key === null ? {} : { concurrencyKey: key, keyConcurrency: limits[key]! }),
  };
}

const specArb = fc.record({
  key: fc.option(fc.constantFrom('a', 'b', 'c'), { nil: null }),
  priority: fc.integer({ min: 0, max: 2 }),
  agent: fc.constantFrom('free' as const, 'limited' as const),
});
const caseArb = fc.record({
  tasks: fc.array(specArb, { minLength: 1, maxLength: 14 }),
  limits: fc.record({ a: fc.nat(3), b: fc.nat(3), c: fc.nat(3) }),
  room: fc.integer({ min: 1, max: 4 }),
  /** Claims before the one compared (each of `n` tasks), and which of the tasks taken then end. */
  warmup: fc.array(
    fc.record({ n: fc.integer({ min: 1, max: 3 }), ends: fc.array(fc.boolean(), { maxLength: 3 }) }),
    {
      maxLength: 4,
    },
  ),
  n: fc.integer({ min: 2, max: 6 }),
});

const NOW = SAMPLE_TIME + 1_000_000;
const claim = (store: Store, limit: number) => store.claimRunnable!({ engineId: 'me', limit, now: NOW });
const finish = (store: Store, tasks: readonly Task[]) =>
  tasks.length === 0
    ? undefined
    : store.tasks.saveMany(tasks.map((t) => ({ ...t, status: 'COMPLETED', leaseOwner: null })));
const names = (tasks: readonly Task[]) => tasks.map((t) => t.id).sort();

const RUNS: Record<string, number> = { memory: 150, sqlite: 40, postgres: 10 };

describeEveryStore('claims of fairness keys', (backend: BackendFactory) => {
  const opened: Store[] = [];
  afterEach(async () => {
    for (const store of opened.splice(0)) await store.close();
  });
  const fresh = async () => {
    const { store } = backend();
    await store.open();
    opened.push(store);
    return store;
  };

  it('a claim of n takes what n claims of one take, from any held tasks and serve marks', async () => {
    const kind = (await fresh()).kind;
    await fc.assert(
      fc.asyncProperty(caseArb, async ({ tasks, limits, room, warmup, n }) => {
        const [batch, single] = [await fresh(), await fresh()];
        for (const store of [batch, single]) {
          await store.commit({ agentConfigs: [sampleAgentConfig('limited', { maxConcurrency: room })] });
          await store.commit({
            tasks: tasks.map((spec, i) =>
              sampleTask(`t${String(i).padStart(2, '0')}`, {
                execution: plan(spec, limits),
                createdAt: SAMPLE_TIME + i,
              }),
            ),
          });
        }
        // The same claims on both, so both reach the same held tasks and marks.
        for (const { n: k, ends } of warmup) {
          for (const store of [batch, single]) {
            const taken = await claim(store, k);
            await finish(
              store,
              taken.filter((_, i) => ends[i] === true),
            );
          }
        }
        const together = await claim(batch, n);
        const oneByOne: Task[] = [];
        for (let i = 0; i < n; i += 1) oneByOne.push(...(await claim(single, 1)));
        const held = (await batch.tasks.find()).filter(
          (t) => t.leaseOwner === 'me' && t.status === 'PENDING',
        );
        for (const key of ['a', 'b', 'c'] as const) {
          if (limits[key] > 0)
            expect(held.filter((t) => t.execution?.concurrencyKey === key).length).toBeLessThanOrEqual(
              limits[key],
            );
        }
        expect(held.filter((t) => t.execution?.agentKey === 'limited').length).toBeLessThanOrEqual(room);
        // The room of the limited agent binds within the claim: only the limits above are promised.
        if (tasks.filter((t) => t.agent === 'limited').length > room) return;
        expect(names(together)).toEqual(names(oneByOne));
        // The marks agree too: the next claims after these end take the same tasks. (A claim judges
        // once, at its start, whether a task with a key waits; claims of one, each time. So compare
        // only while one still waits.)
        const waiting = (await batch.tasks.find()).some(
          (t) => t.leaseOwner === null && t.status === 'PENDING' && t.execution?.concurrencyKey !== undefined,
        );
        if (!waiting) return;
        await finish(batch, together);
        await finish(single, oneByOne);
        const next = await claim(batch, n);
        const nextOneByOne: Task[] = [];
        for (let i = 0; i < n; i += 1) nextOneByOne.push(...(await claim(single, 1)));
        expect(names(next)).toEqual(names(nextOneByOne));
      }),
      {
        numRuns: RUNS[kind] ?? 10,
        // Found by this property: keys tied at a turn after the first go in the order their heads went.
        examples: [
          [
            {
              tasks: [
                { key: 'c', priority: 0, agent: 'free' },
                { key: 'b', priority: 1, agent: 'free' },
                { key: 'c', priority: 0, agent: 'free' },
                { key: 'b', priority: 0, agent: 'free' },
              ],
              limits: { a: 0, b: 0, c: 0 },
              room: 1,
              warmup: [],
              n: 3,
            },
          ],
        ],
      },
    );
  }, 120_000);
});
