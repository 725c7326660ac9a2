import { describe, expect, it } from 'vitest';
import type { Agent } from '../../src/domain/agent.js';
import type { RateLimit } from '../../src/domain/rate-limit.js';
import { describeEveryStore } from '../durability/backends.js';
import { windowsOverLimit } from '../support/rate-law.js';
import { useStoreKit } from '../support/store-kit.js';

/** An agent that logs the clock at each start and succeeds at once, or runs `fail` first. */
function loggingAgent(
  id: string,
  now: () => number,
  rateLimits?: RateLimit[],
  fail?: (name: string, attempt: number) => unknown,
): Agent & { starts: Array<[string, number]> } {
  const starts: Array<[string, number]> = [];
  return {
    id,
    maxConcurrency: 100,
    ...(rateLimits ? { rateLimits } : {}),
    starts,
    async execute(task, context) {
      starts.push([task.name, now()]);
      const error = fail?.(task.name, context.attempt);
      if (error !== undefined) throw error;
      return task.name;
    },
  };
}

describeEveryStore('Rate limits in the engine', (backend) => {
  const { setup, createTasks, flush, advance } = useStoreKit(backend);

  it('runs a limited agent at its rate, in priority order, while an unlimited one runs at once', async () => {
    const kit = setup({ maxConcurrency: 50 });
    const limited = loggingAgent('limited', () => kit.clock.now(), [{ requests: 2, per: 1_000 }]);
    const free = loggingAgent('free', () => kit.clock.now());
    const ids = await createTasks(10);
    const runs = ids.map((id, i) =>
      kit.executor.executeTask(id, i < 8 ? limited : free, undefined, { priority: i }),
    );
    await flush();
    // The bucket starts full (2); the unlimited agent's two tasks do not wait for it.
    expect(limited.starts.map(([, at]) => at)).toEqual([0, 0]);
    expect(free.starts.map(([name]) => name).sort()).toEqual(['t8', 't9']);
    await advance(kit.clock, 3_000);
    const results = await Promise.all(runs);
    expect(results.every((result) => result.status === 'COMPLETED')).toBe(true);
    const times = limited.starts.map(([, at]) => at);
    // At the rate, not below: one start every 500 ms once the burst is spent.
    expect(times).toEqual([0, 0, 500, 1_000, 1_500, 2_000, 2_500, 3_000]);
    expect(windowsOverLimit(times, 2, 1_000)).toEqual([]);
    // Each token after the first burst went to the highest priority then waiting (the burst went
    // to the tasks queued when it came: on SQL stores executions arrive one commit at a time).
    const later = limited.starts.filter(([, at]) => at > 0).map(([name]) => Number(name.slice(1)));
    expect(later).toEqual([...later].sort((x, y) => y - x));
  });

  it("pauses an agent's bucket for a 429's retry-after, for its other tasks too; others run on", async () => {
    const kit = setup({ maxConcurrency: 50, retry: { maxAttempts: 2, initialDelayMs: 10 } });
    const throttled = Object.assign(new Error('429 Too Many Requests'), { retryAfterMs: 5_000 });
    const limited = loggingAgent(
      'limited',
      () => kit.clock.now(),
      [{ requests: 10, per: 1_000 }],
      (name, attempt) => (name === 't0' && attempt === 1 ? throttled : undefined),
    );
    const free = loggingAgent('free', () => kit.clock.now());
    const [first, second, other] = await createTasks(3);
    const a = kit.executor.executeTask(first!, limited);
    await flush();
    expect(limited.starts).toEqual([['t0', 0]]);
    const b = kit.executor.executeTask(second!, limited);
    const c = kit.executor.executeTask(other!, free);
    await advance(kit.clock, 4_999);
    expect(limited.starts).toEqual([['t0', 0]]);
    expect(free.starts).toEqual([['t2', 0]]);
    await expect(c).resolves.toMatchObject({ status: 'COMPLETED' });
    // Emptied until 5,000 ms, then refilling at 10 a second: the next token at 5,100 ms.
    await advance(kit.clock, 300);
    expect((await Promise.all([a, b])).map((result) => result.status)).toEqual(['COMPLETED', 'COMPLETED']);
    expect(limited.starts.slice(1).map(([, at]) => at)).toEqual([5_100, 5_200]);
  });

  // A retry-after blocks the agent's buckets no longer than the retry waits: min(maxDelayMs,
  // ceil(retryAfterMs)). A bogus 1e12 once stalled the agent for ~31 years, in the store.
  it.each([10_000, 1e12])(
    "caps a retry-after's block of the agent's bucket at the retry policy's maxDelayMs (%d ms asked)",
    async (retryAfterMs) => {
      const kit = setup({ maxConcurrency: 50, retry: { maxAttempts: 2, maxDelayMs: 2_000, jitter: 0 } });
      const throttled = Object.assign(new Error('429 Too Many Requests'), { retryAfterMs });
      const limited = loggingAgent(
        'limited',
        () => kit.clock.now(),
        [{ requests: 10, per: 1_000 }],
        (name, attempt) => (name === 't0' && attempt === 1 ? throttled : undefined),
      );
      const [first, second] = await createTasks(2);
      const a = kit.executor.executeTask(first!, limited);
      await flush();
      const b = kit.executor.executeTask(second!, limited);
      await advance(kit.clock, 1_999);
      expect(limited.starts).toEqual([['t0', 0]]);
      // Emptied until 2,000 ms (the retry's delay), then refilling at 10 a second.
      await advance(kit.clock, 400);
      expect(limited.starts.slice(1).map(([, at]) => at)).toEqual([2_100, 2_200]);
      expect((await Promise.all([a, b])).map((result) => result.status)).toEqual(['COMPLETED', 'COMPLETED']);
    },
  );

  it('charges the tokens attempts report and holds later starts until the debt is refilled', async () => {
    const kit = setup({ maxConcurrency: 50 });
    const limits: RateLimit[] = [{ tokens: 1_000, per: 1_000 }];
    const agent = loggingAgent('llm', () => kit.clock.now(), limits);
    const execute = agent.execute.bind(agent);
    agent.execute = async (task, context) => {
      context.metadata['usage'] = { totalTokens: 1_500 };
      return execute(task, context);
    };
    const ids = await createTasks(2);
    const first = kit.executor.executeTask(ids[0]!, agent);
    await flush();
    await first;
    await flush();
    const second = kit.executor.executeTask(ids[1]!, agent);
    await advance(kit.clock, 500);
    expect(agent.starts.map(([, at]) => at)).toEqual([0]);
    // 500 in debt at 0 ms: the balance is 1 again at 501 ms.
    await advance(kit.clock, 10);
    await second;
    expect(agent.starts.map(([, at]) => at)).toEqual([0, 501]);
  });
});

