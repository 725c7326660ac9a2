/**
 * Rate limits per fairness key (`ExecuteOptions.keyRateLimits`, docs/policies.md "Rate limits"):
 * token buckets shared by every task of a key, on any agent, cluster-wide through the store. A key
 * waiting for a token is passed over: the other keys of the same agent's queue start meanwhile.
 * All on the simulated clock.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../src/domain/agent.js';
import type { RateLimit } from '../../src/domain/rate-limit.js';
import { MemoryStore } from '../../src/repositories/memory/memory-store.js';
import { advance, createTestRegistry } from '../../src/testing/index.js';
import { describeEveryStore } from '../durability/backends.js';
import { describePostgres, dropTestSchemas } from '../repositories/pg-helpers.js';
import { enginesOnPostgres } from '../support/pg-engines.js';
import { windowsOverLimit } from '../support/rate-law.js';
import { until } from '../support/wait.js';
import { StoreIo, useStoreKit } from '../support/store-kit.js';

/** An agent that logs [task name, start time] and succeeds at once, reporting `tokens` of usage. */
function loggingAgent(
  id: string,
  now: () => number,
  extra: Partial<Agent> = {},
  tokens = 0,
): Agent & { starts: Array<[string, number]> } {
  const starts: Array<[string, number]> = [];
  return {
    id,
    maxConcurrency: 1_000,
    ...extra,
    starts,
    async execute(task, context) {
      starts.push([task.name, now()]);
      if (tokens > 0) context.metadata['usage'] = { totalTokens: tokens };
      return task.name;
    },
  };
}

/** The start times of the tasks named `<key> <n>`. */
const startsOf = (starts: ReadonlyArray<[string, number]>, key: string): number[] =>
  starts.filter(([name]) => name.split(' ')[0] === key).map(([, at]) => at);

/**
 * Steps simulated time (`step`: 10 ms, by a helper that moves it only once the engines' store calls
 * are answered) until the agent has started `n` attempts, polling the agent's log: no simulated time
 * passes while a worker's claims and commits (real I/O) are under way, so each start is logged at
 * the time its token was taken.
 */
const startsReach = (agent: { starts: readonly unknown[] }, step: () => Promise<void>, n: number) =>
  until(`${n} starts`, async () => {
    if (agent.starts.length >= n) return true;
    await step();
    return false;
  });

const keyed = (key: string, keyRateLimits?: RateLimit[]) => ({
  concurrencyKey: key,
  ...(keyRateLimits ? { keyRateLimits } : {}),
});

