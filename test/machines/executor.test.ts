import { describe, expect, it, vi } from 'vitest';
import { createActor, type ActorRefFrom } from 'xstate';
import { executorMachine, type AgentMachine } from '../../machines/index.js';
import { guardLoopBreaker } from './loop-breaker.js';

function startExecutor(maxConcurrency = 2) {
  const pump = vi.fn();
  const actor = createActor(executorMachine.provide({ actions: { pump } }), {
    input: { maxConcurrency },
  }).start();
  return { actor, pump };
}

describe('executor machine', () => {
  it('starts idle with nothing queued or in flight and no agents', () => {
    const { actor } = startExecutor(3);
    expect(actor.getSnapshot().value).toBe('idle');
    expect(actor.getSnapshot().context).toEqual({ maxConcurrency: 3, inFlight: 0, queued: 0, agentIds: [] });
    expect(Object.keys(actor.getSnapshot().children)).toEqual([]);
  });

  describe('REGISTER_AGENT', () => {
    it('spawns one agent child per agent, found in the system as agent:<id>', () => {
      const { actor } = startExecutor();
      actor.send({ type: 'REGISTER_AGENT', agentId: 'a1', maxConcurrency: 2 });
      actor.send({ type: 'REGISTER_AGENT', agentId: 'a2', maxConcurrency: 5 });
      expect(actor.getSnapshot().context.agentIds).toEqual(['a1', 'a2']);
      expect(Object.keys(actor.getSnapshot().children).sort()).toEqual(['a1', 'a2']);
      const a1 = actor.system.get('agent:a1') as ActorRefFrom<AgentMachine> | undefined;
      const a2 = actor.system.get('agent:a2') as ActorRefFrom<AgentMachine> | undefined;
      expect(a1?.getSnapshot().context).toMatchObject({ agentId: 'a1', maxConcurrency: 2, inFlight: 0 });
      expect(a2?.getSnapshot().context).toMatchObject({ agentId: 'a2', maxConcurrency: 5 });
      expect(a1?.getSnapshot().value).toBe('idle');
      expect(actor.getSnapshot().children.a1).toBe(a1);
    });

    it('ignores a second registration of the same agent', () => {
      const { actor } = startExecutor();
      actor.send({ type: 'REGISTER_AGENT', agentId: 'a1', maxConcurrency: 2 });
      const first = actor.system.get('agent:a1');
      actor.send({ type: 'REGISTER_AGENT', agentId: 'a1', maxConcurrency: 9 });
      expect(actor.getSnapshot().context.agentIds).toEqual(['a1']);
      expect(actor.system.get('agent:a1')).toBe(first);
      expect((first as ActorRefFrom<AgentMachine>).getSnapshot().context.maxConcurrency).toBe(2);
    });

    it('the spawned agent is a live agent machine that takes RUN and SETTLED', () => {
      const { actor } = startExecutor();
      actor.send({ type: 'REGISTER_AGENT', agentId: 'a1', maxConcurrency: 1 });
      const agent = actor.system.get('agent:a1') as ActorRefFrom<AgentMachine>;
      agent.send({ type: 'RUN', executionIds: ['e1'] });
      expect(agent.getSnapshot().value).toBe('full');
      agent.send({ type: 'SETTLED', executions: [{ executionId: 'e1', ok: true }] });
      expect(agent.getSnapshot().value).toBe('idle');
    });
  });

  it('counts ENQUEUED, DISPATCHED and SETTLED and moves idle -> active -> saturated -> active -> idle', () => {
    const { actor, pump } = startExecutor(2);
    actor.send({ type: 'ENQUEUED', count: 3 });
    expect(actor.getSnapshot().value).toBe('active');
    expect(actor.getSnapshot().context).toMatchObject({ queued: 3, inFlight: 0 });
    expect(pump).toHaveBeenCalledTimes(1);

    actor.send({ type: 'DISPATCHED', count: 1 });
    expect(actor.getSnapshot().value).toBe('active');
    expect(actor.getSnapshot().context).toMatchObject({ queued: 2, inFlight: 1 });

    actor.send({ type: 'DISPATCHED', count: 1 });
    expect(actor.getSnapshot().value).toBe('saturated');
    expect(actor.getSnapshot().context).toMatchObject({ queued: 1, inFlight: 2 });

    actor.send({ type: 'SETTLED', count: 1 });
    expect(actor.getSnapshot().value).toBe('active');
    expect(actor.getSnapshot().context).toMatchObject({ queued: 1, inFlight: 1 });
    expect(pump).toHaveBeenCalledTimes(2);

    actor.send({ type: 'DEQUEUED', count: 1 });
    actor.send({ type: 'SETTLED', count: 1 });
    expect(actor.getSnapshot().value).toBe('idle');
    expect(actor.getSnapshot().context).toMatchObject({ queued: 0, inFlight: 0 });
    expect(pump).toHaveBeenCalledTimes(3);
  });

  it('clamps counters at zero', () => {
    const { actor } = startExecutor(2);
    actor.send({ type: 'ENQUEUED', count: 1 });
    actor.send({ type: 'DEQUEUED', count: 5 });
    actor.send({ type: 'SETTLED', count: 5 });
    actor.send({ type: 'DISPATCHED', count: 0 });
    expect(actor.getSnapshot().context).toMatchObject({ queued: 0, inFlight: 0 });
    expect(actor.getSnapshot().value).toBe('idle');
  });

  it('pumps on WAKE while idle or active, but not while saturated', () => {
    const { actor, pump } = startExecutor(1);
    actor.send({ type: 'WAKE' });
    expect(pump).toHaveBeenCalledTimes(1);
    actor.send({ type: 'ENQUEUED', count: 2 });
    expect(pump).toHaveBeenCalledTimes(2);
    actor.send({ type: 'WAKE' });
    expect(pump).toHaveBeenCalledTimes(3);
    actor.send({ type: 'DISPATCHED', count: 1 });
    expect(actor.getSnapshot().value).toBe('saturated');
    actor.send({ type: 'WAKE' });
    actor.send({ type: 'ENQUEUED', count: 1 });
    expect(pump).toHaveBeenCalledTimes(3);
    expect(actor.getSnapshot().context.queued).toBe(2);
  });

  it('SET_LIMIT pumps and re-classifies the load', () => {
    const { actor, pump } = startExecutor(1);
    actor.send({ type: 'ENQUEUED', count: 2 });
    actor.send({ type: 'DISPATCHED', count: 1 });
    expect(actor.getSnapshot().value).toBe('saturated');
    pump.mockClear();
    actor.send({ type: 'SET_LIMIT', maxConcurrency: 3 });
    expect(actor.getSnapshot().value).toBe('active');
    expect(pump).toHaveBeenCalledTimes(1);
    actor.send({ type: 'SET_LIMIT', maxConcurrency: 1 });
    expect(actor.getSnapshot().value).toBe('saturated');
    expect(pump).toHaveBeenCalledTimes(2);
  });

  describe('STOP', () => {
    it('from idle stops at once', () => {
      const { actor } = startExecutor();
      actor.send({ type: 'STOP' });
      expect(actor.getSnapshot().value).toBe('stopped');
      expect(actor.getSnapshot().status).toBe('done');
    });

    it('from active with work in flight goes to stopping, then stopped when drained', () => {
      const { actor } = startExecutor(3);
      actor.send({ type: 'ENQUEUED', count: 3 });
      actor.send({ type: 'DISPATCHED', count: 2 });
      actor.send({ type: 'STOP' });
      expect(actor.getSnapshot().value).toBe('stopping');
      // No new work is accepted while stopping.
      actor.send({ type: 'ENQUEUED', count: 5 });
      expect(actor.getSnapshot().context.queued).toBe(1);
      actor.send({ type: 'SETTLED', count: 1 });
      expect(actor.getSnapshot().value).toBe('stopping');
      actor.send({ type: 'SETTLED', count: 1 });
      expect(actor.getSnapshot().value).toBe('stopped');
      expect(actor.getSnapshot().status).toBe('done');
    });

    it('from saturated goes to stopping until drained', () => {
      const { actor } = startExecutor(1);
      actor.send({ type: 'ENQUEUED', count: 1 });
      actor.send({ type: 'DISPATCHED', count: 1 });
      expect(actor.getSnapshot().value).toBe('saturated');
      actor.send({ type: 'STOP' });
      expect(actor.getSnapshot().value).toBe('stopping');
      actor.send({ type: 'SETTLED', count: 1 });
      expect(actor.getSnapshot().value).toBe('stopped');
    });

    it('from active with only queued work stops at once, leaving the queue behind', () => {
      const { actor } = startExecutor(2);
      actor.send({ type: 'ENQUEUED', count: 4 });
      actor.send({ type: 'STOP' });
      expect(actor.getSnapshot().value).toBe('stopped');
      expect(actor.getSnapshot().context.queued).toBe(4);
    });

    it('stops its agent children when it stops', () => {
      const { actor } = startExecutor();
      actor.send({ type: 'REGISTER_AGENT', agentId: 'a1', maxConcurrency: 1 });
      const agent = actor.system.get('agent:a1') as ActorRefFrom<AgentMachine>;
      actor.send({ type: 'STOP' });
      expect(agent.getSnapshot().status).toBe('stopped');
    });

    // Regression (fixed in 2fc216e): the root SETTLED handler pumped in `stopping` too, asking the
    // engine to dispatch queued work while the executor should only let running work finish.
    it('does not ask for more work (pump) while stopping', () => {
      const { actor, pump } = startExecutor(2);
      actor.send({ type: 'ENQUEUED', count: 3 });
      actor.send({ type: 'DISPATCHED', count: 2 });
      actor.send({ type: 'STOP' });
      expect(actor.getSnapshot().value).toBe('stopping');
      pump.mockClear();
      actor.send({ type: 'SETTLED', count: 1 });
      expect(actor.getSnapshot().value).toBe('stopping');
      expect(pump).not.toHaveBeenCalled();
    });
  });

  // Regression (fixed in 2fc216e): with an unclamped limit of 0 and nothing queued or in flight,
  // `isSaturated` (0 >= 0) and `isIdle` were both true, so `idle` -> `saturated` -> `idle` ...
  // looped forever. The guards are wrapped to throw so a relapse fails instead of hanging.
  describe('maxConcurrency 0', () => {
    it('SET_LIMIT 0 on an idle executor settles instead of looping', () => {
      const errors: unknown[] = [];
      const actor = createActor(guardLoopBreaker(executorMachine), { input: { maxConcurrency: 1 } });
      actor.subscribe({ error: (error) => errors.push(error) });
      actor.start();
      actor.send({ type: 'SET_LIMIT', maxConcurrency: 0 });
      expect(errors).toEqual([]);
      expect(actor.getSnapshot().status).toBe('active');
    });

    it('an executor created with maxConcurrency 0 settles instead of looping', () => {
      const errors: unknown[] = [];
      const actor = createActor(guardLoopBreaker(executorMachine), { input: { maxConcurrency: 0 } });
      actor.subscribe({ error: (error) => errors.push(error) });
      actor.start();
      expect(errors).toEqual([]);
      expect(actor.getSnapshot().status).toBe('active');
    });

    it('clamps SET_LIMIT 0 to a limit of 1, so queued work can still run', () => {
      const { actor } = startExecutor(1);
      actor.send({ type: 'ENQUEUED', count: 1 });
      actor.send({ type: 'SET_LIMIT', maxConcurrency: 0 });
      expect(actor.getSnapshot().context.maxConcurrency).toBe(1);
      expect(actor.getSnapshot().value).toBe('active');
    });
  });
});
