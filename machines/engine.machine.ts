import { enqueueActions, forwardTo, fromCallback, sendTo, setup, type AnyEventObject } from 'xstate';
import {
  breakerSystemId,
  circuitBreakerMachine,
  type CircuitBreakerInput,
} from './circuit-breaker.machine.js';
import { executorMachine, type ExecutorMachineEvent, type ExecutorMachineInput } from './executor.machine.js';
import { routerMachine, type RouterMachineEvent, type RouterMachineInput } from './router.machine.js';
import { taskSystemId, type TaskMachineEvent } from './task.machine.js';
import type { Decision, Expansion, GraphNodeInput } from './graph.js';
import type { TaskStatusChange, WorkflowMachineEvent } from './workflow.machine.js';

export interface EngineMachineInput {
  executor: ExecutorMachineInput;
  router: RouterMachineInput;
}

/** The task status changes of one workflow since the last commit. */
export interface WorkflowChanges {
  workflowId: string;
  changes: readonly TaskStatusChange[];
}

/** What the engine's own code (store, dispatch, settling, routing) brings into the actor system. */
export type RuntimeEvent =
  | Exclude<ExecutorMachineEvent, { type: 'WAKE' | 'SET_LIMIT' | 'STOP' }>
  | Extract<RouterMachineEvent, { type: 'ROUTED' }>
  | { type: 'TASKS_CHANGED'; workflows: readonly WorkflowChanges[] }
  /** Tasks join a workflow's graph; the engine's answers for a graph's conditions. */
  | { type: 'NODES_ADDED'; workflowId: string; nodes: readonly GraphNodeInput[] }
  | { type: 'DECIDED'; workflowId: string; decisions: readonly Decision[] }
  | { type: 'EXPANDED'; workflowId: string; expansions: readonly Expansion[] }
  /** Stops the actor of a workflow the engine no longer works on (the engine is its parent). */
  | { type: 'RELEASE_WORKFLOW'; workflowId: string }
  /** A workflow was paused (HOLD) or resumed (UNHOLD): its live task actors are told. */
  | { type: 'HOLD' | 'UNHOLD'; taskIds: readonly string[] }
  /** Spawns the circuit breaker of an agent config (system id `breaker:<id>`) unless it has one. */
  | { type: 'REGISTER_BREAKER'; breaker: CircuitBreakerInput };

export type EngineMachineEvent = { type: 'STOP' } | RuntimeEvent;

/** The system id of a live workflow actor. */
export function workflowSystemId(workflowId: string): string {
  return `workflow:${workflowId}`;
}

/**
 * The root of an engine's actor system: it invokes the executor (`systemId: 'executor'`), the
 * router (`systemId: 'router'`) and the runtime (`systemId: 'runtime'`): a callback actor through
 * which the engine's own code (dispatch, attempt outcomes, commits, routing) sends its events in.
 * The engine passes each on to the actor it concerns: executor work to the executor, routing picks
 * to the router, task status changes and graph events (NODES_ADDED, DECIDED) to the workflow actors
 * (its children by `parent`, system id `workflow:<id>`), a workflow's pause or resume to its live task actors (HOLD / UNHOLD, by system
 * id `task:<id>`). It spawns the circuit breakers of agent configs (REGISTER_BREAKER; its children,
 * system id `breaker:<id>`). It ends once the executor has drained after STOP.
 */
export const engineMachine = setup({
  types: {
    context: {} as { input: EngineMachineInput },
    events: {} as EngineMachineEvent,
    input: {} as EngineMachineInput,
  },
  actors: {
    executor: executorMachine,
    router: routerMachine,
    circuitBreaker: circuitBreakerMachine,
    /** Provided by the engine: it keeps `sendBack` as the way in for its own events. */
    runtime: fromCallback<AnyEventObject>(() => {}),
  },
  actions: {
    spawnBreaker: enqueueActions(({ event, system, enqueue }) => {
      if (event.type !== 'REGISTER_BREAKER') return;
      const id = breakerSystemId(event.breaker.agentId);
      if (system.get(id)) return;
      enqueue.spawnChild('circuitBreaker', { id, systemId: id, input: event.breaker });
    }),
    toTasks: enqueueActions(({ event, system, enqueue }) => {
      if (event.type !== 'HOLD' && event.type !== 'UNHOLD') return;
      const hold: TaskMachineEvent = { type: event.type };
      for (const taskId of event.taskIds) {
        const task = system.get(taskSystemId(taskId));
        if (task) enqueue.sendTo(task, hold);
      }
    }),
    toWorkflows: enqueueActions(({ event, system, enqueue }) => {
      if (event.type === 'TASKS_CHANGED') {
        for (const { workflowId, changes } of event.workflows) {
          const workflow = system.get(workflowSystemId(workflowId));
          const changed: WorkflowMachineEvent = { type: 'TASKS_CHANGED', changes };
          if (workflow) enqueue.sendTo(workflow, changed);
        }
      } else if (event.type === 'NODES_ADDED' || event.type === 'DECIDED' || event.type === 'EXPANDED') {
        const workflow = system.get(workflowSystemId(event.workflowId));
        const graphEvent: WorkflowMachineEvent =
          event.type === 'NODES_ADDED'
            ? { type: 'NODES_ADDED', nodes: event.nodes }
            : event.type === 'DECIDED'
              ? { type: 'DECIDED', decisions: event.decisions }
              : { type: 'EXPANDED', expansions: event.expansions };
        if (workflow) enqueue.sendTo(workflow, graphEvent);
      } else if (event.type === 'RELEASE_WORKFLOW') {
        const workflow = system.get(workflowSystemId(event.workflowId));
        if (workflow) enqueue.stopChild(workflow);
      }
    }),
  },
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
    { id: 'runtime', systemId: 'runtime', src: 'runtime' },
  ],
  on: {
    REGISTER_AGENT: { actions: forwardTo('executor') },
    ENQUEUED: { actions: forwardTo('executor') },
    DEQUEUED: { actions: forwardTo('executor') },
    DISPATCH: { actions: forwardTo('executor') },
    SETTLED: { actions: forwardTo('executor') },
    RELEASE: { actions: forwardTo('executor') },
    ROUTED: { actions: forwardTo('router') },
    TASKS_CHANGED: { actions: 'toWorkflows' },
    NODES_ADDED: { actions: 'toWorkflows' },
    DECIDED: { actions: 'toWorkflows' },
    EXPANDED: { actions: 'toWorkflows' },
    RELEASE_WORKFLOW: { actions: 'toWorkflows' },
    REGISTER_BREAKER: { actions: 'spawnBreaker' },
    HOLD: { actions: 'toTasks' },
    UNHOLD: { actions: 'toTasks' },
  },
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
