/**
 * The control poller's prune pass prunes the serve marks of fairness keys (docs/policies.md
 * "Fairness keys", `Store.pruneFairMarks`, issue 14), with the control records and stored events:
 * when the engine starts polling, then every `eventRetention.pruneEveryMs`. The rule itself is
 * checked on every store in test/repositories/claim-fairness.test.ts.
 */
import { expect, it } from 'vitest';
import type { ExecutionPlan } from '../../src/domain/task.js';
import { MemoryStore, ServiceRegistry } from '../../src/index.js';
import { advance, createTestClock } from '../../src/testing/clock.js';
import { samplePlan, sampleTask, SAMPLE_TIME } from '../../src/testing/samples.js';

const plan = (key: string): ExecutionPlan => samplePlan('workers', { concurrencyKey: key });

it('an engine that polls the store prunes the marks of keys claims no longer need', async () => {
  const store = new MemoryStore();
  await store.open();
  const clock = createTestClock(SAMPLE_TIME + 1_000);
  const claimOne = async () =>
    (await store.claimRunnable({ engineId: 'claimer', limit: 1, now: clock.now() })).map((t) => t.id);
  const serve = async (id: string, key: string) => {
    await store.commit({ tasks: [sampleTask(id, { execution: plan(key), createdAt: clock.now() })] });
    expect(await claimOne()).toEqual([id]);
  };
  await serve('a1', 'a');
  await serve('b1', 'b');
  const finish = async (id: string) => {
    const [task] = await store.tasks.getMany([id]);
    await store.tasks.saveMany([{ ...task!, status: 'COMPLETED', leaseOwner: null }]);
  };
  await finish('a1');
  const registry = new ServiceRegistry({
    store,
    clock,
    controlPollMs: 100,
    eventRetention: { pruneEveryMs: 1_000 },
  });
  await registry.start();
  // a (no unfinished task, served before b, which waits) went when the engine started polling.
  expect(await store.pruneFairMarks(clock.now())).toBe(0);
  await serve('c1', 'c');
  await finish('b1');
  // b was served before c, which waits: its mark goes at the next prune, within pruneEveryMs.
  await advance(clock, 1_000);
  expect(await store.pruneFairMarks(clock.now())).toBe(0);
  await registry.stop();
});

it('a memory store, which no poller prunes by default, prunes its marks in a claim past a budget', async () => {
  const store = new MemoryStore();
  await store.open();
  const now = SAMPLE_TIME + 1_000;
  for (let i = 0; i < 100; i += 1) {
    await store.commit({
      tasks: [sampleTask(`t${i}`, { execution: plan(`customer-${i}`), createdAt: now })],
    });
    const [task] = await store.claimRunnable({ engineId: 'claimer', limit: 1, now });
    await store.tasks.saveMany([{ ...task!, status: 'COMPLETED', leaseOwner: null }]);
  }
  // 100 keys served, each done: the claims kept the marks under their budget (64, then twice what a
  // prune leaves), so a prune now finds few of them.
  expect(await store.pruneFairMarks(now)).toBeLessThan(64);
});
