import { describe, expect, it, vi } from 'vitest';
import { createActor, fromCallback, type ActorRefFrom, type AnyActorRef, type AnyEventObject } from 'xstate';
import {
  engineMachine,
  executorMachine,
  workflowSystemId,
  type AgentMachine,
  type EngineMachineInput,
  type RouterMachine,
  type RuntimeEvent,
  type StartingExecution,
} from '../../machines/index.js';
import { noSteps } from '../../machines/graph.js';
import { received, recordDeliveries, startTaskActor, startWorkflowActor, typesFrom } from './actor-kit.js';

function startEngine(input: Partial<EngineMachineInput> = {}) {
  const pump = vi.fn();
  /** The runtime actor's way in: what the engine's own code uses to send its events. */
  const runtimeIn: { sendBack?: (event: AnyEventObject) => void } = {};
  const machine = engineMachine.provide({
    actors: {
      executor: executorMachine.provide({ actions: { pump } }),
      runtime: fromCallback<AnyEventObject>(({ sendBack }) => {
        runtimeIn.sendBack = sendBack;
      }),
    },
  });
  const actor = createActor(machine, {
    input: { executor: { maxConcurrency: 2 }, router: { strategy: 'LOAD_BALANCED' }, ...input },
  }).start();
  const executor = () => actor.system.get('executor') as ActorRefFrom<typeof executorMachine>;
  const router = () => actor.system.get('router') as ActorRefFrom<RouterMachine>;
  const runtime = () => actor.system.get('runtime') as AnyActorRef;
  const fromRuntime = (event: RuntimeEvent) => {
    if (!runtimeIn.sendBack) throw new Error('Expected the runtime actor to have started, got no sendBack');
    runtimeIn.sendBack(event);
  };
  return { actor, executor, router, runtime, fromRuntime, pump };
}

const starting = (n: number): StartingExecution => ({ executionId: `e${n}`, taskId: `t${n}`, timeoutMs: 0 });

