import { assign, setup } from 'xstate';

export interface AgentMachineContext {
  agentId: string;
  /** Executions this agent may run at once. */
  maxConcurrency: number;
  inFlight: number;
  completed: number;
  failed: number;
}

export interface SettledExecution {
  executionId: string;
  ok: boolean;
  /** Cancelled (aborted by a cancel): neither completed nor failed. */
  cancelled?: boolean;
}

export type AgentMachineEvent =
  | { type: 'RUN'; executionIds: readonly string[] }
  | { type: 'SETTLED'; executions: readonly SettledExecution[] }
  | { type: 'SET_LIMIT'; maxConcurrency: number };

export interface AgentMachineInput {
  agentId: string;
  maxConcurrency: number;
}

/**
 * One agent: its slots and load. RUN takes executions into free slots and starts them (action
 * `startExecutions`); SETTLED frees their slots and reports the outcomes (action
 * `reportSettled`). Both actions are provided by the engine, which runs the agent's code outside
 * the machine and sends the outcome back in as an event.
 */
export const agentMachine = setup({
  types: {
    context: {} as AgentMachineContext,
    events: {} as AgentMachineEvent,
    input: {} as AgentMachineInput,
  },
  actions: {
    startExecutions: (_, _params: { executionIds: readonly string[] }) => {},
    reportSettled: (_, _params: { executions: readonly SettledExecution[] }) => {},
    refuseExecutions: (_, _params: { executionIds: readonly string[] }) => {},
  },
  guards: {
    hasRoom: ({ context, event }) =>
      event.type === 'RUN' && context.inFlight + event.executionIds.length <= context.maxConcurrency,
    isIdle: ({ context }) => context.inFlight === 0,
    isFull: ({ context }) => context.inFlight >= context.maxConcurrency,
    isBusy: ({ context }) => context.inFlight > 0 && context.inFlight < context.maxConcurrency,
  },
}).createMachine({
  id: 'agent',
  context: ({ input }) => ({
    agentId: input.agentId,
    maxConcurrency: Math.max(1, input.maxConcurrency),
    inFlight: 0,
    completed: 0,
    failed: 0,
  }),
  initial: 'idle',
  on: {
    RUN: [
      {
        guard: 'hasRoom',
        actions: [
          assign({ inFlight: ({ context, event }) => context.inFlight + event.executionIds.length }),
          { type: 'startExecutions', params: ({ event }) => ({ executionIds: event.executionIds }) },
        ],
      },
      {
        actions: { type: 'refuseExecutions', params: ({ event }) => ({ executionIds: event.executionIds }) },
      },
    ],
    SETTLED: {
      actions: [
        assign(({ context, event }) => {
          let ok = 0;
          let failed = 0;
          for (const execution of event.executions) {
            if (execution.ok) ok += 1;
            else if (!execution.cancelled) failed += 1;
          }
          return {
            inFlight: Math.max(0, context.inFlight - event.executions.length),
            completed: context.completed + ok,
            failed: context.failed + failed,
          };
        }),
        { type: 'reportSettled', params: ({ event }) => ({ executions: event.executions }) },
      ],
    },
    SET_LIMIT: { actions: assign({ maxConcurrency: ({ event }) => Math.max(1, event.maxConcurrency) }) },
  },
  states: {
    idle: {
      always: [
        { guard: 'isFull', target: 'full' },
        { guard: 'isBusy', target: 'busy' },
      ],
    },
    busy: {
      always: [
        { guard: 'isIdle', target: 'idle' },
        { guard: 'isFull', target: 'full' },
      ],
    },
    full: {
      always: [
        { guard: 'isIdle', target: 'idle' },
        { guard: 'isBusy', target: 'busy' },
      ],
    },
  },
});

export type AgentMachine = typeof agentMachine;