describe('RateLimit validation', () => {
  it('is checked by createAgentConfig', async () => {
    const { createTestRegistry } = await import('../../src/testing/index.js');
    const kit = createTestRegistry();
    const bad = [
      [{ requests: 0, per: 1 }],
      [{ requests: 1, tokens: 1, per: 1 }],
      [{ per: 1 }],
      [{ requests: 1, per: 1, x: 1 }],
      'x',
    ];
    for (const rateLimits of bad) {
      await expect(
        kit.agentFactory.createAgentConfig({ name: 'n', type: 't', rateLimits: rateLimits as RateLimit[] }),
      ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
    kit.agentFactory.registerAgentType('t', () => ({ execute: async () => 1 }));
    const config = await kit.agentFactory.createAgentConfig({
      name: 'n',
      type: 't',
      rateLimits: [{ requests: 60, per: 60_000 }],
    });
    expect(config.rateLimits).toEqual([{ requests: 60, per: 60_000 }]);
    expect((await kit.agentFactory.getAgentConfig(config.id)).rateLimits).toEqual(config.rateLimits);
    expect((await kit.agentFactory.createAgent(config.id)).rateLimits).toEqual(config.rateLimits);
    await kit.stop();
  });
});

describe('rate limits in workflow files', () => {
  it('are validated by the workflow file schema', async () => {
    const { workflowFileSchema } = await import('../../src/cli/workflow-file/schema.js');
    const file = (rateLimits: unknown) => ({
      name: 'W',
      tasks: [{ name: 't' }],
      agents: { configs: [{ name: 'A', type: 'a', rateLimits }] },
    });
    const limits = [
      { requests: 60, per: 60_000 },
      { tokens: 100_000, per: 60_000 },
    ];
    expect(workflowFileSchema.safeParse(file(limits)).success).toBe(true);
    for (const bad of [[{ requests: 0, per: 1 }], [{ requests: 1, tokens: 1, per: 1 }], [{ per: 1 }], {}]) {
      expect(workflowFileSchema.safeParse(file(bad)).success).toBe(false);
    }
  });
});
