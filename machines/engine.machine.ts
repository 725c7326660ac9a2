import { sendTo, setup } from 'xstate';
import { executorMachine, type ExecutorMachineInput } from './executor.machine.js';
import { routerMachine, type RouterMachineInput } from './router.machine.js';

export interface EngineMachineInput {
  executor: ExecutorMachineInput;
  router: RouterMachineInput;
}

export type EngineMachineEvent = { type: 'STOP' };

/**
 * The root of an engine's actor system: it invokes the executor (`systemId: 'executor'`) and the
 * router (`systemId: 'router'`), and ends once the executor has drained after STOP.
 */
export const engineMachine = setup({
  types: {
    context: {} as { input: EngineMachineInput },
    events: {} as EngineMachineEvent,
    input: {} as EngineMachineInput,
  },
  actors: { executor: executorMachine, router: routerMachine },
}).createMachine({
  id: 'engine',
  context: ({ input }) => ({ input }),
  invoke: [
    {
      id: 'executor',
      systemId: 'executor',
      src: 'executor',
      input: ({ context }) => context.input.executor,
      onDone: '.stopped',
    },
    { id: 'router', systemId: 'router', src: 'router', input: ({ context }) => context.input.router },
  ],
  initial: 'running',
  states: {
    running: {
      on: { STOP: { target: 'stopping', actions: sendTo('executor', { type: 'STOP' }) } },
    },
    stopping: {},
    stopped: { type: 'final' },
  },
});

export type EngineMachine = typeof engineMachine;
