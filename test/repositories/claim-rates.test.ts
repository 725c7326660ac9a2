/**
 * Store claims and rate limits (docs/policies.md "Rate limits", `ClaimRunnableOptions`): a claim
 * leaves in the store the tasks of an agent config or a fairness key whose buckets hold no token for
 * them at `ratesAt` (less the gate's tasks claimed and not started), takes the others, and says when
 * to claim again (`rateWaitMs`). One contract, every store; bucket times are given (`at`, `ratesAt`).
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { RateBucketOp, RateLimit } from '../../src/domain/rate-limit.js';
import type { ExecutionPlan, Task } from '../../src/domain/task.js';
import type { Store } from '../../src/repositories/store.js';
import { sampleAgentConfig, samplePlan, sampleTask, SAMPLE_TIME } from '../../src/testing/samples.js';
import { describeEveryStore } from '../durability/backends.js';

const T = SAMPLE_TIME;

function plan(
  agentKey: string,
  priority: number,
  key?: { key: string; limits?: RateLimit[] },
): ExecutionPlan {
  return samplePlan(agentKey, {
    maxInterruptions: 3,
    priority,
    ...(key === undefined
      ? {}
      : { concurrencyKey: key.key, ...(key.limits === undefined ? {} : { keyRateLimits: key.limits }) }),
  });
}

/** An operation on one bucket at `at`: take `take` tokens (requests), add `add`, block `blockMs`. */
const op = (key: string, capacity: number, at: number, change: Partial<RateBucketOp> = {}): RateBucketOp => ({
  key,
  capacity,
  perMs: 1_000,
  add: 0,
  take: 0,
  spend: true,
  blockMs: 0,
  at,
  ...change,
});

const names = (tasks: readonly Task[]) => tasks.map((t) => t.id).sort();

