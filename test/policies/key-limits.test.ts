/**
 * Tasks of one fairness key declaring different limits (docs/policies.md "Fairness keys", issue 14):
 * a key's next task starts only while the key runs fewer tasks than the smallest `keyConcurrency`
 * it and the key's running tasks declare, and the key's later tasks wait behind it. The engine's
 * queue and the claims of every store follow the one rule, so they start the same tasks.
 */
import { expect, it } from 'vitest';
import type { Task } from '../../src/domain/task.js';
import { manualAgent } from '../../src/testing/index.js';
import { describeEveryStore } from '../durability/backends.js';
import { useStoreKit } from '../support/store-kit.js';

/** Queued in this order; `limit` is each task's own `keyConcurrency`. */
const TASKS = [
  { name: 'a1', key: 'a', limit: 3 },
  { name: 'a2', key: 'a', limit: 1 },
  { name: 'a3', key: 'a', limit: 3 },
  { name: 'b1', key: 'b', limit: 1 },
  { name: 'b2', key: 'b', limit: 3 },
  { name: 'u1', key: null, limit: 0 },
];
const options = (key: string | null, limit: number) =>
  key === null ? {} : { concurrencyKey: key, keyConcurrency: limit };
/**
 * What starts first, then after each of these ends, in turn. a2 (limit 1) waits while a1 runs, and
 * a3 behind it; b2 (limit 3) waits while b1 (limit 1) runs.
 */
const ENDS = ['a1', 'b1', 'a2'];
const ROUNDS = [['a1', 'b1', 'u1'], ['a2'], ['b2'], ['a3']];

describeEveryStore('fairness keys whose tasks declare different limits', (backend) => {
  const tests = useStoreKit(backend);

  it('the engine starts a key’s task within the least limit of it and the key’s running tasks', async () => {
    const { executor, taskManager } = tests.setup({ maxConcurrency: 10 });
    const agent = manualAgent('m');
    const running = [];
    for (const { name, key, limit } of TASKS) {
      const task = await taskManager.createTask({ name });
      running.push(executor.executeTask(task.id, agent, undefined, options(key, limit)));
      await tests.flush();
    }
    const rounds: string[][] = [];
    let seen = 0;
    const round = () => {
      rounds.push(agent.calls.slice(seen).map((call) => call.task.name));
      seen = agent.calls.length;
    };
    round();
    for (const name of ENDS) {
      agent.waiting.find((call) => call.task.name === name)!.resolve('done');
      await tests.flush();
      round();
    }
    expect(rounds).toEqual(ROUNDS);
    while (agent.waiting.length > 0) {
      agent.resolveNext('done');
      await tests.flush();
    }
    await Promise.all(running);
  });

  it('store claims take the same tasks, claim after claim', async () => {
    const { executor, taskManager, clock } = tests.setup();
    const store = tests.store;
    for (const { name, key, limit } of TASKS) {
      const task = await taskManager.createTask({ name });
      await executor.enqueueTask(task.id, 'workers', options(key, limit));
    }
    const held = new Map<string, Task>();
    const rounds: string[][] = [];
    const claim = async () => {
      const taken = await store.claimRunnable!({ engineId: 'claimer', limit: 10, now: clock.now() });
      for (const task of taken) held.set(task.name, task);
      rounds.push(taken.map((task) => task.name).sort());
    };
    await claim();
    for (const name of ENDS) {
      await store.tasks.saveMany([{ ...held.get(name)!, status: 'COMPLETED', leaseOwner: null }]);
      await claim();
    }
    expect(rounds).toEqual(ROUNDS.map((names) => [...names].sort()));
  });
});
