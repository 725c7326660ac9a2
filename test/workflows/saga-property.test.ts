import fc from 'fast-check';
import { expect, it } from 'vitest';
import { ServiceRegistry, type Agent } from '../../src/index.js';
import { createTestClock } from '../../src/testing/index.js';
import { describeEveryStore } from '../durability/backends.js';

/** Cases per store: fewer where each case opens a database. */
const RUNS = { memory: 60, database: 8 };

/**
 * For random DAGs where some tasks declare a compensation and one task fails: the compensations
 * that run are exactly those of the tasks that completed, each once, in reverse order of
 * completion (issue 14, "Compensation (saga)").
 */
describeEveryStore('compensation (sagas), property', (backend) => {
  it('runs the compensations of exactly the completed tasks, once each, in reverse completion order', async () => {
    const probe = backend().store;
    const numRuns = probe.kind === 'memory' ? RUNS.memory : RUNS.database;
    await probe.close();
    const caseArb = fc.integer({ min: 1, max: 8 }).chain((count) =>
      fc.record({
        deps: fc.tuple(
          ...Array.from({ length: count }, (_, i) =>
            i === 0 ? fc.constant<number[]>([]) : fc.uniqueArray(fc.nat(i - 1), { maxLength: 3 }),
          ),
        ),
        compensates: fc.array(fc.boolean(), { minLength: count, maxLength: count }),
        failing: fc.nat(count - 1),
      }),
    );
    await fc.assert(
      fc.asyncProperty(caseArb, async ({ deps, compensates, failing }) => {
        // Simulated time: each agent moves it 1 ms, so no two tasks finish in the same millisecond.
        const clock = createTestClock(1_000);
        const registry = new ServiceRegistry({
          store: backend().store,
          clock,
          controlPollMs: 0,
          retry: { maxAttempts: 1 },
        });
        const tasks = registry.getTaskManager();
        const tracker = registry.getWorkflowTracker();
        const wf = await tracker.createWorkflow({ name: 'saga' });
        const ids: string[] = [];
        for (let i = 0; i < deps.length; i++) ids.push((await tasks.createTask({ name: `t${i}` })).id);
        await tracker.addTasksToWorkflow(
          wf.id,
          deps.map((d, i) => ({
            taskId: ids[i]!,
            dependsOn: d.map((j) => ids[j]!),
            ...(compensates[i] ? { compensate: { name: `undo-t${i}` } } : {}),
          })),
        );
        const ran: string[] = [];
        const agent: Agent = {
          id: 'saga',
          async execute(task) {
            ran.push(task.name);
            clock.increment(1);
            if (task.name === `t${failing}`) throw new Error('fails');
            return null;
          },
        };
        const result = await registry
          .getEnhancedExecutor()
          .executeWorkflow(wf.id, { agent, maxConcurrent: 1 });
        expect(result.status).toBe('FAILED');
        const stored = await tracker.getWorkflowTasks(wf.id);
        const completed = stored
          .filter((task) => task.graph?.compensates == null && task.status === 'COMPLETED')
          .map((task) => task.name);
        // The order they completed in: the agent's log (one runs at a time).
        const completionOrder = ran.filter((name) => completed.includes(name));
        const expected = completionOrder
          .filter((name) => compensates[Number(name.slice(1))])
          .reverse()
          .map((name) => `undo-${name}`);
        expect(ran.filter((name) => name.startsWith('undo-'))).toEqual(expected);
        expect(result.compensated ?? null).toBe(compensates.some(Boolean) ? true : null);
        await registry.stop();
      }),
      { numRuns },
    );
  }, 60_000);
});
