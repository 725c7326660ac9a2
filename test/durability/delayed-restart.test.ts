/**
 * Delays and deadlines survive a restart (issue 14; docs/policies.md "Delays, deadlines and
 * timeouts"): the due times are in the task's stored execution plan, so an engine that recovers
 * the task after the first one stopped (or died) starts it at its time, not before, and ends it
 * DEADLINE_EXCEEDED, unrun, when its deadline passed while no engine ran.
 */
import { expect, it } from 'vitest';
import type { Store } from '../../src/index.js';
import { createTestClock, sequentialIds } from '../../src/testing/index.js';
import { StoreIo } from '../support/store-kit.js';
import { describeEveryStore, useEngines } from './backends.js';

describeEveryStore('delayed tasks across a restart', (backend) => {
  const engines = useEngines();
  const io = new StoreIo();

  /** An engine on `store` whose clock starts at `start`; two of them on one store stand for a restart. */
  function engine(store: Store, start: number) {
    const clock = createTestClock(start);
    const registry = engines(io.track(store), {
      clock,
      engineId: 'one',
      idGenerator: sequentialIds(`one-${start}-`),
    });
    const starts: number[] = [];
    const factory = registry.getAgentFactory();
    factory.registerAgentType('clocked', () => ({
      execute: async () => {
        starts.push(clock.now());
        return 'done';
      },
    }));
    return { registry, clock, factory, starts };
  }

  /** Starts a task under `options` on a new engine at 10_000 and lets its plan reach the store. */
  async function submitted(options: { delayMs?: number; scheduleToStartMs?: number }) {
    const { store, reopen } = backend();
    const first = engine(store, 10_000);
    const config = await first.factory.createAgentConfig({ name: 'Clocked', type: 'clocked' });
    const task = await first.registry.getTaskManager().createTask({ name: 'later' });
    const agent = await first.factory.createAgent(config.id);
    void first.registry
      .getEnhancedExecutor()
      .executeTask(task.id, agent, undefined, options)
      .catch(() => {});
    await io.settle();
    return { store, reopen, first, task };
  }

  for (const how of ['stopped', 'died'] as const) {
    it(`a delayed task whose engine ${how} before its time starts at its time on the next engine`, async () => {
      const { store, reopen, first, task } = await submitted({ delayMs: 1_000 });
      expect(await store.tasks.get(task.id)).toMatchObject({ status: 'PENDING', runAfter: 11_000 });
      if (how === 'stopped') await first.registry.stop({ graceMs: 0 });
      expect(first.starts).toEqual([]);
      const second = engine(reopen(), 10_400);
      const report = await second.registry.recover();
      expect(report.recovered).toEqual([task.id]);
      await io.advance(second.clock, 599);
      expect(second.starts).toEqual([]);
      expect((await second.registry.getRepository('tasks').get(task.id))?.status).toBe('PENDING');
      await io.advance(second.clock, 1);
      const [result] = await report.results;
      expect(result).toMatchObject({ status: 'COMPLETED', attempts: 1, output: 'done' });
      expect(second.starts).toEqual([11_000]);
    });
  }

  it('a deadline that passed while no engine ran ends the recovered task DEADLINE_EXCEEDED, unrun', async () => {
    const { reopen, first, task } = await submitted({ delayMs: 1_000, scheduleToStartMs: 500 });
    await first.registry.stop({ graceMs: 0 });
    const second = engine(reopen(), 10_600);
    const report = await second.registry.recover();
    expect(report.recovered).toEqual([task.id]);
    const [result] = await report.results;
    expect(result).toMatchObject({ status: 'FAILED', attempts: 0, error: { code: 'DEADLINE_EXCEEDED' } });
    expect(second.starts).toEqual([]);
  });

  it('a deadline still ahead after the restart binds the recovered task at its stored time', async () => {
    const { reopen, first, task } = await submitted({ delayMs: 1_000, scheduleToStartMs: 800 });
    await first.registry.stop({ graceMs: 0 });
    const second = engine(reopen(), 10_400);
    const report = await second.registry.recover();
    expect(report.recovered).toEqual([task.id]);
    await io.advance(second.clock, 399);
    expect((await second.registry.getRepository('tasks').get(task.id))?.status).toBe('PENDING');
    await io.advance(second.clock, 1);
    const [result] = await report.results;
    expect(result).toMatchObject({ status: 'FAILED', attempts: 0, error: { code: 'DEADLINE_EXCEEDED' } });
    expect(result!.finishedAt).toBe(10_800);
    expect(second.starts).toEqual([]);
  });
});
