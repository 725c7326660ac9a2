import { describe, expect, it, vi } from 'vitest';
import { createActor, type AnyActorLogic } from 'xstate';
import {
  agentMachine,
  taskMachine,
  taskSystemId,
  type AgentMachineInput,
  type SettledExecution,
  type StartingExecution,
  type TaskMachineInput,
} from '../../machines/index.js';
import { received, recordDeliveries, sentBy, startTaskActor, typesFrom } from './actor-kit.js';
import { guardLoopBreaker } from './loop-breaker.js';

function startAgent(input: Partial<AgentMachineInput> = {}) {
  const refuseExecutions = vi.fn();
  const taskActorFailed = vi.fn();
  const actor = createActor(
    agentMachine.provide({
      actions: {
        refuseExecutions: (_, params) => refuseExecutions(params.executionIds),
        taskActorFailed: (_, params) => taskActorFailed(params.error),
      },
    }),
    { input: { agentId: 'a1', maxConcurrency: 2, ...input } },
  ).start();
  const deliveries = recordDeliveries(actor);
  /** A task actor of this agent: task `t<n>`, run as execution `e<n>`. */
  const task = (n: number, taskInput: TaskMachineInput = {}) => startTaskActor(actor, `t${n}`, taskInput);
  return { actor, refuseExecutions, taskActorFailed, deliveries, task };
}

/** Execution `e<n>` of task `t<n>`. */
const starting = (n: number, timeoutMs = 0): StartingExecution => ({
  executionId: `e${n}`,
  taskId: `t${n}`,
  timeoutMs,
});
const run = (...ns: number[]) => ({ type: 'RUN' as const, executions: ns.map((n) => starting(n)) });
const settled = (n: number, ok: boolean, extra: Partial<SettledExecution> = {}): SettledExecution => ({
  executionId: `e${n}`,
  taskId: `t${n}`,
  ok,
  ...extra,
});

