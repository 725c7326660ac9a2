/**
 * Debounce and singleton keys of a workflow (issue 14; docs/policies.md "Debounce and singleton",
 * "In a workflow"), on every store, on the simulated clock: `enqueueWorkflow` (what `symphony run
 * --submit` calls) and `executeWorkflow` (what `symphony run` calls) with `debounce` or
 * `singleton`. Only the last workflow of a debounce burst runs, after the quiet period, the others
 * end CANCELLED with their tasks; a singleton skips (SINGLETON_ACTIVE) or cancels while a workflow
 * of its key is unfinished; concurrent submissions never leave two unfinished holders (fast-check).
 */
import fc from 'fast-check';
import { afterAll, expect, it } from 'vitest';
import { isTerminalStatus } from '../../machines/status.js';
import type { ServiceRegistry, Store } from '../../src/index.js';
import { advance, createTestClock, manualAgent, recordingAgent } from '../../src/testing/index.js';
import { describeEveryStore, useEngines } from '../durability/backends.js';
import { describePostgres, dropTestSchemas } from '../repositories/pg-helpers.js';
import { enginesOnPostgres } from '../support/pg-engines.js';
import { advanceUntil } from '../support/wait.js';

const T0 = 1_000_000;

/** A workflow of two tasks, named `name`; with `graph`, the second depends on the first. */
async function twoTasks(registry: ServiceRegistry, name: string, graph = false): Promise<string> {
  const tracker = registry.getWorkflowTracker();
  const tasks = registry.getTaskManager();
  const workflow = await tracker.createWorkflow({ name });
  if (!graph) {
    for (const part of ['a', 'b'])
      await tasks.createTask({ name: `${name}-${part}`, workflowId: workflow.id });
    return workflow.id;
  }
  const first = await tasks.createTask({ name: `${name}-a` });
  const second = await tasks.createTask({ name: `${name}-b` });
  await tracker.addTasksToWorkflow(workflow.id, [
    { taskId: first.id },
    { taskId: second.id, dependsOn: [first.id] },
  ]);
  return workflow.id;
}

