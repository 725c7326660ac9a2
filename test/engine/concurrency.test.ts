import { describe, expect, it } from 'vitest';
import type { Agent } from '../../src/index.js';
import { manualAgent, recordingAgent } from '../../src/testing/index.js';
import { describeEveryStore } from '../durability/backends.js';
import { finishOneByOne, fullLanes, useStoreKit } from '../support/store-kit.js';

describeEveryStore('concurrency', (backend) => {
  const tests = useStoreKit(backend);
  const { setup, createTasks, flush } = tests;

  describe('engine limits', () => {
    // Calls finish one at a time, each after the engine settled: the slots in use are counted
    // whatever time the store takes to answer.
    it('never runs more than maxConcurrency executions at once across all agents', async () => {
      const { executor } = setup({ maxConcurrency: 3 });
      const agents = ['a', 'b', 'c', 'd'].map((id) => manualAgent(id));
      const ids = await createTasks(24);
      const running = Promise.all(ids.map((id, i) => executor.executeTask(id, agents[i % 4]!)));
      expect(await finishOneByOne(agents, flush)).toEqual(fullLanes(24, 3));
      const results = await running;
      expect(results.every((r) => r.status === 'COMPLETED')).toBe(true);
      expect(await executor.getStats()).toMatchObject({ inFlight: 0, queued: 0, maxConcurrency: 3 });
    });

    it("never runs more than an agent config's maxConcurrency at once for agents built from it", async () => {
      const { executor, agentFactory } = setup();
      const shared = manualAgent('impl');
      agentFactory.registerAgentType('worker', () => shared);
      const config = await agentFactory.createAgentConfig({ name: 'W', type: 'worker', maxConcurrency: 2 });
      const ids = await createTasks(10);
      // Every execution gets its own built agent; they share the config's limit.
      const agents = await Promise.all(ids.map(() => agentFactory.createAgent(config.id)));
      const running = Promise.all(ids.map((id, i) => executor.executeTask(id, agents[i]!)));
      expect(await finishOneByOne([shared], flush)).toEqual(fullLanes(10, 2));
      await running;
      expect(shared.calls).toHaveLength(10);
      expect(shared.maxInFlight).toBe(2);
    });

    it('holds a saturated agent back without blocking other agents', async () => {
      const { executor } = setup({ maxConcurrency: 10 });
      const slow = manualAgent('slow', { maxConcurrency: 1 });
      const fast = recordingAgent('fast');
      const ids = await createTasks(4);
      const slowResults = [executor.executeTask(ids[0]!, slow), executor.executeTask(ids[1]!, slow)];
      const fastResults = await Promise.all([
        executor.executeTask(ids[2]!, fast),
        executor.executeTask(ids[3]!, fast),
      ]);
      expect(fastResults.map((r) => r.status)).toEqual(['COMPLETED', 'COMPLETED']);
      // The second slow call may still be reading its task on a store with real I/O.
      await flush();
      expect(slow.calls).toHaveLength(1);
      expect(await executor.getStats()).toMatchObject({ inFlight: 1, queued: 1 });
      slow.resolveNext(1);
      await flush();
      slow.resolveNext(2);
      expect((await Promise.all(slowResults)).map((r) => r.output)).toEqual([1, 2]);
    });

    it('runs queued work highest priority first', async () => {
      const { executor, taskManager } = setup({ maxConcurrency: 1 });
      const agent = manualAgent('m');
      const blocker = await taskManager.createTask({ name: 'blocker' });
      const low = await taskManager.createTask({ name: 'low', priority: 1 });
      const high = await taskManager.createTask({ name: 'high', priority: 9 });
      const first = executor.executeTask(blocker.id, agent);
      await flush();
      const results = [first, ...[low, high].map((task) => executor.executeTask(task.id, agent))];
      await flush();
      for (let i = 0; i < 3; i += 1) {
        agent.resolveNext(i);
        await flush();
      }
      await Promise.all(results);
      expect(agent.calls.map((call) => call.task.name)).toEqual(['blocker', 'high', 'low']);
    });
  });

  describe('releasing finished executions', () => {
    it('after 1,000 tasks the runtime holds no execution, and every task completed exactly once', async () => {
      const { executor, taskManager } = setup({ maxConcurrency: 16 });
      const agent: Agent = { id: 'quick', execute: async (task) => task.name };
      // Created together: a few group commits rather than 1,000 transactions on the durable stores.
      const created = await Promise.all(
        Array.from({ length: 1_000 }, (_, i) => taskManager.createTask({ name: `t${i}` })),
      );
      const ids = created.map((task) => task.id);

      const results = await Promise.all(ids.map((id) => executor.executeTask(id, agent)));

      expect(results.filter((r) => r.status === 'COMPLETED')).toHaveLength(1_000);
      expect(await executor.getStats()).toMatchObject({ state: 'idle', inFlight: 0, queued: 0 });
      const completions = await tests.store.completions();
      expect(completions).toHaveLength(1_000);
      expect(new Set(completions.map((c) => c.taskId)).size).toBe(1_000);
      // No live execution is left: a second run is refused for the task's state, not as a duplicate.
      for (const id of [ids[0]!, ids[499]!, ids[999]!]) {
        await expect(executor.executeTask(id, agent)).rejects.toMatchObject({
          code: 'INVALID_STATE',
          message: expect.stringContaining('is COMPLETED'),
        });
      }
      expect(await taskManager.listTasks({ where: { status: 'COMPLETED' } })).toHaveLength(1_000);
    });

    it('after failed and cancelled executions too', async () => {
      const { executor, taskManager } = setup({ retry: { maxAttempts: 1 } });
      const ids = await createTasks(50);
      const failing: Agent = { id: 'bad', execute: () => Promise.reject(new Error('no')) };
      const results = await Promise.all(
        ids.map((id, i) => {
          if (i % 2 === 0) return executor.executeTask(id, failing);
          const controller = new AbortController();
          controller.abort();
          return executor.executeTask(id, failing, null, { signal: controller.signal });
        }),
      );
      expect(new Set(results.map((r) => r.status))).toEqual(new Set(['FAILED', 'CANCELLED']));
      expect(await executor.getStats()).toMatchObject({ inFlight: 0, queued: 0 });
      await expect(taskManager.cancelTask(ids[0]!)).rejects.toMatchObject({ code: 'INVALID_STATE' });
    });
  });
});
