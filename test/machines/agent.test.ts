import { describe, expect, it, vi } from 'vitest';
import { createActor, type AnyActorLogic } from 'xstate';
import { agentMachine, type AgentMachineInput } from '../../machines/index.js';
import { guardLoopBreaker } from './loop-breaker.js';

function startAgent(input: Partial<AgentMachineInput> = {}) {
  const startExecutions = vi.fn();
  const reportSettled = vi.fn();
  const refuseExecutions = vi.fn();
  const actor = createActor(
    agentMachine.provide({
      actions: {
        startExecutions: (_, params) => startExecutions(params.executionIds),
        reportSettled: (_, params) => reportSettled(params.executions),
        refuseExecutions: (_, params) => refuseExecutions(params.executionIds),
      },
    }),
    { input: { agentId: 'a1', maxConcurrency: 2, ...input } },
  ).start();
  return { actor, startExecutions, reportSettled, refuseExecutions };
}

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

  it('RUN takes executions into free slots: idle -> busy -> full', () => {
    const { actor, startExecutions, refuseExecutions } = startAgent({ maxConcurrency: 3 });
    actor.send({ type: 'RUN', executionIds: ['e1'] });
    expect(actor.getSnapshot().value).toBe('busy');
    expect(startExecutions).toHaveBeenLastCalledWith(['e1']);
    actor.send({ type: 'RUN', executionIds: ['e2', 'e3'] });
    expect(actor.getSnapshot().value).toBe('full');
    expect(actor.getSnapshot().context.inFlight).toBe(3);
    expect(startExecutions).toHaveBeenLastCalledWith(['e2', 'e3']);
    expect(refuseExecutions).not.toHaveBeenCalled();
  });

  it('RUN beyond capacity refuses the whole batch and changes nothing', () => {
    const { actor, startExecutions, refuseExecutions } = startAgent({ maxConcurrency: 2 });
    actor.send({ type: 'RUN', executionIds: ['e1'] });
    actor.send({ type: 'RUN', executionIds: ['e2', 'e3'] });
    expect(refuseExecutions).toHaveBeenCalledExactlyOnceWith(['e2', 'e3']);
    expect(startExecutions).toHaveBeenCalledTimes(1);
    expect(actor.getSnapshot().value).toBe('busy');
    expect(actor.getSnapshot().context.inFlight).toBe(1);
  });

  it('RUN while full is refused', () => {
    const { actor, refuseExecutions } = startAgent({ maxConcurrency: 1 });
    actor.send({ type: 'RUN', executionIds: ['e1'] });
    expect(actor.getSnapshot().value).toBe('full');
    actor.send({ type: 'RUN', executionIds: ['e2'] });
    expect(refuseExecutions).toHaveBeenCalledExactlyOnceWith(['e2']);
    expect(actor.getSnapshot().context.inFlight).toBe(1);
  });

  it('SETTLED frees slots, counts completed and failed, and reports the outcomes', () => {
    const { actor, reportSettled } = startAgent({ maxConcurrency: 2 });
    actor.send({ type: 'RUN', executionIds: ['e1', 'e2'] });
    expect(actor.getSnapshot().value).toBe('full');
    actor.send({ type: 'SETTLED', executions: [{ executionId: 'e1', ok: true }] });
    expect(actor.getSnapshot().value).toBe('busy');
    expect(reportSettled).toHaveBeenLastCalledWith([{ executionId: 'e1', ok: true }]);
    actor.send({ type: 'SETTLED', executions: [{ executionId: 'e2', ok: false }] });
    expect(actor.getSnapshot().value).toBe('idle');
    expect(actor.getSnapshot().context).toMatchObject({ inFlight: 0, completed: 1, failed: 1 });
  });

  it('SETTLED with a batch counts each outcome', () => {
    const { actor } = startAgent({ maxConcurrency: 4 });
    actor.send({ type: 'RUN', executionIds: ['e1', 'e2', 'e3', 'e4'] });
    actor.send({
      type: 'SETTLED',
      executions: [
        { executionId: 'e1', ok: true },
        { executionId: 'e2', ok: false },
        { executionId: 'e3', ok: true },
      ],
    });
    expect(actor.getSnapshot().context).toMatchObject({ inFlight: 1, completed: 2, failed: 1 });
    expect(actor.getSnapshot().value).toBe('busy');
  });

  it('never lets inFlight go negative on a spurious SETTLED', () => {
    const { actor } = startAgent();
    actor.send({ type: 'SETTLED', executions: [{ executionId: 'ghost', ok: true }] });
    expect(actor.getSnapshot().context.inFlight).toBe(0);
    expect(actor.getSnapshot().value).toBe('idle');
  });

  it('SET_LIMIT re-classifies the load and is clamped to at least 1', () => {
    const { actor, refuseExecutions } = startAgent({ maxConcurrency: 3 });
    actor.send({ type: 'RUN', executionIds: ['e1', 'e2'] });
    expect(actor.getSnapshot().value).toBe('busy');
    actor.send({ type: 'SET_LIMIT', maxConcurrency: 2 });
    expect(actor.getSnapshot().value).toBe('full');
    actor.send({ type: 'SET_LIMIT', maxConcurrency: 0 });
    expect(actor.getSnapshot().context.maxConcurrency).toBe(1);
    expect(actor.getSnapshot().value).toBe('full');
    actor.send({ type: 'RUN', executionIds: ['e3'] });
    expect(refuseExecutions).toHaveBeenCalledExactlyOnceWith(['e3']);
    actor.send({ type: 'SET_LIMIT', maxConcurrency: 10 });
    expect(actor.getSnapshot().value).toBe('busy');
    actor.send({ type: 'SETTLED', executions: [{ executionId: 'e1', ok: true }] });
    actor.send({ type: 'SET_LIMIT', maxConcurrency: 1 });
    expect(actor.getSnapshot().value).toBe('full');
  });

  it('an empty RUN is accepted and starts nothing', () => {
    const { actor, startExecutions } = startAgent({ maxConcurrency: 1 });
    actor.send({ type: 'RUN', executionIds: [] });
    expect(startExecutions).toHaveBeenCalledExactlyOnceWith([]);
    expect(actor.getSnapshot().value).toBe('idle');
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
