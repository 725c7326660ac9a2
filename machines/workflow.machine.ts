import { assign, enqueueActions, setup } from 'xstate';
import {
  GraphUpdate,
  hasSteps,
  type Decision,
  type Expansion,
  type GraphNodeInput,
  type GraphProgress,
  type GraphSteps,
} from './graph.js';
import { TASK_STATUSES, WORKFLOW_STATUSES, type TaskStatus, type WorkflowStatus } from './status.js';

export type TaskCounts = Record<TaskStatus, number>;

export interface WorkflowMachineContext {
  workflowId: string;
  /** How many of the workflow's tasks are in each status. */
  counts: TaskCounts;
  /** Whether any task of the workflow has ever started running. */
  started: boolean;
  /** Set by PAUSE, cleared by RESUME: the one status chosen by hand. */
  paused: boolean;
  /** Set by CANCEL; the workflow stays CANCELLED. */
  cancelled: boolean;
  /**
   * Its graph (docs/workflows.md): every task as a node, with its dependencies and where it stands.
   * Null until a task of the workflow has dependencies or a condition.
   */
  graph: GraphProgress | null;
}

/**
 * A task joined (`from: null`), changed status, or left (`to: null`). `attempted`: the task has
 * made attempts before (a task that ran elsewhere joining), so the workflow has started.
 */
export interface TaskStatusChange {
  taskId: string;
  from: TaskStatus | null;
  to: TaskStatus | null;
  attempted?: boolean;
}

export type WorkflowMachineEvent =
  | { type: 'TASKS_CHANGED'; changes: readonly TaskStatusChange[] }
  /** Tasks join the graph (a task already in it keeps its place). */
  | { type: 'NODES_ADDED'; nodes: readonly GraphNodeInput[] }
  /** The engine evaluated the conditions of nodes in `deciding`. */
  | { type: 'DECIDED'; decisions: readonly Decision[] }
  /** The engine made the items of fan-outs (their tasks joined as nodes just before). */
  | { type: 'EXPANDED'; expansions: readonly Expansion[] }
  | { type: 'PAUSE' }
  | { type: 'RESUME' }
  | { type: 'CANCEL' };

/** What the graph asks the engine to do (see GraphSteps); emitted after the event that called for it. */
export type WorkflowMachineEmitted = { type: 'graph.steps' } & GraphSteps;

export interface WorkflowMachineInput {
  workflowId: string;
  counts?: Partial<TaskCounts>;
  started?: boolean;
  paused?: boolean;
  cancelled?: boolean;
}

export function emptyCounts(): TaskCounts {
  return { PENDING: 0, RUNNING: 0, COMPLETED: 0, FAILED: 0, PAUSED: 0, CANCELLED: 0, SKIPPED: 0 };
}

function total(counts: TaskCounts): number {
  let sum = 0;
  for (const status of TASK_STATUSES) sum += counts[status];
  return sum;
}

/**
 * The workflow status rule, in order: paused -> PAUSED; cancelled by hand -> CANCELLED; no tasks
 * -> PENDING; all done (COMPLETED or SKIPPED) -> COMPLETED; any FAILED -> FAILED; all finished with
 * some CANCELLED -> CANCELLED; no task started yet -> PENDING; otherwise RUNNING.
 */
export function deriveWorkflowStatus(
  context: Pick<WorkflowMachineContext, 'counts' | 'started' | 'paused' | 'cancelled'>,
): WorkflowStatus {
  const { counts } = context;
  if (context.paused) return 'PAUSED';
  if (context.cancelled) return 'CANCELLED';
  const all = total(counts);
  if (all === 0) return 'PENDING';
  const done = counts.COMPLETED + counts.SKIPPED;
  if (done === all) return 'COMPLETED';
  if (counts.FAILED > 0) return 'FAILED';
  if (done + counts.CANCELLED === all) return 'CANCELLED';
  if (!context.started) return 'PENDING';
  return 'RUNNING';
}

export function applyChanges(counts: TaskCounts, changes: readonly TaskStatusChange[]): TaskCounts {
  const next = { ...counts };
  for (const { from, to } of changes) {
    if (from !== null) next[from] = Math.max(0, next[from] - 1);
    if (to !== null) next[to] += 1;
  }
  return next;
}