describe('rate limits per fairness key (fast-check, simulated time)', () => {
  it("never exceeds a key's window, keeps each key at its rate, and a key without tokens holds up no other", async () => {
    const limitArb = fc.record({
      capacity: fc.integer({ min: 1, max: 3 }),
      per: fc.integer({ min: 100, max: 1_000 }),
    });
    await fc.assert(
      fc.asyncProperty(
        limitArb,
        limitArb,
        fc.array(fc.record({ gap: fc.nat({ max: 400 }), key: fc.constantFrom('a', 'b', 'free', 'none') }), {
          minLength: 1,
          maxLength: 30,
        }),
        async (limitA, limitB, arrivals) => {
          const limitOf = { a: limitA, b: limitB } as Record<string, { capacity: number; per: number }>;
          const io = new StoreIo();
          const kit = createTestRegistry({ store: io.track(new MemoryStore()), maxConcurrency: 1_000 });
          const agent = loggingAgent('shared', () => kit.clock.now());
          const arrivedAt = new Map<string, number>();
          const runs: Array<Promise<unknown>> = [];
          for (const [i, { gap, key }] of arrivals.entries()) {
            await io.advance(kit.clock, gap);
            const name = `${key} ${i}`;
            const task = await kit.taskManager.createTask({ name });
            arrivedAt.set(name, kit.clock.now());
            const limit = limitOf[key];
            const options =
              key === 'none'
                ? {}
                : keyed(key, limit ? [{ requests: limit.capacity, per: limit.per }] : undefined);
            runs.push(kit.executor.executeTask(task.id, agent, undefined, options));
            await io.settle();
          }
          await io.advance(kit.clock, 31 * 1_000);
          await Promise.all(runs);
          await kit.stop();
          expect(agent.starts).toHaveLength(arrivals.length);
          // Tasks of an unlimited key, and without a key, start as they arrive.
          for (const [name, at] of agent.starts) {
            if (name.startsWith('free') || name.startsWith('none'))
              expect([name, at]).toEqual([name, arrivedAt.get(name)]);
          }
          for (const key of ['a', 'b']) {
            const { capacity, per } = limitOf[key]!;
            const times = startsOf(agent.starts, key);
            expect(windowsOverLimit(times, capacity, per)).toEqual([]);
            // At the rate, not below: each start comes at most one refill of a token after its
            // arrival or the key's start before it (a key's tasks start in order of arrival).
            const mine = agent.starts.filter(([name]) => name.split(' ')[0] === key);
            mine.forEach(([name, at], n) => {
              const ready = Math.max(arrivedAt.get(name)!, n === 0 ? 0 : mine[n - 1]![1]);
              expect(at).toBeLessThanOrEqual(ready + Math.ceil(per / capacity) + 1);
            });
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});

describeEveryStore('rate limits per fairness key in the engine', (backend) => {
  const { setup, createTasks, flush, advance } = useStoreKit(backend);

  it('passes over a key waiting for a token: the other keys of the same agent start at once', async () => {
    const kit = setup({ maxConcurrency: 50 });
    const agent = loggingAgent('shared', () => kit.clock.now());
    const runs: Array<Promise<unknown>> = [];
    const queue = async (name: string, options: object) => {
      const task = await kit.taskManager.createTask({ name });
      runs.push(kit.executor.executeTask(task.id, agent, undefined, options));
    };
    for (let i = 0; i < 3; i += 1) await queue(`slow ${i}`, keyed('slow', [{ requests: 1, per: 1_000 }]));
    await flush();
    expect(startsOf(agent.starts, 'slow')).toEqual([0]);
    // `slow` waits for its next token; later tasks of other keys do not wait behind it.
    await queue('fast 0', keyed('fast', [{ requests: 2, per: 1_000 }]));
    await queue('fast 1', keyed('fast', [{ requests: 2, per: 1_000 }]));
    await queue('free 0', keyed('free'));
    await queue('none 0', {});
    await flush();
    expect(agent.starts.map(([name]) => name).sort()).toEqual([
      'fast 0',
      'fast 1',
      'free 0',
      'none 0',
      'slow 0',
    ]);
    await advance(kit.clock, 2_500);
    await Promise.all(runs);
    expect(startsOf(agent.starts, 'slow')).toEqual([0, 1_000, 2_000]);
  });

  it("applies both an agent's and a key's limits when both exist", async () => {
    const kit = setup({ maxConcurrency: 50 });
    const agent = loggingAgent('limited', () => kit.clock.now(), {
      rateLimits: [{ requests: 4, per: 1_000 }],
    });
    const ids = await createTasks(8);
    const runs = ids.map((id, i) =>
      kit.executor.executeTask(
        id,
        agent,
        undefined,
        i < 4 ? keyed('a', [{ requests: 1, per: 1_000 }]) : keyed('b'),
      ),
    );
    await advance(kit.clock, 3_500);
    await Promise.all(runs);
    const times = agent.starts.map(([, at]) => at);
    expect(times).toHaveLength(8);
    expect(windowsOverLimit(times, 4, 1_000)).toEqual([]);
    const aTimes = agent.starts.filter(([name]) => Number(name.slice(1)) < 4).map(([, at]) => at);
    expect(windowsOverLimit(aTimes, 1, 1_000)).toEqual([]);
    expect(aTimes).toEqual([0, 1_000, 2_000, 3_000]);
    // The agent's tokens a waiting `a` could not use went to `b`: all of b by the agent's rate.
    const bTimes = agent.starts.filter(([name]) => Number(name.slice(1)) >= 4).map(([, at]) => at);
    expect(Math.max(...bTimes)).toBeLessThanOrEqual(250);
  });

  it("charges a key's token bucket with the usage its attempts report, on every agent of the key", async () => {
    const kit = setup({ maxConcurrency: 50 });
    const limits: RateLimit[] = [{ tokens: 1_000, per: 1_000 }];
    const first = loggingAgent('first', () => kit.clock.now(), {}, 1_500);
    const second = loggingAgent('second', () => kit.clock.now(), {}, 1_500);
    const [one, two, other] = await createTasks(3);
    await kit.executor.executeTask(one!, first, undefined, keyed('acme', limits));
    await flush();
    // 500 in debt at 0 ms: the key's next task, on another agent, starts when the balance is 1 again.
    const later = kit.executor.executeTask(two!, second, undefined, keyed('acme', limits));
    const free = kit.executor.executeTask(other!, second, undefined, keyed('other', limits));
    await advance(kit.clock, 500);
    expect(second.starts).toEqual([['t2', 0]]);
    await advance(kit.clock, 10);
    await Promise.all([later, free]);
    expect(first.starts).toEqual([['t0', 0]]);
    expect(second.starts).toEqual([
      ['t2', 0],
      ['t1', 501],
    ]);
  });

  it("puts keyRateLimits in the task's plan, refuses them without a key, and workers honour them", async () => {
    const kit = setup({ maxConcurrency: 50 });
    const agent = loggingAgent('w', () => kit.clock.now());
    const [bad, ...ids] = await createTasks(5);
    await expect(
      kit.executor.executeTask(bad!, agent, undefined, { keyRateLimits: [{ requests: 1, per: 1 }] }),
    ).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: 'Expected `keyRateLimits` only with a `concurrencyKey`',
    });
    await expect(
      kit.executor.enqueueTask(bad!, 'w', keyed('a', [{ requests: 0, per: 1 }])),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const limits: RateLimit[] = [{ requests: 1, per: 1_000 }];
    await kit.executor.enqueueTasks(
      ids.slice(0, 3).map((id) => [id, 'w'] as const),
      keyed('a', limits),
    );
    await kit.executor.enqueueTask(ids[3]!, 'w', keyed('b'));
    const stored = await kit.registry.getRepository('tasks').get(ids[0]!);
    expect(stored!.execution).toMatchObject({ concurrencyKey: 'a', keyRateLimits: limits });
    const worker = await kit.registry.startWorker({ resolveAgent: () => agent, pollMs: 10 });
    await startsReach(agent, () => advance(kit.clock, 10), 4);
    await worker.stop();
    expect(agent.starts).toHaveLength(4);
    const aTimes = agent.starts.filter(([name]) => name !== 't4').map(([, at]) => at);
    expect(windowsOverLimit(aTimes, 1, 1_000)).toEqual([]);
    // b was claimed with a's tasks and did not wait for a's tokens.
    expect(agent.starts.find(([name]) => name === 't4')![1]).toBeLessThan(aTimes[1]!);
  });
});

describe('rate limits per fairness key of a graph handed to workers', () => {
  it('the workflow plan carries them to the coordinator, which runs every task of the graph with them', async () => {
    const store = new MemoryStore();
    const kit = createTestRegistry({ store, maxConcurrency: 50 });
    const agent = loggingAgent('w', () => kit.clock.now());
    const plans: unknown[] = [];
    const execute = agent.execute.bind(agent);
    agent.execute = (task, context) => (plans.push(task.execution), execute(task, context));
    const workflow = await kit.workflowTracker.createWorkflow({ name: 'graph' });
    const [first, second, third] = await Promise.all(
      ['key 0', 'key 1', 'key 2'].map((name) => kit.taskManager.createTask({ name })),
    );
    await kit.workflowTracker.addTasksToWorkflow(workflow.id, [
      { taskId: first!.id },
      { taskId: second!.id, dependsOn: [first!.id] },
      { taskId: third!.id, dependsOn: [first!.id] },
    ]);
    const limits: RateLimit[] = [{ requests: 1, per: 1_000 }];
    await kit.executor.enqueueWorkflow(workflow.id, { agentKey: 'w', ...keyed('key', limits) });
    expect((await store.submittedWorkflows!())[0]!.plan).toMatchObject({
      concurrencyKey: 'key',
      keyRateLimits: limits,
    });
    const worker = await kit.registry.startWorker({ resolveAgent: () => agent, pollMs: 10 });
    await startsReach(agent, () => advance(kit.clock, 10), 3);
    await worker.stop();
    const times = agent.starts.map(([, at]) => at);
    expect(times).toHaveLength(3);
    // The two released together start a second apart: the key's bucket holds one a second.
    expect(times[2]! - times[1]!).toBeGreaterThanOrEqual(1_000);
    expect(windowsOverLimit(times, 1, 1_000)).toEqual([]);
    for (const plan of plans) expect(plan).toMatchObject({ concurrencyKey: 'key', keyRateLimits: limits });
    await kit.stop();
  });
});

describePostgres('rate limits per fairness key across two engines on one PostgreSQL store', () => {
  afterAll(dropTestSchemas);

  it("together they never exceed the key's window, each on its own agent (the agents' own log)", async () => {
    const { clock, io, engines } = enginesOnPostgres(2, { maxConcurrency: 100 });
    const log: number[] = [];
    const others: number[] = [];
    const limits: RateLimit[] = [{ requests: 3, per: 1_000 }];
    const runs: Array<Promise<unknown>> = [];
    for (const [n, kit] of engines.entries()) {
      const agent: Agent = {
        id: `agent-${n}`,
        maxConcurrency: 100,
        execute: async (task) => void (task.name === 'other' ? others : log).push(clock.now()),
      };
      for (let i = 0; i < 12; i += 1) {
        const task = await kit.taskManager.createTask({ name: `t${i}` });
        runs.push(kit.executor.executeTask(task.id, agent, undefined, keyed('acme', limits)));
      }
      const other = await kit.taskManager.createTask({ name: 'other' });
      runs.push(kit.executor.executeTask(other.id, agent, undefined, keyed('other')));
    }
    await io.advance(clock, 9_000);
    await Promise.all(runs);
    await Promise.all(engines.map((kit) => kit.stop()));
    expect(log).toHaveLength(24);
    expect(windowsOverLimit(log, 3, 1_000)).toEqual([]);
    // At the rate, not below: 3 at once, then one every 333.3 ms for both engines together.
    expect(Math.max(...log)).toBeLessThanOrEqual(Math.ceil((21 * 1_000) / 3) + 1);
    // The other key's tasks did not wait behind acme's.
    expect(others).toEqual([0, 0]);
  });
});
