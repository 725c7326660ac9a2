import { assign, setup } from 'xstate';
import { agentMachine } from './agent.machine.js';

export interface ExecutorMachineContext {
  /** Executions that may run at once across all agents. */
  maxConcurrency: number;
  inFlight: number;
  queued: number;
  /** Agents that have an agent actor (spawned child with the same id). */
  agentIds: readonly string[];
}

export type ExecutorMachineEvent =
  | { type: 'REGISTER_AGENT'; agentId: string; maxConcurrency: number }
  | { type: 'ENQUEUED'; count: number }
  | { type: 'DEQUEUED'; count: number }
  | { type: 'DISPATCHED'; count: number }
  | { type: 'SETTLED'; count: number }
  | { type: 'WAKE' }
  | { type: 'SET_LIMIT'; maxConcurrency: number }
  | { type: 'STOP' };

export interface ExecutorMachineInput {
  maxConcurrency: number;
}

/** What a running executor does with new work and limits: count it, then ask for a dispatch. */
const accepting = {
  ENQUEUED: { actions: ['addQueued', 'pump'] },
  WAKE: { actions: 'pump' },
  SET_LIMIT: { actions: ['setLimit', 'pump'] },
} as const;

/**
 * The executor: counts what is queued and in flight, spawns one agent actor per agent it runs work
 * on, and asks the engine to dispatch (action `pump`) whenever a slot or work appears. STOP lets
 * running work finish and then ends the actor.
 */
export const executorMachine = setup({
  types: {
    context: {} as ExecutorMachineContext,
    events: {} as ExecutorMachineEvent,
    input: {} as ExecutorMachineInput,
  },
  actors: { agent: agentMachine },
  actions: {
    pump: () => {},
    addQueued: assign({
      queued: ({ context, event }) =>
        event.type === 'ENQUEUED' ? context.queued + event.count : context.queued,
    }),
    setLimit: assign({
      maxConcurrency: ({ context, event }) =>
        event.type === 'SET_LIMIT' ? Math.max(1, event.maxConcurrency) : context.maxConcurrency,
    }),
    releaseSlots: assign({
      inFlight: ({ context, event }) =>
        event.type === 'SETTLED' ? Math.max(0, context.inFlight - event.count) : context.inFlight,
    }),
  },
  guards: {
    isIdle: ({ context }) => context.inFlight === 0 && context.queued === 0,
    isSaturated: ({ context }) => context.inFlight >= context.maxConcurrency,
    isActive: ({ context }) =>
      context.inFlight < context.maxConcurrency && (context.inFlight > 0 || context.queued > 0),
    isDrained: ({ context }) => context.inFlight === 0,
    isNewAgent: ({ context, event }) =>
      event.type === 'REGISTER_AGENT' && !context.agentIds.includes(event.agentId),
  },
}).createMachine({
  id: 'executor',
  context: ({ input }) => ({
    maxConcurrency: Math.max(1, input.maxConcurrency),
    inFlight: 0,
    queued: 0,
    agentIds: [],
  }),
  initial: 'idle',
  on: {
    REGISTER_AGENT: {
      guard: 'isNewAgent',
      actions: assign({
        agentIds: ({ context, event, spawn }) => {
          spawn('agent', {
            id: event.agentId,
            systemId: `agent:${event.agentId}`,
            input: { agentId: event.agentId, maxConcurrency: event.maxConcurrency },
          });
          return [...context.agentIds, event.agentId];
        },
      }),
    },
    DISPATCHED: {
      actions: assign({
        queued: ({ context, event }) => Math.max(0, context.queued - event.count),
        inFlight: ({ context, event }) => context.inFlight + event.count,
      }),
    },
    DEQUEUED: {
      actions: assign({ queued: ({ context, event }) => Math.max(0, context.queued - event.count) }),
    },
    SETTLED: { actions: ['releaseSlots', 'pump'] },
  },
  states: {
    idle: {
      always: [
        { guard: 'isSaturated', target: 'saturated' },
        { guard: 'isActive', target: 'active' },
      ],
      on: { ...accepting, STOP: 'stopped' },
    },
    active: {
      always: [
        { guard: 'isSaturated', target: 'saturated' },
        { guard: 'isIdle', target: 'idle' },
      ],
      on: { ...accepting, STOP: 'stopping' },
    },
    saturated: {
      always: [
        { guard: 'isIdle', target: 'idle' },
        { guard: 'isActive', target: 'active' },
      ],
      on: {
        ENQUEUED: { actions: 'addQueued' },
        SET_LIMIT: { actions: ['setLimit', 'pump'] },
        STOP: 'stopping',
      },
    },
    stopping: {
      always: { guard: 'isDrained', target: 'stopped' },
      on: {
        SETTLED: { actions: 'releaseSlots' },
      },
    },
    stopped: { type: 'final' },
  },
});

export type ExecutorMachine = typeof executorMachine;
