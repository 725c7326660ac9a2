/**
 * Debounce and singleton keys (issue 14; docs/policies.md "Debounce and singleton"), on every store,
 * on the simulated clock: only the last task of a debounce burst runs, after the quiet period, the
 * others end CANCELLED; `maxWaitMs` bounds a burst; a singleton skips (SINGLETON_ACTIVE) or cancels
 * while a task of its key is unfinished; concurrent submissions never leave two queued tasks for a
 * key (fast-check).
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import type { Store } from '../../src/index.js';
import { advance, createTestClock, manualAgent } from '../../src/testing/index.js';
import { describeEveryStore, useEngines } from '../durability/backends.js';
import { advanceUntil, until } from '../support/wait.js';

describeEveryStore('debounce and singleton', (backend) => {
  const engine = useEngines();
  const setup = (store?: Store) => {
    const b = backend();
    const clock = createTestClock(1_000_000);
    const registry = engine(store ?? b.store, { clock, random: () => 0.5 });
    return { b, clock, registry, tasks: registry.getTaskManager(), executor: registry.getEnhancedExecutor() };
  };

  it('runs only the last task of a debounce burst, after its quiet period; the others end CANCELLED', async () => {
    const { b, clock, tasks, executor } = setup();
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      const task = await tasks.createTask({ name: `burst-${i}` });
      ids.push(task.id);
      await executor.enqueueTask(task.id, 'w', { debounce: { key: 'doc-7', delayMs: 500 } });
      await advance(clock, 100);
    }
    // Now 1_000_300; the last came at 1_000_200 and waits until 1_000_700.
    expect((await tasks.getTask(ids[0]!)).status).toBe('CANCELLED');
    expect((await tasks.getTask(ids[1]!)).status).toBe('CANCELLED');
    expect(await tasks.getTask(ids[2]!)).toMatchObject({ status: 'PENDING', runAfter: 1_000_700 });
    const agent = manualAgent('w');
    const worker = engine(b.reopen(), { clock, engineId: 'worker-1' });
    const handle = await worker.startWorker({ resolveAgent: () => agent, pollMs: 10 });
    await advanceUntil('the agent to be called', clock, 10, () => agent.waiting.length > 0);
    expect(clock.now()).toBeGreaterThanOrEqual(1_000_700);
    expect(agent.calls.map((call) => call.task.name)).toEqual(['burst-2']);
    agent.resolveNext('ok');
    await advanceUntil(
      'burst-2 COMPLETED',
      clock,
      10,
      async () => (await tasks.getTask(ids[2]!)).status === 'COMPLETED',
    );
    await handle.stop();
  });

  it('bounds a burst by maxWaitMs from its first task', async () => {
    const { clock, tasks, executor } = setup();
    const due: number[] = [];
    for (let i = 0; i < 4; i += 1) {
      const task = await tasks.createTask({ name: `input-${i}` });
      await executor.enqueueTask(task.id, 'w', { debounce: { key: 'k', delayMs: 500, maxWaitMs: 1_000 } });
      due.push((await tasks.getTask(task.id)).runAfter!);
      await advance(clock, 300);
    }
    expect(due).toEqual([1_000_500, 1_000_800, 1_001_000, 1_001_000]);
  });

  it('a singleton that skips refuses a new task while one of its key is unfinished', async () => {
    const { tasks, executor } = setup();
    const first = await tasks.createTask({ name: 'first' });
    const second = await tasks.createTask({ name: 'second' });
    const singleton = { key: 'nightly', mode: 'skip' } as const;
    await executor.enqueueTask(first.id, 'w', { singleton });
    await expect(executor.enqueueTask(second.id, 'w', { singleton })).rejects.toMatchObject({
      code: 'SINGLETON_ACTIVE',
      details: { key: 'nightly', taskId: second.id, holder: first.id },
    });
    // The refused task is left as it was: PENDING, not queued.
    expect(await tasks.getTask(second.id)).toMatchObject({ status: 'PENDING', execution: null });
    await tasks.cancelTask(first.id);
    await executor.enqueueTask(second.id, 'w', { singleton });
    expect((await tasks.getTask(second.id)).execution).not.toBeNull();
  });

  it('a singleton that cancels replaces the queued task of its key; executeTask takes no key', async () => {
    const { tasks, executor } = setup();
    const agent = manualAgent('a');
    const running = await tasks.createTask({ name: 'running' });
    const done = executor.executeTask(running.id, agent);
    await until('the first attempt', () => agent.waiting.length === 1, { timeoutMs: 20_000 });
    const queued = await tasks.createTask({ name: 'queued' });
    const next = await tasks.createTask({ name: 'next' });
    const singleton = { key: 'sync', mode: 'cancel' } as const;
    await executor.enqueueTask(queued.id, 'w', { singleton });
    await executor.enqueueTask(next.id, 'w', { singleton });
    expect((await tasks.getTask(queued.id)).status).toBe('CANCELLED');
    expect((await tasks.getTask(next.id)).status).toBe('PENDING');
    agent.resolveNext('ok');
    expect((await done).status).toBe('COMPLETED');
  });

  it('refuses a key for several tasks at once, and debounce with its own delay', async () => {
    const { tasks, executor } = setup();
    const [a, b] = [await tasks.createTask({ name: 'a' }), await tasks.createTask({ name: 'b' })];
    const singleton = { key: 'k', mode: 'skip' } as const;
    await expect(
      executor.enqueueTasks(
        [
          [a.id, 'w'],
          [b.id, 'w'],
        ],
        { singleton },
      ),
    ).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    await expect(
      executor.enqueueTask(a.id, 'w', { debounce: { key: 'k', delayMs: 5 }, delayMs: 5 }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(
      executor.enqueueTask(a.id, 'w', { singleton: { key: '', mode: 'skip' } }),
    ).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });

  it('never leaves two queued tasks for a singleton key, whatever submissions race (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom('skip', 'cancel'), { minLength: 2, maxLength: 6 }),
        async (modes) => {
          const { tasks, executor, registry } = setup();
          const created = await Promise.all(modes.map((_, i) => tasks.createTask({ name: `s${i}` })));
          await Promise.allSettled(
            created.map((task, i) =>
              executor.enqueueTask(task.id, 'w', {
                singleton: { key: 'one', mode: modes[i] as 'skip' | 'cancel' },
              }),
            ),
          );
          const rows = await Promise.all(created.map((task) => tasks.getTask(task.id)));
          const queued = rows.filter((row) => row.status === 'PENDING' && row.execution !== null);
          await registry.stop();
          expect(queued).toHaveLength(1);
        },
      ),
      { numRuns: 8 },
    );
  });
});
