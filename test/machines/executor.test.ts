import { describe, expect, it, vi } from 'vitest';
import { createActor, type ActorRefFrom } from 'xstate';
import {
  executorMachine,
  type AgentMachine,
  type ExecutorMachineEvent,
  type StartingExecution,
} from '../../machines/index.js';
import { received, recordDeliveries, startTaskActor, typesFrom } from './actor-kit.js';
import { guardLoopBreaker } from './loop-breaker.js';

/** An executor with agent actors for `agents` already registered (room for 10 each). */
function startExecutor(maxConcurrency = 2, agents: readonly string[] = ['a']) {
  const pump = vi.fn();
  const actor = createActor(executorMachine.provide({ actions: { pump } }), {
    input: { maxConcurrency },
  }).start();
  for (const agentId of agents) actor.send({ type: 'REGISTER_AGENT', agentId, maxConcurrency: 10 });
  return { actor, pump };
}

/** Execution `e<n>` of task `t<n>`, with no timeout. */
const starting = (n: number): StartingExecution => ({ executionId: `e${n}`, taskId: `t${n}`, timeoutMs: 0 });

/** `count` executions taken out of the queue, all run by agent `a`. */
const dispatched = (count: number): ExecutorMachineEvent => ({
  type: 'DISPATCH',
  runs:
    count === 0 ? [] : [{ agentId: 'a', executions: Array.from({ length: count }, (_, i) => starting(i)) }],
});
/** `count` slots freed; no agent actor is involved. */
const settledCount = (count: number): ExecutorMachineEvent => ({ type: 'SETTLED', count, agents: [] });

