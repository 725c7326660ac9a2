import { assign, enqueueActions, setup } from 'xstate';
import { taskSystemId, type TaskMachineEvent } from './task.machine.js';

export interface AgentMachineContext {
  agentId: string;
  /** Executions this agent may run at once. */
  maxConcurrency: number;
  inFlight: number;
  completed: number;
  failed: number;
}

/** An execution an agent is to start: its task actor (system id `task:<taskId>`) gets START. */
export interface StartingExecution {
  executionId: string;
  taskId: string;
  /** Milliseconds the attempt may run; 0 means no limit. */
  timeoutMs: number;
}

/** An attempt that ended, and what its task actor is to take (none when its execution already ended). */
export interface SettledExecution {
  executionId: string;
  taskId: string;
  ok: boolean;
  /** Cancelled (aborted by a cancel): neither completed nor failed. */
  cancelled?: boolean;
  /** SUCCEED or FAIL for the task actor; absent when the execution had already ended. */
  outcome?: Extract<TaskMachineEvent, { type: 'SUCCEED' } | { type: 'FAIL' }>;
}

export type AgentMachineEvent =
  | { type: 'RUN'; executions: readonly StartingExecution[] }
  | { type: 'SETTLED'; executions: readonly SettledExecution[] }
  /** Stops the task actors of executions that ended here (the agent is their parent). */
  | { type: 'RELEASE'; taskIds: readonly string[] }
  | { type: 'SET_LIMIT'; maxConcurrency: number };

/** The id and system id of an agent actor: other actors address it by it, never by the bare key. */
export function agentSystemId(agentId: string): string {
  return `agent:${agentId}`;
}

export interface AgentMachineInput {
  agentId: string;
  maxConcurrency: number;
}

/**
 * One agent: its slots and load, and the parent of the task actors of its executions. RUN takes
 * executions into free slots and sends each task actor START (one it cannot take is refused: action
 * `refuseExecutions`, provided by the engine, queues them again); SETTLED frees their slots and
 * sends each task actor the attempt's outcome (SUCCEED or FAIL); RELEASE stops the task actors of
 * executions that ended. The agent's code runs outside the machine: the engine brings its outcomes
 * back in through SETTLED.
 */
export const agentMachine = setup({
  types: {
    context: {} as AgentMachineContext,
    events: {} as AgentMachineEvent,
    input: {} as AgentMachineInput,
  },
  actions: {
    refuseExecutions: (_, _params: { executionIds: readonly string[] }) => {},
    /** A task actor of this agent failed (an action of it threw); the engine reports it. */
    taskActorFailed: (_, _params: { error: unknown }) => {},
    startTasks: enqueueActions(({ event, system, enqueue }) => {
      if (event.type !== 'RUN') return;
      for (const { taskId, timeoutMs } of event.executions) {
        const task = system.get(taskSystemId(taskId));
        const start: TaskMachineEvent = { type: 'START', timeoutMs };
        if (task) enqueue.sendTo(task, start);
      }
    }),
    settleTasks: enqueueActions(({ event, system, enqueue }) => {
      if (event.type !== 'SETTLED') return;
      for (const { taskId, outcome } of event.executions) {
        if (!outcome) continue;
        const task = system.get(taskSystemId(taskId));
        if (task) enqueue.sendTo(task, outcome);
      }
    }),
    releaseTasks: enqueueActions(({ event, system, enqueue }) => {
      if (event.type !== 'RELEASE') return;
      for (const taskId of event.taskIds) {
        const task = system.get(taskSystemId(taskId));
        if (task) enqueue.stopChild(task);
      }
    }),
  },
  guards: {
    hasRoom: ({ context, event }) =>
      event.type === 'RUN' && context.inFlight + event.executions.length <= context.maxConcurrency,
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
          assign({ inFlight: ({ context, event }) => context.inFlight + event.executions.length }),
          'startTasks',
        ],
      },
      {
        actions: {
          type: 'refuseExecutions',
          params: ({ event }) => ({ executionIds: event.executions.map((e) => e.executionId) }),
        },
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
        'settleTasks',
      ],
    },
    RELEASE: { actions: 'releaseTasks' },
    SET_LIMIT: { actions: assign({ maxConcurrency: ({ event }) => Math.max(1, event.maxConcurrency) }) },
    // A child's error left unhandled would fail the agent (and the executor above it) as well.
    'xstate.error.actor.*': {
      actions: {
        type: 'taskActorFailed',
        params: ({ event }: { event: { error?: unknown } }) => ({ error: event.error }),
      },
    },
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
