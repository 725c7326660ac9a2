import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeyedQueue, type KeyedItem, type StartVerdict } from '../../src/engine/key-queue.js';
import { manualAgent } from '../../src/testing/index.js';
import { describeEveryStore } from '../durability/backends.js';
import { useStoreKit } from '../support/store-kit.js';

interface Item extends KeyedItem {
  id: number;
}

describe('fairness keys (the queue law)', () => {
  it('never exceeds a key limit, and starts a key only while it has no more running than any other key that could start', () => {
    const itemArb = fc.record({
      rank: fc.integer({ min: 0, max: 3 }),
      key: fc.option(fc.constantFrom('a', 'b', 'c', 'd'), { nil: null }),
    });
    const opArb = fc.oneof(
      fc.record({ push: itemArb }),
      fc.record({ start: fc.constant(true) }),
      fc.record({ finish: fc.nat() }),
    );
    const limits = fc.record({ a: fc.nat(3), b: fc.nat(3), c: fc.nat(3), d: fc.nat(3) });
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 120 }), limits, (ops, limitOf) => {
        const queue = new KeyedQueue<Item>(() => true);
        const waiting: Item[] = [];
        const running: Item[] = [];
        const count = (key: string) => running.filter((item) => item.concurrencyKey === key).length;
        let id = 0;
        for (const op of ops) {
          if ('push' in op) {
            const key = op.push.key;
            const item = {
              id: id++,
              rank: op.push.rank,
              concurrencyKey: key,
              keyConcurrency: key ? limitOf[key as 'a'] : 0,
            };
            queue.push(item);
            waiting.push(item);
          } else if ('start' in op) {
            const item = queue.shift(count, () => {});
            const startable = waiting.filter(
              (w) =>
                w.concurrencyKey === null ||
                w.keyConcurrency === 0 ||
                count(w.concurrencyKey) < w.keyConcurrency,
            );
            if (item === undefined) {
              expect(startable).toEqual([]);
              continue;
            }
            const turn = (w: Item) => (w.concurrencyKey === null ? 0 : count(w.concurrencyKey));
            for (const other of startable) expect(turn(item)).toBeLessThanOrEqual(turn(other));
            waiting.splice(waiting.indexOf(item), 1);
            running.push(item);
            if (item.concurrencyKey !== null && item.keyConcurrency > 0)
              expect(count(item.concurrencyKey)).toBeLessThanOrEqual(item.keyConcurrency);
          } else if (running.length > 0) {
            running.splice(op.finish % running.length, 1);
          }
        }
      }),
    );
  });
});

describe('fairness keys: heads passed over (mayStart)', () => {
  it('takes the first by the rule among keys not passed over, and passes over no key it takes from', () => {
    const itemArb = fc.record({
      rank: fc.integer({ min: 0, max: 3 }),
      key: fc.option(fc.constantFrom('a', 'b', 'c'), { nil: null }),
    });
    const opArb = fc.oneof(
      fc.record({ push: itemArb }),
      fc.record({ start: fc.subarray(['a', 'b', 'c', 'none']) }),
      fc.record({ finish: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 100 }), (ops) => {
        const queue = new KeyedQueue<Item>(() => true);
        const waiting: Item[] = [];
        const running: Item[] = [];
        const count = (key: string) => running.filter((item) => item.concurrencyKey === key).length;
        let id = 0;
        for (const op of ops) {
          if ('push' in op) {
            const item = { id: id++, rank: op.push.rank, concurrencyKey: op.push.key, keyConcurrency: 0 };
            queue.push(item);
            waiting.push(item);
          } else if ('start' in op) {
            const blocked = new Set(op.start);
            const asked: string[] = [];
            const item = queue.shift(
              count,
              () => {},
              (head) => {
                const key = head.concurrencyKey ?? 'none';
                asked.push(key);
                return blocked.has(key) ? 'pass' : 'start';
              },
            );
            // Each head is asked at most once a shift.
            expect(new Set(asked).size).toBe(asked.length);
            const open = waiting.filter((w) => !blocked.has(w.concurrencyKey ?? 'none'));
            if (item === undefined) {
              expect(open).toEqual([]);
              continue;
            }
            expect(blocked.has(item.concurrencyKey ?? 'none')).toBe(false);
            const turn = (w: Item) => (w.concurrencyKey === null ? 0 : count(w.concurrencyKey));
            for (const other of open) expect(turn(item)).toBeLessThanOrEqual(turn(other));
            waiting.splice(waiting.indexOf(item), 1);
            running.push(item);
          } else if (running.length > 0) {
            running.splice(op.finish % running.length, 1);
          }
        }
      }),
    );
  });

  it("stops at a head told 'stop', taking nothing", () => {
    const queue = new KeyedQueue<Item>(() => true);
    queue.push({ id: 1, rank: 0, concurrencyKey: 'a', keyConcurrency: 0 });
    queue.push({ id: 2, rank: 0, concurrencyKey: 'b', keyConcurrency: 0 });
    const asked: number[] = [];
    const verdict = (item: Item): StartVerdict => {
      asked.push(item.id);
      return item.id === 1 ? 'pass' : 'stop';
    };
    expect(
      queue.shift(
        () => 0,
        () => {},
        verdict,
      ),
    ).toBeUndefined();
    expect(asked).toEqual([1, 2]);
    expect(queue.size).toBe(2);
  });
});

/** a1..a4 of key a (at most 2 at once), b1 of key b, u1 without a key, queued in this order. */
const TASKS = [
  { name: 'a1', key: 'a' },
  { name: 'a2', key: 'a' },
  { name: 'a3', key: 'a' },
  { name: 'a4', key: 'a' },
  { name: 'b1', key: 'b' },
  { name: 'u1', key: null },
];
const options = (key: string | null) =>
  key === null ? {} : { concurrencyKey: key, keyConcurrency: key === 'a' ? 2 : 1 };
const EXPECTED = ['a1', 'b1', 'u1', 'a2'];

describeEveryStore('fairness keys', (backend) => {
  const tests = useStoreKit(backend);

  it('the engine holds a key at its limit, and other keys start meanwhile', async () => {
    const { executor, taskManager } = tests.setup({ maxConcurrency: 10 });
    const agent = manualAgent('m');
    const running = [];
    for (const { name, key } of TASKS) {
      const task = await taskManager.createTask({ name });
      running.push(executor.executeTask(task.id, agent, undefined, options(key)));
      await tests.flush();
    }
    const started = () => agent.calls.map((call) => call.task.name);
    expect(started()).toEqual(['a1', 'a2', 'b1', 'u1']);
    agent.resolveNext('done');
    await tests.flush();
    expect(started()).toEqual(['a1', 'a2', 'b1', 'u1', 'a3']);
    for (let i = 0; i < 5; i += 1) {
      agent.resolveNext('done');
      await tests.flush();
    }
    await Promise.all(running);
    expect(started()).toEqual(['a1', 'a2', 'b1', 'u1', 'a3', 'a4']);
  });

  it('store claims take the same turns and hold a key at its limit across claims', async () => {
    const { executor, taskManager, clock } = tests.setup();
    for (const { name, key } of TASKS) {
      const task = await taskManager.createTask({ name });
      await executor.enqueueTask(task.id, 'workers', options(key));
    }
    const claimed: string[] = [];
    for (let i = 0; i < TASKS.length; i += 1) {
      const [task] = await tests.store.claimRunnable!({ engineId: 'claimer', limit: 1, now: clock.now() });
      if (task) claimed.push(task.name);
    }
    expect(claimed).toEqual(EXPECTED);
  });
});
