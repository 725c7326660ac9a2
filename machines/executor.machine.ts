import { assign, enqueueActions, setup } from 'xstate';
import {
  agentMachine,
  agentSystemId,
  type AgentMachineEvent,
  type SettledExecution,
  type StartingExecution,
} from './agent.machine.js';

export interface ExecutorMachineContext {
  /** Executions that may run at once across all agents. */
  maxConcurrency: number;
  inFlight: number;
  queued: number;
  /** Agents that have an agent actor (spawned child with the same id). */
  agentIds: readonly string[];
}

/** Executions of one agent: the agent actor (a child with the agent's id) gets them as one event. */
export interface AgentBatch<T> {
  agentId: string;
  executions: readonly T[];
}

export type ExecutorMachineEvent =
  | { type: 'REGISTER_AGENT'; agentId: string; maxConcurrency: number }
  | { type: 'ENQUEUED'; count: number }
  | { type: 'DEQUEUED'; count: number }
  /** Queued executions taken into slots; each agent gets RUN with its own. */
  | { type: 'DISPATCH'; runs: readonly AgentBatch<StartingExecution>[] }
  /** Slots freed; each agent gets SETTLED with the outcomes of its attempts. */
  | { type: 'SETTLED'; count: number; agents: readonly AgentBatch<SettledExecution>[] }
  /** Stops the task actors of ended executions, through the agent that is their parent. */
  | { type: 'RELEASE'; agents: readonly AgentBatch<string>[] }
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
 * on, passes each agent its executions to start (DISPATCH -> RUN), their outcomes (SETTLED) and the
 * task actors to release, and asks the engine to dispatch (action `pump`) whenever a slot or work
 * appears. STOP lets running work finish and then ends the actor.
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
    /** Passes each agent its part of a DISPATCH, SETTLED or RELEASE. */
    toAgents: enqueueActions(({ event, system, enqueue }) => {
      // By system id: an agent it never spawned is not found and gets nothing.
      const send = (agentId: string, agentEvent: AgentMachineEvent) => {
        const agent = system.get(agentSystemId(agentId));
        if (agent) enqueue.sendTo(agent, agentEvent);
      };
      switch (event.type) {
        case 'DISPATCH':
          for (const { agentId, executions } of event.runs) send(agentId, { type: 'RUN', executions });
          return;
        case 'SETTLED':
          for (const { agentId, executions } of event.agents) send(agentId, { type: 'SETTLED', executions });
          return;
        case 'RELEASE':
          for (const { agentId, executions } of event.agents)
            send(agentId, { type: 'RELEASE', taskIds: executions });
          return;
      }
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
          // A prefixed id: a bare agent key could read as an XState target (`#_parent`) or as an
          // object key of the children map (`__proto__`).
          spawn('agent', {
            id: agentSystemId(event.agentId),
            systemId: agentSystemId(event.agentId),
            input: { agentId: event.agentId, maxConcurrency: event.maxConcurrency },
          });
          return [...context.agentIds, event.agentId];
        },
      }),
    },
    DISPATCH: {
      actions: [
        assign(({ context, event }) => {
          let count = 0;
          for (const run of event.runs) count += run.executions.length;
          return { queued: Math.max(0, context.queued - count), inFlight: context.inFlight + count };
        }),
        'toAgents',
      ],
    },
    DEQUEUED: {
      actions: assign({ queued: ({ context, event }) => Math.max(0, context.queued - event.count) }),
    },
    SETTLED: { actions: ['releaseSlots', 'toAgents', 'pump'] },
    RELEASE: { actions: 'toAgents' },
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
        SETTLED: { actions: ['releaseSlots', 'toAgents'] },
      },
    },
    stopped: { type: 'final' },
  },
});

export type ExecutorMachine = typeof executorMachine;
