import { describe, expect, it, vi } from 'vitest';
import { createActor, type ActorRefFrom } from 'xstate';
import {
  engineMachine,
  executorMachine,
  type AgentMachine,
  type EngineMachineInput,
  type RouterMachine,
} from '../../machines/index.js';

function startEngine(input: Partial<EngineMachineInput> = {}) {
  const pump = vi.fn();
  const machine = engineMachine.provide({
    actors: { executor: executorMachine.provide({ actions: { pump } }) },
  });
  const actor = createActor(machine, {
    input: { executor: { maxConcurrency: 2 }, router: { strategy: 'LOAD_BALANCED' }, ...input },
  }).start();
  const executor = () => actor.system.get('executor') as ActorRefFrom<typeof executorMachine>;
  const router = () => actor.system.get('router') as ActorRefFrom<RouterMachine>;
  return { actor, executor, router, pump };
}

describe('engine machine', () => {
  it('invokes the executor and the router under systemIds executor and router, with their input', () => {
    const { actor, executor, router } = startEngine({
      executor: { maxConcurrency: 7 },
      router: { strategy: 'CAPABILITY_MATCH' },
    });
    expect(actor.getSnapshot().value).toBe('running');
    expect(executor()).toBeDefined();
    expect(router()).toBeDefined();
    expect(actor.getSnapshot().children.executor).toBe(executor());
    expect(actor.getSnapshot().children.router).toBe(router());
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
    executorRef.send({ type: 'ENQUEUED', count: 2 });
    executorRef.send({ type: 'DISPATCHED', count: 2 });
    expect(executorRef.getSnapshot().value).toBe('saturated');
    actor.send({ type: 'STOP' });
    expect(actor.getSnapshot().value).toBe('stopping');
    expect(executorRef.getSnapshot().value).toBe('stopping');
    actor.send({ type: 'STOP' });
    expect(actor.getSnapshot().value).toBe('stopping');
    executorRef.send({ type: 'SETTLED', count: 1 });
    expect(actor.getSnapshot().value).toBe('stopping');
    executorRef.send({ type: 'SETTLED', count: 1 });
    expect(executorRef.getSnapshot().status).toBe('done');
    expect(actor.getSnapshot().value).toBe('stopped');
    expect(actor.getSnapshot().status).toBe('done');
  });

  it('ends too if the executor is stopped directly', () => {
    const { actor, executor } = startEngine();
    executor().send({ type: 'STOP' });
    expect(actor.getSnapshot().value).toBe('stopped');
  });
});
