import { expect, it } from 'vitest';
import { InvalidArgumentError, type Agent } from '../../src/index.js';
import { describeEveryStore, useEngines } from '../durability/backends.js';

/** Logs each completed run by task name; tasks named in `failing` throw. */
function logger(failing: ReadonlySet<string>) {
  const log: Array<{ name: string; input: Record<string, unknown> }> = [];
  const agent: Agent = {
    id: 'saga-agent',
    async execute(task) {
      if (failing.has(task.name)) throw new Error(`${task.name} broke`);
      log.push({ name: task.name, input: task.inputData });
      return { did: task.name };
    },
  };
  return { agent, log };
}

describeEveryStore('compensation (sagas)', (backend) => {
  const start = useEngines();
  function engine() {
    const registry = start(backend().store, { retry: { maxAttempts: 2, initialDelayMs: 0, jitter: 0 } });
    return {
      registry,
      tasks: registry.getTaskManager(),
      tracker: registry.getWorkflowTracker(),
      executor: registry.getEnhancedExecutor(),
    };
  }

  it('runs the compensations of completed tasks in reverse order when the workflow fails', async () => {
    const { tasks, tracker, executor } = engine();
    const wf = await tracker.createWorkflow({ name: 'trip' });
    const flight = await tasks.createTask({ name: 'book-flight', inputData: { to: 'Lima' } });
    const hotel = await tasks.createTask({ name: 'book-hotel' });
    const car = await tasks.createTask({ name: 'book-car' });
    await tracker.addTaskToWorkflow(wf.id, flight.id, {
      compensate: { name: 'cancel-flight', input: { reason: 'trip failed' } },
    });
    await tracker.addTaskToWorkflow(wf.id, hotel.id, {
      dependsOn: [flight.id],
      compensate: { name: 'cancel-hotel' },
    });
    await tracker.addTaskToWorkflow(wf.id, car.id, {
      dependsOn: [hotel.id],
      compensate: { name: 'cancel-car' },
    });
    const { agent, log } = logger(new Set(['book-car']));
    const result = await executor.executeWorkflow(wf.id, { agent });
    expect(result.status).toBe('FAILED');
    expect(result.compensated).toBe(true);
    expect(log.map((entry) => entry.name)).toEqual([
      'book-flight',
      'book-hotel',
      'cancel-hotel',
      'cancel-flight',
    ]);
    expect(log[3]!.input).toEqual({
      reason: 'trip failed',
      compensated: { taskId: flight.id, input: { to: 'Lima' }, output: { did: 'book-flight' } },
    });
    const undo = await tasks.getTask(`${hotel.id}-compensate`);
    expect(undo).toMatchObject({ status: 'COMPLETED', workflowId: wf.id });
    expect(await tracker.getWorkflowStatus(wf.id)).toBe('FAILED');
  });

  it('stops at a compensation that fails after its retries: the rest wait, compensated is false', async () => {
    const { tasks, tracker, executor } = engine();
    const wf = await tracker.createWorkflow({ name: 'trip' });
    const ids: string[] = [];
    for (const name of ['a', 'b', 'c']) {
      const task = await tasks.createTask({ name });
      await tracker.addTaskToWorkflow(wf.id, task.id, {
        ...(ids.length > 0 ? { dependsOn: [ids.at(-1)!] } : {}),
        ...(name !== 'c' ? { compensate: { name: `undo-${name}` } } : {}),
      });
      ids.push(task.id);
    }
    const { agent, log } = logger(new Set(['c', 'undo-b']));
    const result = await executor.executeWorkflow(wf.id, { agent });
    expect(result).toMatchObject({ status: 'FAILED', compensated: false });
    expect(log.map((entry) => entry.name)).toEqual(['a', 'b']);
    expect(await tasks.getTask(`${ids[1]}-compensate`)).toMatchObject({ status: 'FAILED', attempts: 2 });
    expect(await tasks.getTask(`${ids[0]}-compensate`)).toMatchObject({ status: 'PENDING', attempts: 0 });
  });

  it('leaves a workflow without compensations as it was: no `compensated`', async () => {
    const { tasks, tracker, executor } = engine();
    const wf = await tracker.createWorkflow({ name: 'plain' });
    const task = await tasks.createTask({ name: 'x' });
    await tracker.addTaskToWorkflow(wf.id, task.id, {});
    const { agent } = logger(new Set(['x']));
    const result = await executor.executeWorkflow(wf.id, { agent });
    expect(result.status).toBe('FAILED');
    expect('compensated' in result).toBe(false);
  });

  it('refuses a malformed compensation', async () => {
    const { tasks, tracker } = engine();
    const wf = await tracker.createWorkflow({ name: 'bad' });
    const task = await tasks.createTask({ name: 'x' });
    for (const compensate of [{}, { name: '' }, { name: 'u', tags: 'x' }, { name: 'u', extra: 1 }]) {
      await expect(
        tracker.addTaskToWorkflow(wf.id, task.id, { compensate: compensate as never }),
      ).rejects.toBeInstanceOf(InvalidArgumentError);
    }
  });
});
