import { expect, it } from 'vitest';
import type { ServiceRegistry } from '../../src/index.js';
import type { Schedule } from '../../src/schedules/schedule.js';
import { advance, createTestClock } from '../../src/testing/clock.js';
import { until } from '../support/wait.js';
import { describeEveryStore, useEngines } from './backends.js';

// Issue 14, "Schedules": each due occurrence of a cron schedule starts one workflow, cluster-wide.

const MINUTE = 60_000;
const T0 = Date.UTC(2026, 0, 1);

function row(id: string, fields: Partial<Schedule> = {}): Schedule {
  return {
    id,
    cron: '* * * * *',
    timezone: null,
    template: { workflow: { name: 'w', tasks: [{ key: 'a' }] }, agentKey: 'x' },
    catchUp: 'all',
    maxCatchUp: 10,
    graceMs: MINUTE,
    overlap: 'allow',
    paused: false,
    nextRunAt: T0 + MINUTE,
    lastWorkflowId: null,
    createdAt: T0,
    updatedAt: T0,
    ...fields,
  };
}

function registerEcho(registry: ServiceRegistry): void {
  registry.getAgentFactory().registerAgentType('echo', () => ({
    execute: async (task) => ({ echoed: task.name }),
  }));
}

describeEveryStore('cron schedules', (backend) => {
  const engine = useEngines();

  it('claiming a due occurrence twice at once fires it once', async () => {
    const b = backend();
    const one = b.store;
    const two = b.reopen();
    await one.open();
    if (two !== one) await two.open();
    try {
      for (let i = 0; i < 5; i += 1) await one.schedules!.save(row(`s${i}`));
      const plan = () => ({ occurrences: [T0 + MINUTE, T0 + 2 * MINUTE], nextRunAt: T0 + 3 * MINUTE });
      const claim = (store: typeof one, engineId: string) =>
        store.schedules!.claimDue({ now: T0 + 2 * MINUTE, engineId, limit: 10, plan });
      const [a, c] = await Promise.all([claim(one, 'e1'), claim(two, 'e2')]);
      const fired = [...a, ...c];
      expect(fired).toHaveLength(10);
      expect(new Set(fired.map((f) => f.workflowId)).size).toBe(10);
      // Claimed once: each schedule advanced, nothing due any more.
      expect(await claim(one, 'e3')).toEqual([]);
      for (let i = 0; i < 5; i += 1) {
        const stored = (await one.schedules!.get(`s${i}`))!;
        expect(stored.nextRunAt).toBe(T0 + 3 * MINUTE);
        expect(stored.lastWorkflowId).toBe(`s${i}-at-${T0 + 2 * MINUTE}`);
        expect(await one.schedules!.firings(`s${i}`)).toHaveLength(2);
      }
      // An occurrence recorded already is not recorded again.
      expect(await one.schedules!.recordFiring({ ...fired[0]!, firedBy: 'e4' })).toBe(false);
    } finally {
      if (two !== one) await two.close();
      await one.close();
    }
  });

  it('two engines firing a schedule every minute start exactly one workflow per occurrence, run to COMPLETED', async () => {
    const b = backend();
    const clock = createTestClock(T0);
    const first = engine(b.store, { clock, engineId: 'engine-1' });
    const second = engine(b.reopen(), { clock, engineId: 'engine-2' });
    for (const registry of [first, second]) registerEcho(registry);
    const config = await first
      .getAgentFactory()
      .createAgentConfig({ name: 'Echo', type: 'echo', maxConcurrency: 4 });
    const schedule = await first.getScheduler().create({
      id: 'every-minute',
      cron: '* * * * *',
      template: {
        workflow: { name: 'Report', tasks: [{ key: 'fetch' }, { key: 'write' }] },
        agentKey: config.id,
      },
    });
    expect(schedule.nextRunAt).toBe(T0 + MINUTE);
    await first.startWorker({ pollMs: 1_000 });
    await second.startWorker({ pollMs: 1_000 });
    const tracker = first.getWorkflowTracker();
    const occurrences = 4;
    for (let i = 1; i <= occurrences; i += 1) {
      // Time moves a poll at a time (the engines' loops re-arm their naps after each store round trip).
      await until(`occurrence ${i} fired and its workflow completed`, async () => {
        await advance(clock, clock.now() < T0 + i * MINUTE + MINUTE / 2 ? 1_000 : 0);
        const fired = await first.getScheduler().firings('every-minute');
        if (fired.length < i) return false;
        // The engine that fired it may not have committed its workflow yet.
        const [workflow] = await tracker.listWorkflows({ where: { id: fired[i - 1]!.workflowId } });
        return workflow?.status === 'COMPLETED';
      });
    }
    const fired = await first.getScheduler().firings('every-minute');
    expect(fired.map((f) => f.occurrenceAt)).toEqual(
      Array.from({ length: occurrences }, (_, i) => T0 + (i + 1) * MINUTE),
    );
    const workflows = (await tracker.listWorkflows()).filter((w) => w.metadata.scheduleId === 'every-minute');
    expect(workflows.map((w) => w.id).sort()).toEqual(fired.map((f) => f.workflowId).sort());
    for (const workflow of workflows) {
      expect(workflow.status).toBe('COMPLETED');
      expect(await tracker.getWorkflowTasks(workflow.id)).toHaveLength(2);
    }
  });

  it('pauses, resumes, triggers and deletes a schedule', async () => {
    const b = backend();
    const clock = createTestClock(T0);
    const registry = engine(b.store, { clock });
    const scheduler = registry.getScheduler();
    await scheduler.create({
      id: 'hourly',
      cron: '0 * * * *',
      template: { workflow: { name: 'w', tasks: [{ key: 'a' }] }, agentKey: 'nobody' },
    });
    expect((await scheduler.pause('hourly')).paused).toBe(true);
    await advance(clock, 3 * 60 * MINUTE);
    expect(await scheduler.tick()).toEqual([]);
    const resumed = await scheduler.resume('hourly');
    // Occurrences that fell while paused are not caught up.
    expect(resumed.nextRunAt).toBe(T0 + 4 * 60 * MINUTE);
    const firing = await scheduler.trigger('hourly');
    expect(firing.workflowId).toBe(`hourly-at-${T0 + 3 * 60 * MINUTE}`);
    expect((await registry.getWorkflowTracker().getWorkflow(firing.workflowId)).metadata).toEqual({
      scheduleId: 'hourly',
      occurrenceAt: T0 + 3 * 60 * MINUTE,
    });
    await expect(
      scheduler.create({ id: 'hourly', cron: '0 * * * *', template: resumed.template }),
    ).rejects.toMatchObject({
      code: 'DUPLICATE_ID',
    });
    await scheduler.delete('hourly');
    await expect(scheduler.get('hourly')).rejects.toMatchObject({ code: 'SCHEDULE_NOT_FOUND' });
    expect(await scheduler.list()).toEqual([]);
  });

  it("a template's fairness key and time limits go into the plans of every workflow it starts, counted from the firing", async () => {
    const b = backend();
    const clock = createTestClock(T0);
    const scheduler = engine(b.store, { clock }).getScheduler();
    await scheduler.create({
      id: 'keyed',
      cron: '* * * * *',
      template: {
        workflow: { name: 'w', tasks: [{ key: 'fetch' }, { key: 'write' }] },
        agentKey: 'nobody',
        concurrencyKey: 'acme',
        keyConcurrency: 1,
        scheduleToCloseMs: 30_000,
        taskOptions: {
          write: { concurrencyKey: 'globex', scheduleToStartMs: 5_000, heartbeatTimeoutMs: 2_000 },
        },
      },
    });
    // Fired 7 s after its occurrence: the limits count from the firing's enqueue.
    await advance(clock, MINUTE + 7_000);
    const [firing] = await scheduler.tick();
    expect(firing!.occurrenceAt).toBe(T0 + MINUTE);
    const firedAt = clock.now();
    const tasks = await b.store.tasks.find({ where: { workflowId: firing!.workflowId } });
    const planOf = (key: string) =>
      tasks.find((task) => task.id === `${firing!.workflowId}-${key}`)!.execution;
    expect(planOf('fetch')).toMatchObject({
      concurrencyKey: 'acme',
      keyConcurrency: 1,
      closeBy: firedAt + 30_000,
    });
    // A task's own key comes with its own limits (none here); the run's close deadline stays.
    expect(planOf('write')).toMatchObject({
      concurrencyKey: 'globex',
      closeBy: firedAt + 30_000,
      deadline: firedAt + 5_000,
      heartbeatTimeoutMs: 2_000,
    });
    expect(planOf('write')).not.toHaveProperty('keyConcurrency');
  });

  it('refuses a template whose policies enqueueWorkflow would refuse, at create, naming the field', async () => {
    const b = backend();
    const scheduler = engine(b.store, { clock: createTestClock(T0) }).getScheduler();
    const workflow = { name: 'w', tasks: [{ key: 'a' }] };
    const refusal = (fields: Record<string, unknown>, wf: typeof workflow | object = workflow) =>
      scheduler.create({ cron: '* * * * *', template: { workflow: wf, agentKey: 'x', ...fields } as never });
    await expect(refusal({ concurrencyKey: 'acme', keyConcurrency: 0 })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: 'template: Expected `keyConcurrency` to be an integer >= 1, got 0',
    });
    await expect(refusal({ keyConcurrency: 2 })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: 'template: Expected `keyConcurrency` only with a `concurrencyKey`',
    });
    await expect(refusal({ scheduleToCloseMs: -1 })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringMatching(/^template: Expected `scheduleToCloseMs` to be a whole number/),
    });
    await expect(
      refusal({ taskOptions: { a: { keyRateLimits: [{ requests: 1, per: 1000 }] } } }),
    ).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: 'template: taskOptions.a: Expected `keyRateLimits` only with a `concurrencyKey`',
    });
    // A schedule decides when its workflows start.
    for (const field of ['delayMs', 'runAt', 'deadline']) {
      await expect(refusal({ [field]: 5 })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: expect.stringContaining(`\`template.${field}\``),
      });
    }
    await expect(refusal({ taskOptions: { a: { delayMs: 5 } } })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('`template.taskOptions.a.delayMs`'),
    });
    // Workers take a workflow with graph parts without time limits: refused now, not at every firing.
    const graph = { name: 'g', tasks: [{ key: 'a' }, { key: 'b', dependsOn: ['a'] }] };
    await expect(refusal({ taskOptions: { b: { scheduleToCloseMs: 1_000 } } }, graph)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringMatching(/^template: taskOptions\.b: Expected no time limits/),
    });
    // maxConcurrent limits what goes to workers as a whole; refused now rather than at every firing.
    await expect(refusal({ maxConcurrent: 2 })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: 'Expected no `template.maxConcurrent`: it limits a workflow with graph parts or a fallback',
    });
    await expect(refusal({ fallback: { maxAgents: 0 } })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringMatching(/^template: Expected `fallback.maxAgents`/),
    });
    expect(await scheduler.list()).toEqual([]);
    // With a fallback a workflow goes as a whole, so maxConcurrent holds; both are kept.
    const kept = await scheduler.create({
      cron: '* * * * *',
      template: {
        workflow,
        agentKey: 'x',
        maxConcurrent: 2,
        fallback: { maxAgents: 2, candidates: ['x', 'y'] },
      },
    });
    expect(kept.template).toMatchObject({
      maxConcurrent: 2,
      fallback: { maxAgents: 2, candidates: ['x', 'y'] },
    });
  });
});