describe('engine machine', () => {
  it('invokes the executor, the router and the runtime under their systemIds, with their input', () => {
    const { actor, executor, router, runtime } = startEngine({
      executor: { maxConcurrency: 7 },
      router: { strategy: 'CAPABILITY_MATCH' },
    });
    expect(actor.getSnapshot().value).toBe('running');
    expect(executor()).toBeDefined();
    expect(router()).toBeDefined();
    expect(actor.getSnapshot().children.executor).toBe(executor());
    expect(actor.getSnapshot().children.router).toBe(router());
    expect(actor.getSnapshot().children.runtime).toBe(runtime());
    expect(runtime().getSnapshot().status).toBe('active');
    expect(executor().getSnapshot().context.maxConcurrency).toBe(7);
    expect(executor().getSnapshot().value).toBe('idle');
    expect(router().getSnapshot().value).toBe('CAPABILITY_MATCH');
  });

  it('agents spawned by the executor are found through the same actor system', () => {
    const { actor, executor } = startEngine();
    executor().send({ type: 'REGISTER_AGENT', agentId: 'a1', maxConcurrency: 3 });
    const agent = actor.system.get('agent:a1') as ActorRefFrom<AgentMachine> | undefined;
    expect(agent?.getSnapshot().context).toMatchObject({ agentId: 'a1', maxConcurrency: 3 });
  });

  it('the provided pump reaches the invoked executor', () => {
    const { executor, pump } = startEngine();
    executor().send({ type: 'ENQUEUED', count: 1 });
    expect(pump).toHaveBeenCalledTimes(1);
  });

  it('STOP with an idle executor ends the engine at once and stops the router', () => {
    const { actor, executor, router } = startEngine();
    const routerRef = router();
    const executorRef = executor();
    actor.send({ type: 'STOP' });
    expect(executorRef.getSnapshot().value).toBe('stopped');
    expect(actor.getSnapshot().value).toBe('stopped');
    expect(actor.getSnapshot().status).toBe('done');
    expect(routerRef.getSnapshot().status).toBe('stopped');
  });

  it('STOP waits in stopping until the executor has drained its work in flight', () => {
    const { actor, executor } = startEngine();
    const executorRef = executor();
    executorRef.send({ type: 'REGISTER_AGENT', agentId: 'a1', maxConcurrency: 2 });
    executorRef.send({ type: 'ENQUEUED', count: 2 });
    executorRef.send({ type: 'DISPATCH', runs: [{ agentId: 'a1', executions: [starting(1), starting(2)] }] });
    expect(executorRef.getSnapshot().value).toBe('saturated');
    actor.send({ type: 'STOP' });
    expect(actor.getSnapshot().value).toBe('stopping');
    expect(executorRef.getSnapshot().value).toBe('stopping');
    actor.send({ type: 'STOP' });
    expect(actor.getSnapshot().value).toBe('stopping');
    executorRef.send({ type: 'SETTLED', count: 1, agents: [] });
    expect(actor.getSnapshot().value).toBe('stopping');
    executorRef.send({ type: 'SETTLED', count: 1, agents: [] });
    expect(executorRef.getSnapshot().status).toBe('done');
    expect(actor.getSnapshot().value).toBe('stopped');
    expect(actor.getSnapshot().status).toBe('done');
  });

  it('ends too if the executor is stopped directly', () => {
    const { actor, executor } = startEngine();
    executor().send({ type: 'STOP' });
    expect(actor.getSnapshot().value).toBe('stopped');
  });

  describe('passing the runtime events on', () => {
    // Each executor event, sent after an agent a1 was registered (the executor passes DISPATCH,
    // SETTLED and RELEASE on to that agent, which must exist).
    const executorEvents: readonly RuntimeEvent[] = [
      { type: 'REGISTER_AGENT', agentId: 'a2', maxConcurrency: 1 },
      { type: 'ENQUEUED', count: 2 },
      { type: 'DEQUEUED', count: 1 },
      { type: 'DISPATCH', runs: [{ agentId: 'a1', executions: [starting(1)] }] },
      { type: 'SETTLED', count: 1, agents: [{ agentId: 'a1', executions: [{ ...starting(1), ok: true }] }] },
      { type: 'RELEASE', agents: [{ agentId: 'a1', executions: ['t1'] }] },
    ];

    it.each(executorEvents.map((event) => [event.type, event] as const))(
      'forwards %s to the executor, sent by the engine',
      (_, event) => {
        const { actor, executor, router } = startEngine();
        actor.send({ type: 'REGISTER_AGENT', agentId: 'a1', maxConcurrency: 2 });
        const deliveries = recordDeliveries(actor);
        actor.send(event);
        expect(received(deliveries, executor())).toEqual([{ from: actor, to: executor(), event }]);
        expect(received(deliveries, router())).toEqual([]);
        expect(executor().getSnapshot().status).toBe('active');
      },
    );

    it('the forwarded events do their work in the executor and its agents', () => {
      const { actor, executor } = startEngine();
      actor.send({ type: 'REGISTER_AGENT', agentId: 'a1', maxConcurrency: 2 });
      actor.send({ type: 'ENQUEUED', count: 3 });
      actor.send({ type: 'DEQUEUED', count: 1 });
      actor.send({ type: 'DISPATCH', runs: [{ agentId: 'a1', executions: [starting(1), starting(2)] }] });
      expect(executor().getSnapshot().context).toMatchObject({ agentIds: ['a1'], queued: 0, inFlight: 2 });
      expect(executor().getSnapshot().value).toBe('saturated');
      const agent = actor.system.get('agent:a1') as ActorRefFrom<AgentMachine>;
      expect(agent.getSnapshot().context.inFlight).toBe(2);
      actor.send({
        type: 'SETTLED',
        count: 1,
        agents: [{ agentId: 'a1', executions: [{ ...starting(1), ok: true }] }],
      });
      expect(executor().getSnapshot().context.inFlight).toBe(1);
      expect(agent.getSnapshot().context).toMatchObject({ inFlight: 1, completed: 1 });
    });

    it('forwards ROUTED to the router, sent by the engine', () => {
      const { actor, executor, router } = startEngine();
      const deliveries = recordDeliveries(actor);
      const event: RuntimeEvent = { type: 'ROUTED', strategy: 'LOAD_BALANCED', agentIds: ['a1', 'a2'] };
      actor.send(event);
      expect(received(deliveries, router())).toEqual([{ from: actor, to: router(), event }]);
      expect(received(deliveries, executor())).toEqual([]);
      expect(router().getSnapshot().context).toMatchObject({ routed: 2, lastAgentId: 'a2' });
    });

    it('sends TASKS_CHANGED to each workflow actor its changes only, skipping workflows without an actor', () => {
      const { actor, executor } = startEngine();
      const w1 = startWorkflowActor(actor, 'w1');
      const w2 = startWorkflowActor(actor, 'w2');
      const deliveries = recordDeliveries(actor);
      actor.send({
        type: 'TASKS_CHANGED',
        workflows: [
          { workflowId: 'w1', changes: [{ taskId: 't1', from: null, to: 'RUNNING' }] },
          {
            workflowId: 'w2',
            changes: [
              { taskId: 't2', from: null, to: 'PENDING' },
              { taskId: 't3', from: null, to: 'PENDING' },
            ],
          },
          { workflowId: 'absent', changes: [{ taskId: 't4', from: null, to: 'FAILED' }] },
        ],
      });
      expect(received(deliveries, w1)).toEqual([
        {
          from: actor,
          to: w1,
          event: { type: 'TASKS_CHANGED', changes: [{ taskId: 't1', from: null, to: 'RUNNING' }] },
        },
      ]);
      expect(typesFrom(deliveries, actor, w2)).toEqual(['TASKS_CHANGED']);
      expect(w1.getSnapshot().value).toBe('RUNNING');
      expect(w2.getSnapshot().value).toBe('PENDING');
      expect(w2.getSnapshot().context.counts.PENDING).toBe(2);
      expect(received(deliveries, executor())).toEqual([]);
      expect(actor.getSnapshot().status).toBe('active');
    });

    it('sends NODES_ADDED, DECIDED and EXPANDED to the workflow actor they name, without the workflowId; none for an absent one', () => {
      const { actor, executor } = startEngine();
      const w1 = startWorkflowActor(actor, 'w1');
      const w2 = startWorkflowActor(actor, 'w2');
      const steps: unknown[] = [];
      w1.on('graph.steps', (emitted) => void steps.push(emitted));
      const deliveries = recordDeliveries(actor);
      // `b` is a conditional fan-out of `a`: decided, then expanded into `b-0`.
      const nodes = [
        { taskId: 'a', dependsOn: [], conditional: false, status: 'COMPLETED' as const },
        {
          taskId: 'b',
          dependsOn: ['a'],
          conditional: true,
          status: 'PENDING' as const,
          fanOut: { children: null },
        },
      ];
      const items = [{ taskId: 'b-0', dependsOn: ['a'], conditional: false, status: 'PENDING' as const }];
      const expansions = [{ taskId: 'b', children: ['b-0'] }];
      for (const workflowId of ['w1', 'absent']) {
        actor.send({ type: 'NODES_ADDED', workflowId, nodes });
        actor.send({ type: 'DECIDED', workflowId, decisions: [{ taskId: 'b', holds: true }] });
        actor.send({ type: 'NODES_ADDED', workflowId, nodes: items });
        actor.send({ type: 'EXPANDED', workflowId, expansions });
      }
      expect(received(deliveries, w1)).toEqual([
        { from: actor, to: w1, event: { type: 'NODES_ADDED', nodes } },
        { from: actor, to: w1, event: { type: 'DECIDED', decisions: [{ taskId: 'b', holds: true }] } },
        { from: actor, to: w1, event: { type: 'NODES_ADDED', nodes: items } },
        { from: actor, to: w1, event: { type: 'EXPANDED', expansions } },
      ]);
      expect(received(deliveries, w2)).toEqual([]);
      expect(received(deliveries, executor())).toEqual([]);
      const none = noSteps();
      expect(steps).toEqual([
        { type: 'graph.steps', ...none, decide: ['b'] },
        { type: 'graph.steps', ...none, expand: ['b'] },
        { type: 'graph.steps', ...none, release: ['b-0'] },
      ]);
      const graph = w1.getSnapshot().context.graph!;
      expect(graph.nodes.get('b')).toEqual({
        dependsOn: ['b-0'],
        conditional: false,
        state: 'waiting',
        collector: true,
      });
      expect(graph.nodes.get('b-0')?.state).toBe('ready');
      expect(w2.getSnapshot().context.graph).toBeNull();
      expect(actor.getSnapshot().status).toBe('active');
    });

    it('RELEASE_WORKFLOW stops that workflow actor, which leaves the system; others keep running', () => {
      const { actor } = startEngine();
      const w1 = startWorkflowActor(actor, 'w1');
      const w2 = startWorkflowActor(actor, 'w2');
      actor.send({ type: 'RELEASE_WORKFLOW', workflowId: 'w1' });
      expect(w1.getSnapshot().status).toBe('stopped');
      expect(actor.system.get(workflowSystemId('w1'))).toBeUndefined();
      expect(w2.getSnapshot().status).toBe('active');
      expect(actor.system.get(workflowSystemId('w2'))).toBe(w2);
      actor.send({ type: 'RELEASE_WORKFLOW', workflowId: 'w1' });
      actor.send({ type: 'RELEASE_WORKFLOW', workflowId: 'never-started' });
      expect(actor.getSnapshot().status).toBe('active');
    });

    it('events the runtime actor sends back reach their actor through the engine: runtime -> engine -> executor -> agent -> task', () => {
      const { actor, executor, runtime, fromRuntime } = startEngine();
      fromRuntime({ type: 'REGISTER_AGENT', agentId: 'a1', maxConcurrency: 1 });
      const agent = actor.system.get('agent:a1') as ActorRefFrom<AgentMachine>;
      const task = startTaskActor(agent, 't1');
      const deliveries = recordDeliveries(actor);
      fromRuntime({ type: 'ENQUEUED', count: 1 });
      fromRuntime({ type: 'DISPATCH', runs: [{ agentId: 'a1', executions: [starting(1)] }] });
      expect(typesFrom(deliveries, runtime(), actor)).toEqual(['ENQUEUED', 'DISPATCH']);
      expect(typesFrom(deliveries, actor, executor())).toEqual(['ENQUEUED', 'DISPATCH']);
      expect(typesFrom(deliveries, executor(), agent)).toEqual(['RUN']);
      expect(typesFrom(deliveries, agent, task)).toEqual(['START']);
      expect(task.getSnapshot().matches('RUNNING')).toBe(true);
      fromRuntime({
        type: 'SETTLED',
        count: 1,
        agents: [{ agentId: 'a1', executions: [{ ...starting(1), ok: true, outcome: { type: 'SUCCEED' } }] }],
      });
      expect(task.getSnapshot().value).toBe('COMPLETED');
      expect(typesFrom(deliveries, agent, task)).toEqual(['START', 'SUCCEED']);
    });
  });
});