describe('executor machine', () => {
  it('starts idle with nothing queued or in flight and no agents', () => {
    const { actor } = startExecutor(3, []);
    expect(actor.getSnapshot().value).toBe('idle');
    expect(actor.getSnapshot().context).toEqual({ maxConcurrency: 3, inFlight: 0, queued: 0, agentIds: [] });
    expect(Object.keys(actor.getSnapshot().children)).toEqual([]);
  });

  describe('REGISTER_AGENT', () => {
    it('spawns one agent child per agent, found in the system as agent:<id>', () => {
      const { actor } = startExecutor(2, []);
      actor.send({ type: 'REGISTER_AGENT', agentId: 'a1', maxConcurrency: 2 });
      actor.send({ type: 'REGISTER_AGENT', agentId: 'a2', maxConcurrency: 5 });
      expect(actor.getSnapshot().context.agentIds).toEqual(['a1', 'a2']);
      // Child ids are prefixed like the system ids: a bare key could read as an XState target.
      expect(Object.keys(actor.getSnapshot().children).sort()).toEqual(['agent:a1', 'agent:a2']);
      const a1 = actor.system.get('agent:a1') as ActorRefFrom<AgentMachine> | undefined;
      const a2 = actor.system.get('agent:a2') as ActorRefFrom<AgentMachine> | undefined;
      expect(a1?.getSnapshot().context).toMatchObject({ agentId: 'a1', maxConcurrency: 2, inFlight: 0 });
      expect(a2?.getSnapshot().context).toMatchObject({ agentId: 'a2', maxConcurrency: 5 });
      expect(a1?.getSnapshot().value).toBe('idle');
      expect(actor.getSnapshot().children['agent:a1']).toBe(a1);
    });

    it('ignores a second registration of the same agent', () => {
      const { actor } = startExecutor(2, []);
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
      agent.send({ type: 'RUN', executions: [starting(1)] });
      expect(agent.getSnapshot().value).toBe('full');
      agent.send({ type: 'SETTLED', executions: [{ executionId: 'e1', taskId: 't1', ok: true }] });
      expect(agent.getSnapshot().value).toBe('idle');
    });
  });

  describe('passing work on to the agent actors', () => {
    function startWithAgents() {
      const { actor, pump } = startExecutor(5, ['a1', 'a2', 'a3']);
      const agent = (id: string) => actor.system.get(`agent:${id}`) as ActorRefFrom<AgentMachine>;
      const deliveries = recordDeliveries(actor);
      return { actor, pump, agent, deliveries, a1: agent('a1'), a2: agent('a2'), a3: agent('a3') };
    }

    it('DISPATCH counts every execution and sends each agent RUN with its own executions only', () => {
      const { actor, deliveries, a1, a2, a3 } = startWithAgents();
      actor.send({ type: 'ENQUEUED', count: 4 });
      actor.send({
        type: 'DISPATCH',
        runs: [
          { agentId: 'a1', executions: [starting(1), starting(2)] },
          { agentId: 'a2', executions: [starting(3)] },
        ],
      });
      expect(actor.getSnapshot().context).toMatchObject({ queued: 1, inFlight: 3 });
      expect(received(deliveries, a1)).toEqual([
        { from: actor, to: a1, event: { type: 'RUN', executions: [starting(1), starting(2)] } },
      ]);
      expect(received(deliveries, a2)).toEqual([
        { from: actor, to: a2, event: { type: 'RUN', executions: [starting(3)] } },
      ]);
      expect(received(deliveries, a3)).toEqual([]);
      expect(a1.getSnapshot().context.inFlight).toBe(2);
      expect(a2.getSnapshot().context.inFlight).toBe(1);
      expect(a3.getSnapshot().context.inFlight).toBe(0);
    });

    it('DISPATCH reaches the task actors through their agent: executor -> agent -> task START', () => {
      const { actor, deliveries, a1, a2 } = startWithAgents();
      const t1 = startTaskActor(a1, 't1');
      const t2 = startTaskActor(a2, 't2');
      actor.send({ type: 'ENQUEUED', count: 1 });
      actor.send({ type: 'DISPATCH', runs: [{ agentId: 'a1', executions: [starting(1)] }] });
      expect(typesFrom(deliveries, actor, a1)).toEqual(['RUN']);
      expect(typesFrom(deliveries, a1, t1)).toEqual(['START']);
      expect(t1.getSnapshot().matches('RUNNING')).toBe(true);
      expect(received(deliveries, t2)).toEqual([]);
      expect(t2.getSnapshot().value).toEqual({ PENDING: 'ready' });
    });

    it('SETTLED frees its count of slots and sends each agent the outcomes of its own executions', () => {
      const { actor, deliveries, a1, a2, a3 } = startWithAgents();
      const t1 = startTaskActor(a1, 't1');
      const t3 = startTaskActor(a2, 't3');
      actor.send({ type: 'ENQUEUED', count: 3 });
      actor.send({
        type: 'DISPATCH',
        runs: [
          { agentId: 'a1', executions: [starting(1), starting(2)] },
          { agentId: 'a2', executions: [starting(3)] },
        ],
      });
      const ended = { executionId: 'e1', taskId: 't1', ok: true, outcome: { type: 'SUCCEED' as const } };
      actor.send({ type: 'SETTLED', count: 1, agents: [{ agentId: 'a1', executions: [ended] }] });
      expect(actor.getSnapshot().context).toMatchObject({ queued: 0, inFlight: 2 });
      expect(received(deliveries, a1).at(-1)).toEqual({
        from: actor,
        to: a1,
        event: { type: 'SETTLED', executions: [ended] },
      });
      expect(typesFrom(deliveries, actor, a2)).toEqual(['RUN']);
      expect(received(deliveries, a3)).toEqual([]);
      expect(a1.getSnapshot().context).toMatchObject({ inFlight: 1, completed: 1 });
      expect(a2.getSnapshot().context).toMatchObject({ inFlight: 1, completed: 0 });
      expect(t1.getSnapshot().value).toBe('COMPLETED');
      expect(t3.getSnapshot().matches('RUNNING')).toBe(true);
    });

    it('RELEASE sends the named agent RELEASE with its task ids, which stops those task actors only', () => {
      const { actor, deliveries, a1, a2 } = startWithAgents();
      const t1 = startTaskActor(a1, 't1');
      const t2 = startTaskActor(a2, 't2');
      actor.send({ type: 'RELEASE', agents: [{ agentId: 'a1', executions: ['t1'] }] });
      expect(received(deliveries, a1)).toEqual([
        { from: actor, to: a1, event: { type: 'RELEASE', taskIds: ['t1'] } },
      ]);
      expect(received(deliveries, a2)).toEqual([]);
      expect(t1.getSnapshot().status).toBe('stopped');
      expect(actor.system.get('task:t1')).toBeUndefined();
      expect(t2.getSnapshot().status).toBe('active');
      expect(actor.system.get('task:t2')).toBe(t2);
      expect(actor.getSnapshot().context).toMatchObject({ queued: 0, inFlight: 0 });
    });

    it('while stopping, SETTLED still reaches the agents, so running tasks get their outcome', () => {
      const { actor, a1 } = startWithAgents();
      const t1 = startTaskActor(a1, 't1');
      actor.send({ type: 'ENQUEUED', count: 1 });
      actor.send({ type: 'DISPATCH', runs: [{ agentId: 'a1', executions: [starting(1)] }] });
      actor.send({ type: 'STOP' });
      expect(actor.getSnapshot().value).toBe('stopping');
      actor.send({
        type: 'SETTLED',
        count: 1,
        agents: [
          {
            agentId: 'a1',
            executions: [
              { executionId: 'e1', taskId: 't1', ok: false, outcome: { type: 'FAIL', retryable: false } },
            ],
          },
        ],
      });
      expect(t1.getSnapshot().value).toBe('FAILED');
      expect(actor.getSnapshot().value).toBe('stopped');
    });
  });

  it('counts ENQUEUED, DISPATCH and SETTLED and moves idle -> active -> saturated -> active -> idle', () => {
    const { actor, pump } = startExecutor(2);
    actor.send({ type: 'ENQUEUED', count: 3 });
    expect(actor.getSnapshot().value).toBe('active');
    expect(actor.getSnapshot().context).toMatchObject({ queued: 3, inFlight: 0 });
    expect(pump).toHaveBeenCalledTimes(1);

    actor.send(dispatched(1));
    expect(actor.getSnapshot().value).toBe('active');
    expect(actor.getSnapshot().context).toMatchObject({ queued: 2, inFlight: 1 });

    actor.send(dispatched(1));
    expect(actor.getSnapshot().value).toBe('saturated');
    expect(actor.getSnapshot().context).toMatchObject({ queued: 1, inFlight: 2 });

    actor.send(settledCount(1));
    expect(actor.getSnapshot().value).toBe('active');
    expect(actor.getSnapshot().context).toMatchObject({ queued: 1, inFlight: 1 });
    expect(pump).toHaveBeenCalledTimes(2);

    actor.send({ type: 'DEQUEUED', count: 1 });
    actor.send(settledCount(1));
    expect(actor.getSnapshot().value).toBe('idle');
    expect(actor.getSnapshot().context).toMatchObject({ queued: 0, inFlight: 0 });
    expect(pump).toHaveBeenCalledTimes(3);
  });

  it('clamps counters at zero', () => {
    const { actor } = startExecutor(2);
    actor.send({ type: 'ENQUEUED', count: 1 });
    actor.send({ type: 'DEQUEUED', count: 5 });
    actor.send(settledCount(5));
    actor.send(dispatched(0));
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
    actor.send(dispatched(1));
    expect(actor.getSnapshot().value).toBe('saturated');
    actor.send({ type: 'WAKE' });
    actor.send({ type: 'ENQUEUED', count: 1 });
    expect(pump).toHaveBeenCalledTimes(3);
    expect(actor.getSnapshot().context.queued).toBe(2);
  });

  it('SET_LIMIT pumps and re-classifies the load', () => {
    const { actor, pump } = startExecutor(1);
    actor.send({ type: 'ENQUEUED', count: 2 });
    actor.send(dispatched(1));
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
      actor.send(dispatched(2));
      actor.send({ type: 'STOP' });
      expect(actor.getSnapshot().value).toBe('stopping');
      // No new work is accepted while stopping.
      actor.send({ type: 'ENQUEUED', count: 5 });
      expect(actor.getSnapshot().context.queued).toBe(1);
      actor.send(settledCount(1));
      expect(actor.getSnapshot().value).toBe('stopping');
      actor.send(settledCount(1));
      expect(actor.getSnapshot().value).toBe('stopped');
      expect(actor.getSnapshot().status).toBe('done');
    });

    it('from saturated goes to stopping until drained', () => {
      const { actor } = startExecutor(1);
      actor.send({ type: 'ENQUEUED', count: 1 });
      actor.send(dispatched(1));
      expect(actor.getSnapshot().value).toBe('saturated');
      actor.send({ type: 'STOP' });
      expect(actor.getSnapshot().value).toBe('stopping');
      actor.send(settledCount(1));
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
      actor.send(dispatched(2));
      actor.send({ type: 'STOP' });
      expect(actor.getSnapshot().value).toBe('stopping');
      pump.mockClear();
      actor.send(settledCount(1));
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