describe('agent machine', () => {
  it('starts idle with an empty load', () => {
    const { actor } = startAgent();
    expect(actor.getSnapshot().value).toBe('idle');
    expect(actor.getSnapshot().context).toEqual({
      agentId: 'a1',
      maxConcurrency: 2,
      inFlight: 0,
      completed: 0,
      failed: 0,
    });
  });

  it('RUN takes executions into free slots and starts their task actors: idle -> busy -> full', () => {
    const { actor, refuseExecutions, task } = startAgent({ maxConcurrency: 3 });
    const [t1, t2, t3] = [task(1), task(2), task(3)];
    actor.send(run(1));
    expect(actor.getSnapshot().value).toBe('busy');
    expect(t1.getSnapshot().value).toEqual({ RUNNING: 'unbounded' });
    expect(t2.getSnapshot().value).toEqual({ PENDING: 'ready' });
    actor.send(run(2, 3));
    expect(actor.getSnapshot().value).toBe('full');
    expect(actor.getSnapshot().context.inFlight).toBe(3);
    expect(t2.getSnapshot().matches('RUNNING')).toBe(true);
    expect(t3.getSnapshot().matches('RUNNING')).toBe(true);
    expect(refuseExecutions).not.toHaveBeenCalled();
  });

  it('RUN beyond capacity refuses the whole batch, starts none of it and changes nothing', () => {
    const { actor, refuseExecutions, task, deliveries } = startAgent({ maxConcurrency: 2 });
    const [t1, t2, t3] = [task(1), task(2), task(3)];
    actor.send(run(1));
    actor.send(run(2, 3));
    expect(refuseExecutions).toHaveBeenCalledExactlyOnceWith(['e2', 'e3']);
    expect(t1.getSnapshot().matches('RUNNING')).toBe(true);
    expect(t2.getSnapshot().value).toEqual({ PENDING: 'ready' });
    expect(t3.getSnapshot().value).toEqual({ PENDING: 'ready' });
    expect(received(deliveries, t2)).toEqual([]);
    expect(received(deliveries, t3)).toEqual([]);
    expect(actor.getSnapshot().value).toBe('busy');
    expect(actor.getSnapshot().context.inFlight).toBe(1);
  });

  it('RUN while full is refused and sends no START', () => {
    const { actor, refuseExecutions, task, deliveries } = startAgent({ maxConcurrency: 1 });
    task(1);
    const t2 = task(2);
    actor.send(run(1));
    expect(actor.getSnapshot().value).toBe('full');
    actor.send(run(2));
    expect(refuseExecutions).toHaveBeenCalledExactlyOnceWith(['e2']);
    expect(received(deliveries, t2)).toEqual([]);
    expect(t2.getSnapshot().value).toEqual({ PENDING: 'ready' });
    expect(actor.getSnapshot().context.inFlight).toBe(1);
  });

  it('RUN sends each task actor START from the agent, with the attempt timeout', () => {
    const { actor, task, deliveries } = startAgent({ maxConcurrency: 2 });
    const [t1, t2] = [task(1), task(2)];
    actor.send({ type: 'RUN', executions: [starting(1, 500), starting(2)] });
    expect(received(deliveries, t1)).toEqual([
      { from: actor, to: t1, event: { type: 'START', timeoutMs: 500 } },
    ]);
    expect(received(deliveries, t2)).toEqual([
      { from: actor, to: t2, event: { type: 'START', timeoutMs: 0 } },
    ]);
    expect(t1.getSnapshot().value).toEqual({ RUNNING: 'bounded' });
    expect(t1.getSnapshot().context).toMatchObject({ attempts: 1, timeoutMs: 500 });
    expect(t2.getSnapshot().value).toEqual({ RUNNING: 'unbounded' });
  });

  it('RUN counts an execution whose task actor is absent, and skips sending it START', () => {
    const { actor, task, deliveries } = startAgent({ maxConcurrency: 2 });
    const t1 = task(1);
    actor.send(run(1, 2));
    expect(actor.system.get(taskSystemId('t2'))).toBeUndefined();
    expect(actor.getSnapshot().context.inFlight).toBe(2);
    expect(actor.getSnapshot().value).toBe('full');
    expect(typesFrom(deliveries, actor, t1)).toEqual(['START']);
    expect(sentBy(deliveries, actor)).toHaveLength(1);
  });

  it('SETTLED frees slots, counts completed and failed, and sends each task actor its outcome', () => {
    const { actor, task, deliveries } = startAgent({ maxConcurrency: 2 });
    const [t1, t2] = [task(1), task(2)];
    actor.send(run(1, 2));
    expect(actor.getSnapshot().value).toBe('full');
    actor.send({ type: 'SETTLED', executions: [settled(1, true, { outcome: { type: 'SUCCEED' } })] });
    expect(actor.getSnapshot().value).toBe('busy');
    expect(t1.getSnapshot().value).toBe('COMPLETED');
    expect(typesFrom(deliveries, actor, t1)).toEqual(['START', 'SUCCEED']);
    actor.send({
      type: 'SETTLED',
      executions: [settled(2, false, { outcome: { type: 'FAIL', retryable: false } })],
    });
    expect(t2.getSnapshot().value).toBe('FAILED');
    expect(typesFrom(deliveries, actor, t2)).toEqual(['START', 'FAIL']);
    expect(actor.getSnapshot().value).toBe('idle');
    expect(actor.getSnapshot().context).toMatchObject({ inFlight: 0, completed: 1, failed: 1 });
  });

  it('SETTLED without an outcome frees the slot but sends the task actor nothing', () => {
    const { actor, task, deliveries } = startAgent({ maxConcurrency: 2 });
    const t1 = task(1);
    actor.send(run(1));
    actor.send({ type: 'SETTLED', executions: [settled(1, false)] });
    expect(actor.getSnapshot().context).toMatchObject({ inFlight: 0, failed: 1 });
    expect(typesFrom(deliveries, actor, t1)).toEqual(['START']);
    expect(t1.getSnapshot().matches('RUNNING')).toBe(true);
  });

  it('SETTLED with a batch counts each outcome; a cancelled one is neither completed nor failed', () => {
    const { actor } = startAgent({ maxConcurrency: 5 });
    actor.send(run(1, 2, 3, 4, 5));
    actor.send({
      type: 'SETTLED',
      executions: [
        settled(1, true),
        settled(2, false),
        settled(3, true),
        settled(4, false, { cancelled: true }),
      ],
    });
    expect(actor.getSnapshot().context).toMatchObject({ inFlight: 1, completed: 2, failed: 1 });
    expect(actor.getSnapshot().value).toBe('busy');
  });

  it('never lets inFlight go negative on a spurious SETTLED', () => {
    const { actor } = startAgent();
    actor.send({ type: 'SETTLED', executions: [{ executionId: 'ghost', taskId: 'ghost', ok: true }] });
    expect(actor.getSnapshot().context.inFlight).toBe(0);
    expect(actor.getSnapshot().value).toBe('idle');
  });

  it('RELEASE stops the named task actors, which leave the system; others keep running', () => {
    const { actor, task } = startAgent({ maxConcurrency: 2 });
    const [t1, t2] = [task(1), task(2)];
    actor.send(run(1, 2));
    actor.send({
      type: 'SETTLED',
      executions: [settled(1, false, { outcome: { type: 'FAIL', retryable: false } })],
    });
    expect(t1.getSnapshot().value).toBe('FAILED');
    actor.send({ type: 'RELEASE', taskIds: ['t1', 'unknown'] });
    expect(t1.getSnapshot().status).toBe('stopped');
    expect(actor.system.get(taskSystemId('t1'))).toBeUndefined();
    expect(t2.getSnapshot().status).toBe('active');
    expect(actor.system.get(taskSystemId('t2'))).toBe(t2);
    // RELEASE touches no count.
    expect(actor.getSnapshot().context).toMatchObject({ inFlight: 1, completed: 0, failed: 1 });
    expect(actor.getSnapshot().status).toBe('active');
  });

  it('reports a task actor that failed (an action of it threw) through taskActorFailed', () => {
    const { actor, taskActorFailed } = startAgent();
    const boom = new Error('boom');
    const throwing = taskMachine.provide({
      actions: {
        countInterruption: () => {
          throw boom;
        },
      },
    });
    const t1 = createActor(throwing, { parent: actor, systemId: taskSystemId('t1'), input: {} }).start();
    actor.send(run(1));
    actor.send({
      type: 'SETTLED',
      executions: [settled(1, false, { outcome: { type: 'FAIL', retryable: false } })],
    });
    expect(t1.getSnapshot().status).toBe('error');
    expect(taskActorFailed).toHaveBeenCalledExactlyOnceWith(boom);
    expect(actor.getSnapshot().status).toBe('active');
  });

  it('SET_LIMIT re-classifies the load and is clamped to at least 1', () => {
    const { actor, refuseExecutions } = startAgent({ maxConcurrency: 3 });
    actor.send(run(1, 2));
    expect(actor.getSnapshot().value).toBe('busy');
    actor.send({ type: 'SET_LIMIT', maxConcurrency: 2 });
    expect(actor.getSnapshot().value).toBe('full');
    actor.send({ type: 'SET_LIMIT', maxConcurrency: 0 });
    expect(actor.getSnapshot().context.maxConcurrency).toBe(1);
    expect(actor.getSnapshot().value).toBe('full');
    actor.send(run(3));
    expect(refuseExecutions).toHaveBeenCalledExactlyOnceWith(['e3']);
    actor.send({ type: 'SET_LIMIT', maxConcurrency: 10 });
    expect(actor.getSnapshot().value).toBe('busy');
    actor.send({ type: 'SETTLED', executions: [settled(1, true)] });
    actor.send({ type: 'SET_LIMIT', maxConcurrency: 1 });
    expect(actor.getSnapshot().value).toBe('full');
  });

  it('an empty RUN is accepted and starts nothing', () => {
    const { actor, refuseExecutions, deliveries } = startAgent({ maxConcurrency: 1 });
    actor.send(run());
    expect(refuseExecutions).not.toHaveBeenCalled();
    expect(sentBy(deliveries, actor)).toEqual([]);
    expect(actor.getSnapshot().value).toBe('idle');
    expect(actor.getSnapshot().context.inFlight).toBe(0);
  });

  // Regression (fixed in 2fc216e): an unclamped input limit of 0 made `isFull` and `isIdle` both
  // true at inFlight 0, so `idle` -> `full` -> `idle` ... looped forever inside `start()`. The
  // guards are wrapped to throw after 1000 evaluations so a relapse fails instead of hanging.
  it('clamps an input maxConcurrency of 0 to 1 instead of looping between idle and full', () => {
    const logic: AnyActorLogic = guardLoopBreaker(agentMachine);
    const errors: unknown[] = [];
    const actor = createActor(logic, { input: { agentId: 'a0', maxConcurrency: 0 } });
    actor.subscribe({ error: (error) => errors.push(error) });
    actor.start();
    expect(errors).toEqual([]);
    expect(actor.getSnapshot().status).toBe('active');
    expect(actor.getSnapshot().context.maxConcurrency).toBeGreaterThanOrEqual(1);
  });
});
