import { fc, it } from '@fast-check/vitest';
import { describe, expect, vi } from 'vitest';
import { createActor, type Actor, type AnyActorRef, type AnyEventObject } from 'xstate';
import {
  executorMachine,
  type AgentBatch,
  type ExecutorMachine,
  type ExecutorMachineEvent,
  type SettledExecution,
  type StartingExecution,
} from '../../machines/index.js';
import { received, recordDeliveries, type Delivery } from '../machines/actor-kit.js';

// Random executor event sequences against a reference model of its counters, its load states,
// when it asks for work (`pump`) and what each agent actor is passed. fast-check prints the seed
// and shrunk sequence on failure.

/** The agents registered before each run; DISPATCH, SETTLED and RELEASE name only these. */
const AGENTS = ['a0', 'a1'] as const;

interface ExecutorModel {
  phase: 'running' | 'stopping' | 'stopped';
  queued: number;
  inFlight: number;
  max: number;
  pumps: number;
  /** The events each agent actor is to have received from the executor, in order. */
  toAgent: Record<string, AnyEventObject[]>;
}
interface ExecutorReal {
  actor: Actor<ExecutorMachine>;
  pump: ReturnType<typeof vi.fn>;
  agents: Record<string, AnyActorRef>;
  deliveries: Delivery[];
}

function loadState(m: ExecutorModel): 'idle' | 'active' | 'saturated' {
  if (m.inFlight >= m.max) return 'saturated';
  return m.inFlight > 0 || m.queued > 0 ? 'active' : 'idle';
}

function stepModel(m: ExecutorModel, event: ExecutorMachineEvent): void {
  const running = m.phase === 'running';
  const saturated = running && loadState(m) === 'saturated';
  switch (event.type) {
    case 'ENQUEUED':
      if (!running) break;
      m.queued += event.count;
      if (!saturated) m.pumps += 1;
      break;
    case 'DEQUEUED':
      m.queued = Math.max(0, m.queued - event.count);
      break;
    case 'DISPATCH': {
      const count = event.runs.reduce((sum, run) => sum + run.executions.length, 0);
      m.queued = Math.max(0, m.queued - count);
      m.inFlight += count;
      for (const { agentId, executions } of event.runs) m.toAgent[agentId]?.push({ type: 'RUN', executions });
      break;
    }
    case 'SETTLED':
      m.inFlight = Math.max(0, m.inFlight - event.count);
      if (running) m.pumps += 1;
      for (const { agentId, executions } of event.agents)
        m.toAgent[agentId]?.push({ type: 'SETTLED', executions });
      break;
    case 'RELEASE':
      for (const { agentId, executions } of event.agents) {
        m.toAgent[agentId]?.push({ type: 'RELEASE', taskIds: executions });
      }
      break;
    case 'WAKE':
      if (running && !saturated) m.pumps += 1;
      break;
    case 'SET_LIMIT':
      if (!running) break;
      m.max = Math.max(1, event.maxConcurrency);
      m.pumps += 1;
      break;
    case 'STOP':
      if (running) m.phase = loadState(m) === 'idle' ? 'stopped' : 'stopping';
      break;
    case 'REGISTER_AGENT':
      break;
  }
  if (m.phase === 'stopping' && m.inFlight === 0) m.phase = 'stopped';
}

class ExecutorCommand implements fc.Command<ExecutorModel, ExecutorReal> {
  constructor(readonly event: ExecutorMachineEvent) {}
  check = (m: Readonly<ExecutorModel>) => m.phase !== 'stopped';
  run(m: ExecutorModel, r: ExecutorReal): void {
    stepModel(m, this.event);
    r.actor.send(this.event);
    const snapshot = r.actor.getSnapshot();
    expect(snapshot.context).toMatchObject({ queued: m.queued, inFlight: m.inFlight });
    expect(snapshot.context.maxConcurrency).toBe(m.max);
    expect(snapshot.context.queued).toBeGreaterThanOrEqual(0);
    expect(snapshot.context.inFlight).toBeGreaterThanOrEqual(0);
    expect(snapshot.value).toBe(m.phase === 'running' ? loadState(m) : m.phase);
    expect(snapshot.status).toBe(m.phase === 'stopped' ? 'done' : 'active');
    expect(r.pump).toHaveBeenCalledTimes(m.pumps);
    for (const agentId of AGENTS) {
      const agent = r.agents[agentId] as AnyActorRef;
      const got = received(r.deliveries, agent);
      expect(got.every((d) => d.from === r.actor)).toBe(true);
      expect(got.map((d) => d.event)).toEqual(m.toAgent[agentId]);
    }
  }
  toString = () => JSON.stringify(this.event);
}

const count = fc.integer({ min: 0, max: 3 });
/** Up to two batches, each for one of the registered agents, of `item(i)` for i < a count. */
const batches = <T>(item: (i: number) => T): fc.Arbitrary<AgentBatch<T>[]> =>
  fc.array(
    fc.record({ agentId: fc.constantFrom(...AGENTS), n: count }).map(({ agentId, n }) => ({
      agentId,
      executions: Array.from({ length: n }, (_, i) => item(i)),
    })),
    { maxLength: 2 },
  );
const starting = (i: number): StartingExecution => ({ executionId: `e${i}`, taskId: `t${i}`, timeoutMs: 0 });
const settled = (i: number): SettledExecution => ({ executionId: `e${i}`, taskId: `t${i}`, ok: i % 2 === 0 });
const eventArb: fc.Arbitrary<ExecutorMachineEvent> = fc.oneof(
  count.map((n) => ({ type: 'ENQUEUED' as const, count: n })),
  count.map((n) => ({ type: 'DEQUEUED' as const, count: n })),
  batches(starting).map((runs) => ({ type: 'DISPATCH' as const, runs })),
  fc.tuple(count, batches(settled)).map(([n, agents]) => ({ type: 'SETTLED' as const, count: n, agents })),
  batches((i) => `t${i}`).map((agents) => ({ type: 'RELEASE' as const, agents })),
  fc.constant({ type: 'WAKE' as const }),
  fc.integer({ min: -1, max: 5 }).map((n) => ({ type: 'SET_LIMIT' as const, maxConcurrency: n })),
);

describe('executor machine properties', () => {
  it.prop([
    fc.integer({ min: 0, max: 4 }),
    fc.commands(
      [
        // STOP is rarer, so that sequences get some work going first.
        fc
          .oneof(
            { arbitrary: eventArb, weight: 12 },
            { arbitrary: fc.constant({ type: 'STOP' as const }), weight: 1 },
          )
          .map((event) => new ExecutorCommand(event)),
      ],
      { maxCommands: 60 },
    ),
  ])(
    'counters never go negative, the state classifies the load, pump fires only while running, each agent gets its own batches',
    (max, commands) => {
      fc.modelRun(() => {
        const pump = vi.fn();
        const actor = createActor(executorMachine.provide({ actions: { pump } }), {
          input: { maxConcurrency: max },
        }).start();
        for (const agentId of AGENTS) actor.send({ type: 'REGISTER_AGENT', agentId, maxConcurrency: 2 });
        const agents = Object.fromEntries(
          AGENTS.map((id) => [id, actor.system.get(`agent:${id}`) as AnyActorRef]),
        );
        const model: ExecutorModel = {
          phase: 'running',
          queued: 0,
          inFlight: 0,
          max: Math.max(1, max),
          pumps: 0,
          toAgent: Object.fromEntries(AGENTS.map((id) => [id, []])),
        };
        return { model, real: { actor, pump, agents, deliveries: recordDeliveries(actor) } };
      }, commands);
    },
  );
});
