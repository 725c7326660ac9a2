import { expect, it } from 'vitest';
import { advance, createTestClock } from '../../src/testing/clock.js';
import { until } from '../support/wait.js';
import { describeEveryStore, useEngines } from './backends.js';

// Issue 14, "Schedules": a firing recorded by an engine that stopped before it stored the workflow
// is not lost: the next engine that ticks, after the grace period, starts it, once.

const T0 = Date.UTC(2026, 0, 1);
const GRACE = 30_000;

describeEveryStore('cron schedules across a crash', (backend) => {
  const engine = useEngines();

  it('starts a firing whose workflow was never stored, once, on one of two engines', async () => {
    const b = backend();
    const clock = createTestClock(T0);
    const first = engine(b.store, { clock, engineId: 'engine-1', scheduleRecoverAfterMs: GRACE });
    const second = engine(b.reopen(), { clock, engineId: 'engine-2', scheduleRecoverAfterMs: GRACE });
    for (const registry of [first, second]) {
      registry.getAgentFactory().registerAgentType('echo', () => ({
        execute: async (task) => ({ echoed: task.name }),
      }));
    }
    const config = await first.getAgentFactory().createAgentConfig({ name: 'Echo', type: 'echo' });
    await first.getScheduler().create({
      id: 'yearly',
      cron: '0 0 1 1 *',
      template: {
        workflow: { name: 'Report', tasks: [{ key: 'a' }, { key: 'b', dependsOn: ['a'] }] },
        agentKey: config.id,
      },
    });
    // The engine that fired it stopped here: the firing is recorded, its workflow never made.
    const workflowId = `yearly-at-${T0}`;
    const recorded = await b.store.schedules!.recordFiring({
      scheduleId: 'yearly',
      occurrenceAt: T0,
      workflowId,
      firedBy: 'crashed-engine',
      firedAt: T0,
    });
    expect(recorded).toBe(true);
    const tracker = first.getWorkflowTracker();
    // Within the grace period the firing may still be on its way: nobody takes it.
    await advance(clock, GRACE - 1);
    expect(await first.getScheduler().tick()).toEqual([]);
    expect(await tracker.listWorkflows({ where: { id: workflowId } })).toEqual([]);
    await advance(clock, 1);
    const [one, two] = await Promise.all([first.getScheduler().tick(), second.getScheduler().tick()]);
    const restarted = [...one, ...two];
    expect(restarted.map((f) => f.workflowId)).toEqual([workflowId]);
    expect(restarted[0]!.firedAt).toBe(T0 + GRACE);
    await second.startWorker({ pollMs: 1_000, schedules: false });
    await until('the restarted workflow completed', async () => {
      await advance(clock, 1_000);
      const [workflow] = await tracker.listWorkflows({ where: { id: workflowId } });
      return workflow?.status === 'COMPLETED';
    });
    // Later ticks find its workflow stored: nothing starts again.
    await advance(clock, 2 * GRACE);
    expect(await first.getScheduler().tick()).toEqual([]);
    expect(await second.getScheduler().tick()).toEqual([]);
    const made = (await tracker.listWorkflows()).filter((w) => w.metadata.scheduleId === 'yearly');
    expect(made.map((w) => w.id)).toEqual([workflowId]);
    const tasks = await tracker.getWorkflowTasks(workflowId);
    expect(tasks.map((t) => [t.id, t.status, t.attempts])).toEqual([
      [`${workflowId}-a`, 'COMPLETED', 1],
      [`${workflowId}-b`, 'COMPLETED', 1],
    ]);
    const [firing] = await first.getScheduler().firings('yearly');
    expect(firing).toMatchObject({ workflowId, firedAt: T0 + GRACE });
    expect(['engine-1', 'engine-2']).toContain(firing!.firedBy);
  });
});
