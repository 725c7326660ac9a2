import { describe, expect, it } from 'vitest';
import type { InspectionEvent, Observer } from 'xstate';
import { createTestRegistry, failingAgent, flushEngine, succeedingAgent } from '../../src/testing/index.js';

type Kind = 'task' | 'workflow' | 'executor' | 'agent' | 'router';

/** The fields of an inspected actor ref this test reads; any of them may be missing. */
interface InspectedRef {
  id?: string;
  systemId?: string;
  logic?: { id?: unknown; config?: { id?: unknown } };
}

const refOf = (event: InspectionEvent) => event.actorRef as unknown as InspectedRef;

/** What an actor is, judged from its machine id, its id and its system id (whichever is set). */
function kindOf(ref: InspectedRef): Kind | 'other' {
  const machineId = String(ref.logic?.id ?? ref.logic?.config?.id ?? '');
  const names = [machineId, ref.id ?? '', ref.systemId ?? ''];
  for (const kind of ['task', 'workflow', 'executor', 'agent', 'router'] as const) {
    if (names.some((name) => name === kind || name.startsWith(`${kind}:`))) return kind;
  }
  return 'other';
}

async function runSomeWork(inspect: Observer<InspectionEvent> | ((event: InspectionEvent) => void)) {
  const kit = createTestRegistry({ inspect, retry: { maxAttempts: 1 } });
  const { workflowTracker, taskManager, executor, router, agentFactory } = kit;
  agentFactory.registerAgentType('echo', () => succeedingAgent('echo-impl', 'hi'));
  const config = await agentFactory.createAgentConfig({ name: 'Echo', type: 'echo', capabilities: ['text'] });
  const workflow = await workflowTracker.createWorkflow({ name: 'w' });
  const tagged = await taskManager.createTask({ name: 'tagged', tags: ['text'], workflowId: workflow.id });
  const agent = await agentFactory.createAgent(await router.routeTask(tagged));
  await executor.executeTask(tagged.id, agent);
  const failing = await taskManager.createTask({ name: 'failing', workflowId: workflow.id });
  await executor.executeTask(failing.id, failingAgent('f', Infinity));
  await flushEngine();
  return { kit, config, workflow, tagged };
}

describe('inspection', () => {
  it('new ServiceRegistry({ inspect }) sees actors of all five kinds: task, workflow, executor, agent, router', async () => {
    const events: InspectionEvent[] = [];
    const { kit, config, workflow } = await runSomeWork((event) => events.push(event));

    const actors = events.filter((e) => e.type === '@xstate.actor').map(refOf);
    const kinds = new Set(actors.map(kindOf));
    for (const kind of ['task', 'workflow', 'executor', 'agent', 'router'] as const)
      expect(kinds).toContain(kind);

    const ids = actors.map((ref) => ref.id);
    expect(ids).toContain(`workflow:${workflow.id}`);
    expect(actors.some((ref) => ref.systemId === `agent:${config.id}`)).toBe(true);
    expect(actors.some((ref) => ref.systemId === 'executor')).toBe(true);
    expect(actors.some((ref) => ref.systemId === 'router')).toBe(true);
    expect(actors.filter((ref) => kindOf(ref) === 'task').length).toBeGreaterThanOrEqual(2);
    await kit.stop();
  });

  it('the inspector also receives the events and snapshots of those actors', async () => {
    const events: InspectionEvent[] = [];
    const { kit } = await runSomeWork((event) => events.push(event));

    const eventTypesFor = (kind: Kind) =>
      new Set(
        events
          .filter((e) => e.type === '@xstate.event' && kindOf(refOf(e)) === kind)
          .map((e) => (e as { event: { type: string } }).event.type),
      );
    expect([...eventTypesFor('task')]).toEqual(expect.arrayContaining(['START', 'SUCCEED', 'FAIL']));
    expect([...eventTypesFor('executor')]).toEqual(
      expect.arrayContaining(['REGISTER_AGENT', 'ENQUEUED', 'DISPATCH', 'SETTLED']),
    );
    expect([...eventTypesFor('agent')]).toEqual(expect.arrayContaining(['RUN', 'SETTLED']));
    expect([...eventTypesFor('router')]).toEqual(expect.arrayContaining(['ROUTED']));
    expect([...eventTypesFor('workflow')]).toEqual(expect.arrayContaining(['TASKS_CHANGED']));
    const workflowStates = events
      .filter((e) => e.type === '@xstate.snapshot' && kindOf(refOf(e)) === 'workflow')
      .map((e) => (e as { snapshot: { value?: unknown } }).snapshot.value);
    expect(workflowStates).toContain('FAILED');
    await kit.stop();
  });

  it('events are sent actor to actor: all but the engine root start and calls from outside carry a sourceId', async () => {
    const events: InspectionEvent[] = [];
    const { kit } = await runSomeWork((event) => events.push(event));
    const sent = events.filter((e) => e.type === '@xstate.event') as Array<
      Extract<InspectionEvent, { type: '@xstate.event' }>
    >;
    const unsourced = sent.filter((e) => e.sourceRef === undefined);
    // The engine root's start is the only event without a sender here.
    expect(unsourced.map((e) => `${refOf(e).id}:${e.event.type}`)).toEqual(['engine:xstate.init']);
    // The hot path, by who sends it: runtime -> engine -> executor -> agent -> task.
    const nameOf = (ref: InspectedRef) => (kindOf(ref) === 'other' ? String(ref.id) : kindOf(ref));
    const pairs = new Set(
      sent
        .filter((e) => e.sourceRef !== undefined)
        .map((e) => `${nameOf(e.sourceRef as InspectedRef)}>${nameOf(refOf(e))}:${e.event.type}`),
    );
    for (const pair of [
      'runtime>engine:DISPATCH',
      'engine>executor:DISPATCH',
      'executor>agent:RUN',
      'agent>task:START',
      'engine>executor:SETTLED',
      'executor>agent:SETTLED',
      'agent>task:SUCCEED',
      'agent>task:FAIL',
      'engine>workflow:TASKS_CHANGED',
      'engine>router:ROUTED',
    ])
      expect(pairs).toContain(pair);
    await kit.stop();
  });

  it('accepts an observer object as well as a function', async () => {
    const seen: InspectionEvent[] = [];
    const { kit } = await runSomeWork({ next: (event) => seen.push(event) });
    const kinds = new Set(seen.filter((e) => e.type === '@xstate.actor').map((e) => kindOf(refOf(e))));
    expect([...kinds]).toEqual(expect.arrayContaining(['task', 'workflow', 'executor', 'agent', 'router']));
    await kit.stop();
  });
});
