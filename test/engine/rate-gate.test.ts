/**
 * The RateGate (src/engine/rate-limits.ts) on its own: the buckets it names, the permits it keeps
 * and gives back, and what a change of limits does. On the simulated clock.
 */
import { describe, expect, it } from 'vitest';
import type { RateBucketOp } from '../../src/domain/rate-limit.js';
import { silentLogger } from '../../src/engine/logger.js';
import { agentGate, keyGate, RateGate } from '../../src/engine/rate-limits.js';
import { MemoryStore } from '../../src/repositories/memory/memory-store.js';
import type { Store } from '../../src/repositories/store.js';
import { createTestClock, flushEngine } from '../../src/testing/index.js';

describe('RateGate', () => {
  /** A gate on a memory store whose operations are logged, and a read of a bucket's wait. */
  function gateOnMemory() {
    const store = new MemoryStore();
    const clock = createTestClock(0);
    const ops: RateBucketOp[][] = [];
    const logged = {
      kind: store.kind,
      takeRateTokens: (batch: RateBucketOp[]) => {
        ops.push(batch);
        return store.takeRateTokens!(batch);
      },
    } as unknown as Store;
    let pumps = 0;
    const gate = new RateGate({ store: logged, clock, logger: silentLogger, pump: () => (pumps += 1) });
    /** Ms until the bucket `key` of `limit` holds a token again (0: it holds one now). */
    const waitOf = async (key: string, capacity: number, perMs: number) =>
      (
        await store.takeRateTokens!([
          { key, capacity, perMs, add: 0, take: 1, spend: false, blockMs: 0, at: clock.now() },
        ])
      )[0]!.waitMs;
    return { gate, ops, waitOf, pumps: () => pumps };
  }

  it('names buckets by gate and limit; agent buckets keep their ids', async () => {
    const { gate, ops } = gateOnMemory();
    gate.register(agentGate('cfg-1'), [
      { requests: 60, per: 60_000 },
      { tokens: 100, per: 1_000 },
    ]);
    gate.register(keyGate('acme'), [{ requests: 2, per: 1_000 }]);
    gate.request(agentGate('cfg-1'), 1);
    gate.request(keyGate('acme'), 1);
    await flushEngine();
    expect(ops.map((batch) => batch.map((op) => op.key))).toEqual([
      ['agent:cfg-1:requests:60/60000', 'agent:cfg-1:tokens:100/1000'],
      ['key:acme:requests:2/1000'],
    ]);
  });

  it('keeps permits and pending charges when equal limits are registered again (a copy per execution)', async () => {
    const { gate, waitOf } = gateOnMemory();
    const gateKey = keyGate('acme');
    gate.register(gateKey, [
      { requests: 2, per: 1_000 },
      { tokens: 1_000, per: 1_000 },
    ]);
    gate.request(gateKey, 2);
    // Charged while the take is under way: the charge waits for the next operation.
    gate.charge(gateKey, 1_500);
    gate.register(gateKey, [
      { requests: 2, per: 1_000 },
      { tokens: 1_000, per: 1_000 },
    ]);
    await flushEngine();
    expect(gate.state(gateKey)).toBe('permit');
    gate.register(gateKey, [
      { requests: 2, per: 1_000 },
      { tokens: 1_000, per: 1_000 },
    ]);
    gate.use(gateKey);
    expect(gate.state(gateKey)).toBe('permit');
    gate.use(gateKey);
    expect(gate.state(gateKey)).not.toBe('permit');
    // 1,500 charged at 0 ms to a bucket of 1,000 a second: 500 in debt, 1 again at 501 ms.
    expect(await waitOf('key:acme:tokens:1000/1000', 1_000, 1_000)).toBe(501);
  });

  it('starts new buckets when the limits change, and the old ones still get what they were owed', async () => {
    const { gate, waitOf } = gateOnMemory();
    const gateKey = keyGate('acme');
    gate.register(gateKey, [{ tokens: 1_000, per: 1_000 }]);
    gate.request(gateKey, 1);
    gate.charge(gateKey, 1_500);
    gate.register(gateKey, [{ tokens: 2_000, per: 1_000 }]);
    expect(gate.state(gateKey)).toBe('idle');
    await flushEngine();
    expect(await waitOf('key:acme:tokens:1000/1000', 1_000, 1_000)).toBe(501);
    expect(await waitOf('key:acme:tokens:2000/1000', 2_000, 1_000)).toBe(0);
  });

  it('gives back unused permits after a dispatch, but those it is told to keep', async () => {
    const { gate, waitOf } = gateOnMemory();
    gate.register(keyGate('a'), [{ requests: 1, per: 1_000 }]);
    gate.register(keyGate('b'), [{ requests: 1, per: 1_000 }]);
    gate.request(keyGate('a'), 1);
    gate.request(keyGate('b'), 1);
    await flushEngine();
    gate.giveBack(new Set([keyGate('b')]));
    await flushEngine();
    expect(gate.state(keyGate('a'))).toBe('idle');
    expect(gate.state(keyGate('b'))).toBe('permit');
    // a's token went back to its bucket: it holds one now; b's is still taken.
    expect(await waitOf('key:a:requests:1/1000', 1, 1_000)).toBe(0);
    expect(await waitOf('key:b:requests:1/1000', 1, 1_000)).toBe(1_000);
  });
});
