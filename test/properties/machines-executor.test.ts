import { fc, it } from '@fast-check/vitest';
import { describe, expect, vi } from 'vitest';
import { createActor, type Actor } from 'xstate';
import { executorMachine, type ExecutorMachine, type ExecutorMachineEvent } from '../../machines/index.js';

// Random executor event sequences against a reference model of its counters, its load states and
// when it asks for work (`pump`). fast-check prints the seed and shrunk sequence on failure.

interface ExecutorModel {
  phase: 'running' | 'stopping' | 'stopped';
  queued: number;
  inFlight: number;
  max: number;
  pumps: number;
}
interface ExecutorReal {
  actor: Actor<ExecutorMachine>;
  pump: ReturnType<typeof vi.fn>;
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
    case 'DISPATCHED':
      m.queued = Math.max(0, m.queued - event.count);
      m.inFlight += event.count;
      break;
    case 'SETTLED':
      m.inFlight = Math.max(0, m.inFlight - event.count);
      if (running) m.pumps += 1;
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
  }
  toString = () => JSON.stringify(this.event);
}

const count = fc.integer({ min: 0, max: 3 });
const eventArb: fc.Arbitrary<ExecutorMachineEvent> = fc.oneof(
  count.map((n) => ({ type: 'ENQUEUED' as const, count: n })),
  count.map((n) => ({ type: 'DEQUEUED' as const, count: n })),
  count.map((n) => ({ type: 'DISPATCHED' as const, count: n })),
  count.map((n) => ({ type: 'SETTLED' as const, count: n })),
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
    'counters never go negative, the state classifies the load, pump fires only while running',
    (max, commands) => {
      fc.modelRun(() => {
        const pump = vi.fn();
        const actor = createActor(executorMachine.provide({ actions: { pump } }), {
          input: { maxConcurrency: max },
        }).start();
        const model: ExecutorModel = {
          phase: 'running',
          queued: 0,
          inFlight: 0,
          max: Math.max(1, max),
          pumps: 0,
        };
        return { model, real: { actor, pump } };
      }, commands);
    },
  );
});
