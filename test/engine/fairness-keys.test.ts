import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeyedQueue, ServeMarks, type KeyedItem, type StartVerdict } from '../../src/engine/key-queue.js';
import { manualAgent } from '../../src/testing/index.js';
import { describeEveryStore } from '../durability/backends.js';
import { FairModel } from '../support/fair-model.js';
import { useStoreKit } from '../support/store-kit.js';

interface Item extends KeyedItem {
  id: number;
}

const groupArb = fc.option(fc.constantFrom('a', 'b', 'c', 'd'), { nil: null });
const opArb = fc.oneof(
  fc.record({
    push: fc.record({
      rank: fc.integer({ min: 0, max: 3 }),
      key: groupArb,
      // Tasks of one key may declare different limits (issue 14): this one's, else its key's.
      own: fc.option(fc.nat(3), { nil: null, freq: 4 }),
    }),
  }),
  fc.record({ start: fc.subarray(['a', 'b', 'c', 'd', 'none']) }),
  fc.record({ finish: fc.nat() }),
  // The dispatcher forgets the marks of keys it no longer needs (issue 14).
  fc.record({ prune: fc.constant(true) }),
);
const limitsArb = fc.record({ a: fc.nat(3), b: fc.nat(3), c: fc.nat(3), d: fc.nat(3) });

/**
 * Runs `ops` on a KeyedQueue and on the model (test/support/fair-model.ts), which checks every
 * start: least turn, then least recently served group, then rank, then first queued; no key over its
 * limit; and while a group waits at the lowest turn no other group starts twice (K = 1). With
 * `passing`, each start passes over the groups it names (a key waiting for a rate limit's token).
 */
type Op = typeof opArb extends fc.Arbitrary<infer O> ? O : never;

function runLaw(ops: readonly Op[], limitOf: Record<string, number>, passing: boolean): void {
  const model = new FairModel<Item>();
  const marks = new ServeMarks();
  const queue = new KeyedQueue<Item>(
    () => true,
    marks,
    (key) => model.runningLimit(key),
  );
  let id = 0;
  for (const op of ops) {
    if ('push' in op) {
      const key = op.push.key;
      const item = {
        id: id++,
        rank: op.push.rank,
        concurrencyKey: key,
        keyConcurrency: key ? (op.push.own ?? limitOf[key]!) : 0,
      };
      queue.push(item);
      model.push(item);
    } else if ('start' in op) {
      const blocked = new Set(passing ? op.start : []);
      const isBlocked = (item: Item) => blocked.has(item.concurrencyKey ?? 'none');
      const asked: Item[] = [];
      const item = queue.shift(
        (key) => model.count(key),
        () => {},
        passing
          ? (head) => {
              asked.push(head);
              return isBlocked(head) ? 'pass' : 'start';
            }
          : undefined,
      );
      // Each head is asked at most once a shift.
      expect(new Set(asked.map((head) => head.concurrencyKey)).size).toBe(asked.length);
      model.start(item, isBlocked);
    } else if ('prune' in op) {
      const waiting = [...queue.groups()];
      const running = new Set(model.running.map((item) => item.concurrencyKey));
      marks.prune(waiting, (key) => waiting.includes(key) || running.has(key));
      model.prune();
    } else {
      model.finish(op.finish);
    }
  }
}

describe('fairness keys (the queue law)', () => {
  it('takes turns: least turn, then the group served least recently, no key over its limit, K = 1', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 150 }), limitsArb, (ops, limitOf) =>
        runLaw(ops, limitOf, false),
      ),
    );
  });

  it('one slot (each start after the last ended): two groups waiting throughout differ by one start at most', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ rank: fc.integer({ min: 0, max: 3 }), key: groupArb }), {
          minLength: 1,
          maxLength: 60,
        }),
        fc.array(fc.nat(5), { maxLength: 60 }),
        (items, arrivals) => {
          const queue = new KeyedQueue<Item>(() => true);
          const waiting = new Map<string | null, number>();
          /** Per pair of groups both waiting since: starts of the first less starts of the second. */
          const lead = new Map<string, number>();
          const pair = (g: string | null, h: string | null) => `${g}|${h}`;
          let next = 0;
          const arrive = (n: number) => {
            for (const { rank, key } of items.slice(next, next + n)) {
              queue.push({ id: next, rank, concurrencyKey: key, keyConcurrency: 1 });
              waiting.set(key, (waiting.get(key) ?? 0) + 1);
              next += 1;
            }
          };
          arrive(arrivals[0] ?? items.length);
          for (let round = 1; queue.size > 0; round += 1) {
            const item = queue.shift(
              () => 0,
              () => {},
            )!;
            const group = item.concurrencyKey;
            for (const [other, left] of waiting) {
              if (other === group || left === 0) continue;
              const n = (lead.get(pair(group, other)) ?? 0) + 1;
              lead.set(pair(group, other), n);
              lead.set(pair(other, group), -n);
              expect(n, `${group} started twice while ${other} waited`).toBeLessThanOrEqual(1);
            }
            waiting.set(group, waiting.get(group)! - 1);
            // A group whose backlog emptied stops waiting: its pairs start again when it comes back.
            if (waiting.get(group) === 0)
              for (const key of [...lead.keys()])
                if (key.split('|').includes(String(group))) lead.delete(key);
            arrive(arrivals[round] ?? items.length);
          }
        },
      ),
    );
  });
});