describeEveryStore('workflow debounce and singleton', (backend) => {
  const engine = useEngines();
  const setup = (store?: Store) => {
    const b = backend();
    const clock = createTestClock(T0);
    const registry = engine(store ?? b.store, { clock, random: () => 0.5 });
    return {
      b,
      clock,
      registry,
      executor: registry.getEnhancedExecutor(),
      tracker: registry.getWorkflowTracker(),
    };
  };
  const statuses = async (registry: ServiceRegistry, workflowId: string) => [
    (await registry.getWorkflowTracker().getWorkflow(workflowId)).status,
    ...(await registry.getWorkflowTracker().getWorkflowTasks(workflowId)).map((task) => task.status),
  ];

  for (const graph of [false, true]) {
    it(`submits: only the last workflow of a burst runs, ${graph ? 'as a whole' : 'task by task'}, 500 ms after it came`, async () => {
      const { b, clock, registry, executor } = setup();
      const ids: string[] = [];
      for (let i = 0; i < 3; i += 1) {
        ids.push(await twoTasks(registry, `reindex-${i}`, graph));
        await executor.enqueueWorkflow(ids[i]!, {
          agentKey: 'w',
          debounce: { key: 'reindex', delayMs: 500 },
        });
        await advance(clock, 100);
      }
      // Now T0 + 300; the last came at T0 + 200 and waits until T0 + 700.
      expect(await statuses(registry, ids[0]!)).toEqual(['CANCELLED', 'CANCELLED', 'CANCELLED']);
      expect(await statuses(registry, ids[1]!)).toEqual(['CANCELLED', 'CANCELLED', 'CANCELLED']);
      expect(await statuses(registry, ids[2]!)).toEqual(['PENDING', 'PENDING', 'PENDING']);
      const agent = manualAgent('w');
      const worker = engine(b.reopen(), { clock, engineId: 'worker-1' });
      const handle = await worker.startWorker({ resolveAgent: () => agent, pollMs: 10 });
      await advanceUntil('the agent to be called', clock, 10, () => agent.waiting.length > 0);
      expect(clock.now()).toBeGreaterThanOrEqual(T0 + 700);
      expect(agent.calls.map((call) => call.task.name).sort()).toEqual(
        graph ? ['reindex-2-a'] : ['reindex-2-a', 'reindex-2-b'],
      );
      for (let done = 0; done < 2; done += 1) {
        await advanceUntil('a call', clock, 10, () => agent.waiting.length > 0);
        agent.resolveNext('ok');
      }
      await advanceUntil(
        'reindex-2 COMPLETED',
        clock,
        10,
        async () => (await registry.getWorkflowTracker().getWorkflow(ids[2]!)).status === 'COMPLETED',
      );
      await handle.stop();
    });
  }

  it('executeWorkflow: a debounced run waits, and ends CANCELLED when a later workflow replaces it', async () => {
    const { b, clock, registry, executor } = setup();
    const agent = recordingAgent('w', () => 'ok');
    const debounce = { key: 'reindex', delayMs: 500 };
    const runs = [];
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      ids.push(await twoTasks(registry, `reindex-${i}`));
      runs.push(executor.executeWorkflow(ids[i]!, { agent, debounce }));
      await advanceUntil(
        `run ${i} to hold the key`,
        clock,
        0,
        async () => (await b.store.workflowKeyHolder!('debounce:reindex')) === ids[i],
      );
      await advance(clock, 100);
    }
    const [first, second] = await Promise.all(runs.slice(0, 2));
    expect([first!.status, second!.status]).toEqual(['CANCELLED', 'CANCELLED']);
    await advanceUntil('the last run to start', clock, 10, () => agent.calls.length > 0);
    expect(clock.now()).toBeGreaterThanOrEqual(T0 + 700);
    expect((await runs[2]!).status).toBe('COMPLETED');
    expect(agent.calls.map((call) => call.task.name).sort()).toEqual(['reindex-2-a', 'reindex-2-b']);
    expect(await statuses(registry, ids[0]!)).toEqual(['CANCELLED', 'CANCELLED', 'CANCELLED']);
  });

  it('a singleton that skips refuses a new workflow while one of its key is unfinished, not after', async () => {
    const { registry, executor, tracker } = setup();
    const singleton = { key: 'sync', mode: 'skip' } as const;
    const first = await twoTasks(registry, 'sync-1');
    const second = await twoTasks(registry, 'sync-2');
    await executor.enqueueWorkflow(first, { agentKey: 'w', singleton });
    await expect(executor.enqueueWorkflow(second, { agentKey: 'w', singleton })).rejects.toMatchObject({
      code: 'SINGLETON_ACTIVE',
      details: { key: 'sync', workflowId: second, holder: first },
    });
    await expect(
      executor.executeWorkflow(second, { agent: manualAgent('w'), singleton }),
    ).rejects.toMatchObject({ code: 'SINGLETON_ACTIVE' });
    // The refused workflow is left as it was: nothing of it handed to workers.
    expect((await tracker.getWorkflowTasks(second)).map((task) => task.execution)).toEqual([null, null]);
    const agent = recordingAgent('w', () => 'ok');
    expect((await executor.executeWorkflow(first, { agent })).status).toBe('COMPLETED');
    await executor.enqueueWorkflow(second, { agentKey: 'w', singleton });
    expect((await tracker.getWorkflowTasks(second)).every((task) => task.execution !== null)).toBe(true);
  });

  it('a singleton that cancels ends the unfinished workflow of its key CANCELLED, and runs the new one', async () => {
    const { b, clock, registry, executor } = setup();
    const singleton = { key: 'sync', mode: 'cancel' } as const;
    const first = await twoTasks(registry, 'sync-1', true);
    const second = await twoTasks(registry, 'sync-2', true);
    await executor.enqueueWorkflow(first, { agentKey: 'w', singleton });
    await executor.enqueueWorkflow(second, { agentKey: 'w', singleton });
    expect(await statuses(registry, first)).toEqual(['CANCELLED', 'CANCELLED', 'CANCELLED']);
    const worker = engine(b.reopen(), { clock, engineId: 'worker-1' });
    const handle = await worker.startWorker({
      resolveAgent: () => recordingAgent('w', () => 'ok'),
      pollMs: 10,
    });
    await advanceUntil(
      'sync-2 COMPLETED',
      clock,
      10,
      async () => (await registry.getWorkflowTracker().getWorkflow(second)).status === 'COMPLETED',
    );
    await handle.stop();
    // In process: a running holder is cancelled too (its attempt aborted).
    const agent = manualAgent('m');
    const third = await twoTasks(registry, 'sync-3');
    const fourth = await twoTasks(registry, 'sync-4');
    const running = executor.executeWorkflow(third, { agent, singleton });
    await advanceUntil('sync-3 to run', clock, 0, () => agent.waiting.length > 0);
    const next = executor.executeWorkflow(fourth, { agent, singleton });
    expect((await running).status).toBe('CANCELLED');
    await advanceUntil('sync-4 COMPLETED', clock, 0, async () => {
      if (agent.waiting.length > 0) agent.resolveNext('ok');
      return (await registry.getWorkflowTracker().getWorkflow(fourth)).status === 'COMPLETED';
    });
    expect((await next).status).toBe('COMPLETED');
    expect(await statuses(registry, third)).toEqual(['CANCELLED', 'CANCELLED', 'CANCELLED']);
  });

  it('delays the tasks by the debounce; refuses a debounce with its own delay, and debounce with singleton', async () => {
    const { registry, executor } = setup();
    const id = await twoTasks(registry, 'w');
    // A workflow takes a key; its delay is the debounce's.
    await executor.enqueueWorkflow(id, { agentKey: 'w', debounce: { key: 'k', delayMs: 5 } });
    const due = (await registry.getWorkflowTracker().getWorkflowTasks(id)).map((task) => task.runAfter);
    expect(due).toEqual([T0 + 5, T0 + 5]);
    await expect(
      executor.enqueueWorkflow(id, { agentKey: 'w', debounce: { key: 'k', delayMs: 5 }, delayMs: 5 }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(
      executor.enqueueWorkflow(id, {
        agentKey: 'w',
        debounce: { key: 'k', delayMs: 5 },
        singleton: { key: 'k', mode: 'skip' },
      }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('takes no key for a workflow it refuses to hand over', async () => {
    const { registry, executor } = setup();
    const singleton = { key: 'k', mode: 'skip' } as const;
    const graph = await twoTasks(registry, 'g', true);
    // Workers take a workflow with graph parts without time limits.
    await expect(
      executor.enqueueWorkflow(graph, { agentKey: 'w', singleton, scheduleToStartMs: 5 }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const plain = await twoTasks(registry, 'p');
    await expect(executor.enqueueWorkflow(plain, { agentKey: 'w', singleton })).resolves.toHaveLength(2);
  });

  it('never leaves two unfinished workflows holding a key, whatever submissions race (fast-check)', async () => {
    type Mode = 'skip' | 'cancel' | 'debounce';
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom<Mode>('skip', 'cancel', 'debounce'), { minLength: 2, maxLength: 6 }),
        fc.array(fc.nat({ max: 2 }), { minLength: 6, maxLength: 6 }),
        async (modes, waves) => {
          const { registry, executor, tracker } = setup();
          const ids = await Promise.all(modes.map((_, i) => twoTasks(registry, `s${i}`, i % 2 === 1)));
          // Submissions in waves: those of one wave race, a wave starts once the one before settled.
          const accepted = new Set<string>();
          for (let wave = 0; wave <= 2; wave += 1) {
            const settled = await Promise.allSettled(
              ids.map((id, i) =>
                waves[i] !== wave
                  ? undefined
                  : executor.enqueueWorkflow(id, {
                      agentKey: 'w',
                      ...(modes[i] === 'debounce'
                        ? { debounce: { key: 'one', delayMs: 1_000 } }
                        : { singleton: { key: 'one', mode: modes[i] as 'skip' | 'cancel' } }),
                    }),
              ),
            );
            settled.forEach((result, i) => {
              if (waves[i] === wave && result.status === 'fulfilled') accepted.add(ids[i]!);
            });
          }
          // An accepted workflow (its submission resolved) that is neither cancelled nor ended.
          const unfinished = async (kind: (mode: Mode) => boolean) => {
            let count = 0;
            for (const [i, id] of ids.entries()) {
              if (!kind(modes[i]!) || !accepted.has(id)) continue;
              const workflow = await tracker.getWorkflow(id);
              if (!workflow.cancelled && !isTerminalStatus(workflow.status)) count += 1;
            }
            return count;
          };
          const singletons = await unfinished((mode) => mode !== 'debounce');
          const debounced = await unfinished((mode) => mode === 'debounce');
          await registry.stop();
          // At most one; and with no worker to end it, the last to take the key still holds it.
          expect(singletons).toBe(modes.some((mode) => mode !== 'debounce') ? 1 : 0);
          expect(debounced).toBe(modes.includes('debounce') ? 1 : 0);
        },
      ),
      { numRuns: 8 },
    );
  });
});

describePostgres('workflow singleton and debounce: two engines on one PostgreSQL store', () => {
  afterAll(dropTestSchemas);

  it('gives the key to one workflow when two engines submit at once', async () => {
    const { engines } = enginesOnPostgres(2);
    try {
      for (const [round, key] of [
        [0, { singleton: { key: 'sync', mode: 'skip' as const } }],
        [1, { singleton: { key: 'sync-c', mode: 'cancel' as const } }],
        [2, { debounce: { key: 'reindex', delayMs: 60_000 } }],
      ] as const) {
        const ids = await Promise.all(engines.map((kit, n) => twoTasks(kit.registry, `r${round}-e${n}`)));
        const settled = await Promise.allSettled(
          engines.map((kit, n) => kit.executor.enqueueWorkflow(ids[n]!, { agentKey: 'w', ...key })),
        );
        const tracker = engines[0]!.workflowTracker;
        const left = [];
        for (const [n, id] of ids.entries()) {
          const workflow = await tracker.getWorkflow(id);
          if (settled[n]!.status === 'fulfilled' && !workflow.cancelled) left.push(id);
        }
        expect(left).toHaveLength(1);
        if (round === 0) {
          const refused = settled.find((result) => result.status === 'rejected') as PromiseRejectedResult;
          expect(refused.reason).toMatchObject({ code: 'SINGLETON_ACTIVE', details: { holder: left[0] } });
        } else expect(settled.every((result) => result.status === 'fulfilled')).toBe(true);
      }
    } finally {
      await Promise.all(engines.map((kit) => kit.stop()));
    }
  });
});