describeEveryStore('claims and rate limits', (backend) => {
  let store: Store;
  beforeEach(async () => {
    store = backend().store;
    await store.open();
  });
  afterEach(() => store.close());

  const claim = (engineId: string, at: number, limit = 10) =>
    store.claimRunnable!({ engineId, limit, now: at, ratesAt: at });
  /** An engine starts claimed tasks: takes their tokens at `at`, and they run. */
  const start = async (tasks: readonly Task[], bucket: string, capacity: number, at: number) => {
    await store.takeRateTokens!([op(bucket, capacity, at, { take: tasks.length })]);
    await store.tasks.saveMany(tasks.map((t) => ({ ...t, status: 'RUNNING' })));
  };

  it('takes no more tasks of a limited agent than its tokens, highest priority first, and others freely', async () => {
    await store.commit({
      agentConfigs: [
        sampleAgentConfig('limited', { maxConcurrency: 10, rateLimits: [{ requests: 2, per: 1_000 }] }),
      ],
    });
    await store.commit({
      tasks: [
        ...[1, 4, 2, 3].map((p) => sampleTask(`l${p}`, { execution: plan('limited', p), createdAt: T + p })),
        sampleTask('f', { execution: plan('free', 0) }),
      ],
    });
    const first = await claim('e1', T);
    expect(names(first)).toEqual(['f', 'l3', 'l4']);
    // A full bucket of 2: a third start would wait for one token (500 ms).
    expect(first.rateWaitMs).toBe(500);
    // Claimed and not started, they will take the tokens: another engine takes none meanwhile.
    const second = await claim('e2', T);
    expect(second).toHaveLength(0);
    expect(second.rateWaitMs).toBe(500);
    // Counting only its own takes, a start could come at once: the hints bracket the next start.
    expect(second.rateWaitEarliestMs).toBe(0);
    // The engine took the tokens of its two at dispatch; their start has not committed yet.
    await store.takeRateTokens!([op('agent:limited:requests:2/1000', 2, T, { take: 2 })]);
    const meanwhile = await claim('e2', T + 100);
    expect(meanwhile).toHaveLength(0);
    // Still PENDING, the two count again beside their spent tokens: the first hint is a period
    // late (the bug a two-worker test showed, a start 500 ms late); the earliest is right.
    expect([meanwhile.rateWaitMs, meanwhile.rateWaitEarliestMs]).toEqual([1_400, 400]);
    await store.tasks.saveMany(first.filter((t) => t.id !== 'f').map((t) => ({ ...t, status: 'RUNNING' })));
    expect(names(await claim('e2', T + 499))).toEqual([]);
    const third = await claim('e2', T + 500);
    expect(names(third)).toEqual(['l2']);
    expect(third.rateWaitMs).toBe(500);
  });

  it("takes no more tasks of a key than its key's tokens; keys without limits freely", async () => {
    const limits: RateLimit[] = [{ requests: 1, per: 1_000 }];
    await store.commit({
      tasks: [
        ...[1, 2, 3].map((i) =>
          sampleTask(`a${i}`, { execution: plan('free', 0, { key: 'acme', limits }), createdAt: T + i }),
        ),
        ...[1, 2].map((i) =>
          sampleTask(`o${i}`, { execution: plan('free', 0, { key: 'other' }), createdAt: T + i }),
        ),
      ],
    });
    const first = await claim('e1', T);
    expect(names(first)).toEqual(['a1', 'o1', 'o2']);
    expect(first.rateWaitMs).toBe(1_000);
    await start(
      first.filter((t) => t.id === 'a1'),
      'key:acme:requests:1/1000',
      1,
      T,
    );
    expect(names(await claim('e2', T + 999))).toEqual([]);
    expect(names(await claim('e2', T + 1_000))).toEqual(['a2']);
  });

  it('leaves tasks while a token bucket is below 1 or a retry-after blocks the buckets', async () => {
    await store.commit({
      agentConfigs: [
        sampleAgentConfig('tokens', { maxConcurrency: 10, rateLimits: [{ tokens: 100, per: 1_000 }] }),
        sampleAgentConfig('blocked', { maxConcurrency: 10, rateLimits: [{ requests: 5, per: 1_000 }] }),
      ],
    });
    await store.commit({
      tasks: [
        ...[1, 2, 3].map((i) => sampleTask(`t${i}`, { execution: plan('tokens', 0), createdAt: T + i })),
        sampleTask('b1', { execution: plan('blocked', 0) }),
      ],
    });
    // 150 tokens charged at T: 50 in debt, 1 again at T + 510. A 429 at T empties `blocked` until
    // T + 2,000; it refills from then: its first token at T + 2,200.
    await store.takeRateTokens!([op('agent:tokens:tokens:100/1000', 100, T, { add: -150, spend: false })]);
    await store.takeRateTokens!([op('agent:blocked:requests:5/1000', 5, T, { blockMs: 2_000 })]);
    const held = await claim('e1', T);
    expect(held).toHaveLength(0);
    expect(held.rateWaitMs).toBe(510);
    // A token bucket at 1 or more admits any number of starts (their usage is charged later).
    expect(names(await claim('e1', T + 510))).toEqual(['t1', 't2', 't3']);
    const blocked = await claim('e1', T + 2_000);
    expect(blocked).toHaveLength(0);
    expect(blocked.rateWaitMs).toBe(200);
    expect(names(await claim('e1', T + 2_200))).toEqual(['b1']);
  });

  it('claims unlimited work without a wait hint', async () => {
    await store.commit({ tasks: [sampleTask('f', { execution: plan('free', 0) })] });
    const taken = await claim('e1', T);
    expect(names(taken)).toEqual(['f']);
    expect(taken.rateWaitMs).toBeUndefined();
  });

  it('takes the tasks of an agent defined in code within the rate limits its worker recorded (issue 14)', async () => {
    await store.commit({
      tasks: [1, 4, 2, 3].map((p) => sampleTask(`c${p}`, { execution: plan('coded', p), createdAt: T + p })),
    });
    await store.saveAgentRateLimits!('coded', [{ requests: 2, per: 1_000 }], T);
    const first = await claim('e1', T);
    expect(names(first)).toEqual(['c3', 'c4']);
    expect(first.rateWaitMs).toBe(500);
    await start(first, 'agent:coded:requests:2/1000', 2, T);
    expect(names(await claim('e2', T + 499))).toEqual([]);
    expect(names(await claim('e2', T + 500))).toEqual(['c2']);
    // Recording no limits deletes them: the agent's tasks are claimed freely again.
    await store.saveAgentRateLimits!('coded', [], T);
    expect(names(await claim('e2', T + 500))).toEqual(['c1']);
  });

  it("takes a key's tasks only while they declare the rate limits of its first (issue 14)", async () => {
    const wide: RateLimit[] = [{ requests: 5, per: 1_000 }];
    const narrow: RateLimit[] = [{ requests: 1, per: 1_000 }];
    await store.commit({
      tasks: [
        sampleTask('k1', { execution: plan('free', 0, { key: 'acme', limits: wide }), createdAt: T + 1 }),
        sampleTask('k2', { execution: plan('free', 0, { key: 'acme', limits: narrow }), createdAt: T + 2 }),
        sampleTask('k3', { execution: plan('free', 0, { key: 'acme', limits: wide }), createdAt: T + 3 }),
      ],
    });
    // k2's own bucket is empty: were it claimed by k1's buckets, it would wait in a worker for a token.
    await store.takeRateTokens!([op('key:acme:requests:1/1000', 1, T, { take: 1 })]);
    const first = await claim('e1', T);
    expect(names(first)).toEqual(['k1']);
    await start(first, 'key:acme:requests:5/1000', 5, T);
    // k2 is the key's first now: its own buckets decide, and k3 waits behind it.
    expect(names(await claim('e1', T))).toEqual([]);
    expect(names(await claim('e1', T + 1_000))).toEqual(['k2']);
  });
});