describe('fairness keys: heads passed over (mayStart)', () => {
  it('takes the first by the rule among groups not passed over, and passes over no group it takes from', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 120 }), limitsArb, (ops, limitOf) =>
        runLaw(ops, limitOf, true),
      ),
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

/**
 * One slot, each task ending before the next starts: every key is at turn 0 at each start, so the
 * serve order decides. a1 (priority 5) goes first, then the groups never served (b, then the tasks
 * without a key: b1 was queued first), then a again (its highest priority first: a3), then the
 * tasks without a key, then a. The rule before serve marks (turn, then priority, then age) gave
 * a1, a3, a2, b1, u1, u2: a's backlog first.
 */
const ONE_SLOT = [
  { name: 'a1', key: 'a', priority: 5 },
  { name: 'a2', key: 'a', priority: 0 },
  { name: 'a3', key: 'a', priority: 3 },
  { name: 'b1', key: 'b', priority: 0 },
  { name: 'u1', key: null, priority: 0 },
  { name: 'u2', key: null, priority: 0 },
];
const ONE_SLOT_ORDER = ['a1', 'b1', 'u1', 'a3', 'u2', 'a2'];

describeEveryStore('fairness keys take turns (serve order)', (backend) => {
  const tests = useStoreKit(backend);
  const keyOf = (key: string | null) => (key === null ? {} : { concurrencyKey: key });

  it('the engine, one slot: least recently served group first', async () => {
    const { executor, taskManager } = tests.setup({ maxConcurrency: 1 });
    const agent = manualAgent('m');
    const running = [];
    for (const { name, key, priority } of ONE_SLOT) {
      const task = await taskManager.createTask({ name, priority });
      running.push(executor.executeTask(task.id, agent, undefined, keyOf(key)));
      await tests.flush();
    }
    for (let i = 0; i < ONE_SLOT.length; i += 1) {
      agent.resolveNext('done');
      await tests.flush();
    }
    await Promise.all(running);
    expect(agent.calls.map((call) => call.task.name)).toEqual(ONE_SLOT_ORDER);
  });

  it('store claims of one, each task ending before the next claim: the same order', async () => {
    const { executor, taskManager, clock } = tests.setup();
    for (const { name, key, priority } of ONE_SLOT) {
      const task = await taskManager.createTask({ name, priority });
      await executor.enqueueTask(task.id, 'workers', keyOf(key));
    }
    const claimed: string[] = [];
    for (let i = 0; i < ONE_SLOT.length; i += 1) {
      const [task] = await tests.store.claimRunnable!({ engineId: 'claimer', limit: 1, now: clock.now() });
      claimed.push(task!.name);
      await tests.store.tasks.saveMany([{ ...task!, status: 'COMPLETED', leaseOwner: null }]);
    }
    expect(claimed).toEqual(ONE_SLOT_ORDER);
  });

  it('a claim of several takes what claims of one would', async () => {
    const { executor, taskManager, clock } = tests.setup();
    for (const { name, key, priority } of ONE_SLOT) {
      const task = await taskManager.createTask({ name, priority });
      await executor.enqueueTask(task.id, 'workers', keyOf(key));
    }
    const claim = (limit: number) =>
      tests.store.claimRunnable!({ engineId: 'claimer', limit, now: clock.now() });
    const [first] = await claim(1);
    await tests.store.tasks.saveMany([{ ...first!, status: 'COMPLETED', leaseOwner: null }]);
    // Four claims of one (holding what they take) would take b1 and u1 (never served), a3 (a served
    // before them, at turn 0), then u2 (a is at turn 1 with a3 held): not a2.
    expect((await claim(4)).map((task) => task.name).sort()).toEqual(['a3', 'b1', 'u1', 'u2']);
  });
});