/** A task in one of these statuses has run at least once. */
function isStartedStatus(status: TaskStatus | null): boolean {
  return status === 'RUNNING' || status === 'COMPLETED' || status === 'FAILED';
}

/**
 * The `always` transitions of state `self` to every other status the rule can give. COMPLETED has
 * none to PAUSED: a completed workflow refuses PAUSE (`mayPause`), so it cannot become paused.
 */
const derivedTransitions = (self: WorkflowStatus) =>
  WORKFLOW_STATUSES.filter((status) => status !== self && !(self === 'COMPLETED' && status === 'PAUSED')).map(
    (status) => ({
      guard: { type: 'derivedIs' as const, params: { status } },
      target: status,
    }),
  );

/**
 * A workflow's status, derived from its tasks' statuses (see {@link deriveWorkflowStatus}); the
 * machine moves to the derived state after every event, so its state is always the rule's answer.
 */
export const workflowMachine = setup({
  types: {
    context: {} as WorkflowMachineContext,
    events: {} as WorkflowMachineEvent,
    input: {} as WorkflowMachineInput,
    emitted: {} as WorkflowMachineEmitted,
  },
  actions: {
    /** Applies a graph change and emits the steps it calls for. */
    updateGraph: enqueueActions(({ context, event, enqueue }) => {
      let update: GraphUpdate;
      if (event.type === 'NODES_ADDED') update = new GraphUpdate(context.graph).add(event.nodes);
      else if (event.type === 'DECIDED') {
        if (!context.graph) return;
        update = new GraphUpdate(context.graph).decided(event.decisions);
      } else if (event.type === 'EXPANDED') {
        if (!context.graph) return;
        update = new GraphUpdate(context.graph).expanded(event.expansions);
      } else if (event.type === 'TASKS_CHANGED') {
        if (!context.graph) return;
        update = new GraphUpdate(context.graph);
        for (const change of event.changes) update.status(change.taskId, change.from, change.to);
      } else return;
      enqueue.assign({ graph: update.result() });
      if (hasSteps(update.steps)) enqueue.emit({ type: 'graph.steps', ...update.steps });
    }),
  },
  guards: {
    derivedIs: ({ context }, params: { status: WorkflowStatus }) =>
      deriveWorkflowStatus(context) === params.status,
    /** A cancelled workflow, or one whose tasks all completed, has nothing left to hold. */
    mayPause: ({ context }) => !context.cancelled && deriveWorkflowStatus(context) !== 'COMPLETED',
  },
}).createMachine({
  id: 'workflow',
  context: ({ input }) => ({
    workflowId: input.workflowId,
    counts: { ...emptyCounts(), ...input.counts },
    started: input.started ?? false,
    paused: input.paused ?? false,
    cancelled: input.cancelled ?? false,
    graph: null,
  }),
  initial: 'PENDING',
  on: {
    TASKS_CHANGED: {
      actions: [
        assign(({ context, event }) => ({
          counts: applyChanges(context.counts, event.changes),
          started:
            context.started ||
            event.changes.some((change) => change.attempted === true || isStartedStatus(change.to)),
        })),
        'updateGraph',
      ],
    },
    NODES_ADDED: { actions: 'updateGraph' },
    DECIDED: { actions: 'updateGraph' },
    EXPANDED: { actions: 'updateGraph' },
    PAUSE: { guard: 'mayPause', actions: assign({ paused: true }) },
    RESUME: { actions: assign({ paused: false }) },
    CANCEL: { actions: assign({ cancelled: true, paused: false }) },
  },
  states: {
    PENDING: { always: derivedTransitions('PENDING') },
    RUNNING: { always: derivedTransitions('RUNNING') },
    COMPLETED: { always: derivedTransitions('COMPLETED') },
    FAILED: { always: derivedTransitions('FAILED') },
    PAUSED: { always: derivedTransitions('PAUSED') },
    CANCELLED: { always: derivedTransitions('CANCELLED') },
  },
});

export type WorkflowMachine = typeof workflowMachine;
