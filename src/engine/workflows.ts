import { Holds } from './holds.js';
import { getInitialSnapshot, type Actor, type AnyActorRef } from 'xstate';
import { workflowSystemId, type RuntimeEvent, type WorkflowChanges } from '../../machines/engine.machine.js';
import { startActor } from './actors.js';
import type { GraphSteps } from '../../machines/graph.js';
import {
  emptyCounts,
  workflowMachine,
  type TaskStatusChange,
  type WorkflowMachine,
  type WorkflowMachineEvent,
  type WorkflowMachineInput,
} from '../../machines/workflow.machine.js';
import type { GraphNodeInput } from '../../machines/graph.js';
import type { WorkflowStatus } from '../../machines/status.js';
import type { Task, TaskGraph } from '../domain/task.js';
import type { Workflow } from '../domain/workflow.js';
import { InvalidStateError, WorkflowNotFoundError } from '../errors/errors.js';
import type { Store, WorkflowTasks } from '../repositories/store.js';
import type { EngineClock } from './clock.js';
import type { Committer } from './committer.js';
import type { EventOutlet } from './engine-events.js';

type WorkflowCommandEvent = Extract<WorkflowMachineEvent, { type: 'PAUSE' | 'RESUME' | 'CANCEL' }>;

/** A condition given in code: a function of the dependencies' outputs (by key or task id), frozen. */
export type CodeCondition = (dependencies: Readonly<Record<string, unknown>>) => boolean;

/** A fan-out's list given in code: a function of the dependencies' outputs (by key or task id), frozen. */
export type CodeList = (dependencies: Readonly<Record<string, unknown>>) => unknown[];

/**
 * What the engine keeps beside a graph workflow's actor to act on its steps: each node's graph (its
 * key and condition), the outputs of the nodes that completed and the inputs of the others (what
 * conditions read). Data, not state: where each node stands is the workflow machine's.
 */
export interface GraphData {
  specs: Map<string, TaskGraph>;
  outputs: Map<string, unknown>;
  inputs: Map<string, Record<string, unknown>>;
}

interface LiveWorkflow {
  row: Workflow;
  actor: Actor<WorkflowMachine>;
  changes: TaskStatusChange[];
  /** Null until the workflow has a graph (a task with dependencies or a condition). */
  graph: GraphData | null;
}

/** The fields of a task a workflow's graph reads. */
export type GraphTask = Pick<Task, 'id' | 'status' | 'graph' | 'inputData' | 'outputData' | 'attempts'>;

export function emptyGraphData(): GraphData {
  return { specs: new Map(), outputs: new Map(), inputs: new Map() };
}

/** A task as a node of the graph; `graph` null: no dependencies, no condition. */
export function nodeOf(task: Pick<Task, 'id' | 'status' | 'graph' | 'attempts'>): GraphNodeInput {
  const node: GraphNodeInput = {
    taskId: task.id,
    dependsOn: task.graph?.dependsOn ?? [],
    conditional: (task.graph?.when ?? null) !== null,
    status: task.status,
  };
  if (task.graph?.forEach) node.fanOut = { children: task.graph.children ?? null };
  if (task.graph?.sleep) node.sleep = true;
  if (task.graph?.loop) node.loop = { children: task.graph.children ?? [] };
  if (task.graph?.waitFor) node.wait = true;
  if (task.graph?.workflow) node.subflow = true;
  // FAILED without an attempt: its condition or list failed, its loop reached its limit, its wait
  // timed out, its child workflow failed (REJECT), so a retry decides it again.
  if (
    task.status === 'FAILED' &&
    task.attempts === 0 &&
    (node.conditional || node.fanOut || node.loop || node.wait || node.subflow)
  )
    node.rejected = true;
  return node;
}

/** Records what the graph's conditions and the agents' contexts read of a task. */
export function noteTask(data: GraphData, task: GraphTask): void {
  if (task.graph) data.specs.set(task.id, task.graph);
  if (task.status === 'COMPLETED') {
    data.outputs.set(task.id, task.outputData);
    data.inputs.delete(task.id);
  } else data.inputs.set(task.id, task.inputData);
}

/**
 * The status of a stored workflow given its stored tasks (the workflow machine's state for those
 * counts and the row's flags): what the store writes when engines share a workflow.
 */
export function storedWorkflowStatus(row: Workflow, tasks: WorkflowTasks): WorkflowStatus {
  const input = {
    workflowId: row.id,
    counts: tasks.counts,
    started: tasks.started,
    paused: row.paused,
    cancelled: row.cancelled,
  };
  return getInitialSnapshot(workflowMachine, input).value as WorkflowStatus;
}

/** Where workflow actors live: their parent (the engine actor) and the way into its system. */
export interface WorkflowHost {
  parent: AnyActorRef;
  send(event: RuntimeEvent): void;
}

/**
 * The live workflow actors, children of the engine actor (system id `workflow:<id>`). Task status
 * changes are collected during a turn and sent in as one TASKS_CHANGED just before the turn's
 * commit (the engine passes each workflow its own); the row's status is then read from the
 * actor's state, never set by hand.
 */
export class WorkflowActors {
  private readonly live = new Map<string, LiveWorkflow>();
  private readonly loading = new Map<string, Promise<LiveWorkflow>>();
  private readonly dirty = new Set<LiveWorkflow>();
  /** Workflows being read from the store, with the tasks that changed here meanwhile. */
  private readonly reading = new Map<string, Map<string, GraphTask>>();
  /** Workflows kept loaded whatever their executions (a graph run is under way), with a count. */
  private readonly pinned = new Holds<string>();
  /** Told when a task of a live workflow is done for good (COMPLETED, SKIPPED). */
  private onDone: (taskId: string) => void = () => {};
  /** Told of the steps a workflow's graph calls for (see Graphs). */
  private onSteps: (entry: LiveWorkflow, steps: GraphSteps) => void = () => {};

  constructor(
    private readonly store: Store,
    private readonly committer: Committer,
    private readonly clock: EngineClock,
    private readonly host: WorkflowHost,
    private readonly events: EventOutlet | null = null,
  ) {
    committer.onBeforeFlush(() => this.flushChanges());
  }

  /**
   * Makes the row of a new workflow, in the machine's initial state, and starts its actor; the row
   * is staged for commit.
   */
  create(fields: Omit<Workflow, 'status' | 'paused' | 'cancelled'>): Workflow {
    const input = { workflowId: fields.id };
    const { value, context } = getInitialSnapshot(workflowMachine, input);
    const row: Workflow = {
      ...fields,
      status: value as WorkflowStatus,
      paused: context.paused,
      cancelled: context.cancelled,
    };
    const entry = this.start(row, input);
    this.committer.stageWorkflow(entry.row);
    return entry.row;
  }

  /**
   * Keeps a live workflow loaded until the returned function is called (a graph run holds its
   * graph's data and listens to its actor); `unload` leaves a pinned workflow alone.
   */
  pin(workflowId: string): () => void {
    return this.pinned.hold(workflowId);
  }

  /** Who acts on the steps the workflows' graphs call for, and is told when a task is done for good. */
  handleSteps(fn: (entry: LiveWorkflow, steps: GraphSteps) => void, done: (taskId: string) => void): void {
    this.onSteps = fn;
    this.onDone = done;
  }

  /**
   * Makes a live workflow a graph workflow with these tasks as nodes (each keeps its place if it
   * is one already); `tasks` are the workflow's tasks as this engine holds them.
   */
  addNodes(entry: LiveWorkflow, tasks: readonly GraphTask[]): void {
    entry.graph ??= emptyGraphData();
    for (const task of tasks) noteTask(entry.graph, task);
    // Before the changes pending for these tasks (a join): a task that joins with dependencies is
    // never a plain node, even for a moment (it would be released at once).
    this.host.send({ type: 'NODES_ADDED', workflowId: entry.row.id, nodes: tasks.map(nodeOf) });
  }

  /** The live workflow, loaded from the store (with its tasks' statuses) on first use. */
  async get(workflowId: string): Promise<LiveWorkflow> {
    const live = this.live.get(workflowId);
    if (live) return live;
    let loading = this.loading.get(workflowId);
    if (!loading) {
      loading = this.load(workflowId).finally(() => this.loading.delete(workflowId));
      this.loading.set(workflowId, loading);
    }
    return loading;
  }

  /** The status of a live workflow; undefined if it is not loaded. */
  peek(workflowId: string): LiveWorkflow | undefined {
    return this.live.get(workflowId);
  }

  /**
   * Unloads the live actor of a workflow this engine no longer works on, so the next `get` reads
   * the row anew (another engine may have changed it). A workflow with changes not yet committed
   * is kept until they are: returns false then, true once it is unloaded (or was not loaded).
   */
  unload(workflowId: string): boolean {
    const entry = this.live.get(workflowId);
    if (!entry || this.pinned.has(workflowId)) return true;
    if (this.dirty.has(entry)) return false;
    this.host.send({ type: 'RELEASE_WORKFLOW', workflowId });
    this.live.delete(workflowId);
    return true;
  }

  isPaused(workflowId: string | null): boolean {
    return workflowId !== null && (this.live.get(workflowId)?.actor.getSnapshot().context.paused ?? false);
  }

  isCancelled(workflowId: string | null): boolean {
    return workflowId !== null && (this.live.get(workflowId)?.actor.getSnapshot().context.cancelled ?? false);
  }

  /**
   * Records a task status change of a live workflow, applied at the next commit; `attempted` for a
   * task that joins having made attempts already.
   */
  change(
    task: GraphTask,
    workflowId: string | null,
    from: TaskStatusChange['from'],
    to: TaskStatusChange['to'],
    attempted = false,
  ): void {
    if (workflowId === null || from === to) return;
    const entry = this.live.get(workflowId);
    if (!entry) {
      // Being read: this change may come too late for the read, so the row is kept for the load.
      const changed = this.reading.get(workflowId);
      if (changed && to !== null) changed.set(task.id, { ...task, status: to });
      return;
    }
    if (entry.graph) noteTask(entry.graph, task);
    const taskId = task.id;
    if (to === 'COMPLETED' || to === 'SKIPPED') this.onDone(taskId);
    entry.changes.push(attempted ? { taskId, from, to, attempted } : { taskId, from, to });
    this.dirty.add(entry);
    this.committer.stageWorkflow(entry.row);
  }

  /** Throws INVALID_STATE unless the workflow machine takes `event` (its pending changes applied). */
  expectAccepted(entry: LiveWorkflow, event: WorkflowCommandEvent): void {
    this.flushOne(entry);
    const snapshot = entry.actor.getSnapshot();
    if (snapshot.can(event)) return;
    const status = snapshot.value as WorkflowStatus;
    throw new InvalidStateError(`Workflow ${entry.row.id} is ${status} and does not accept ${event.type}`, {
      workflowId: entry.row.id,
      status,
      event: event.type,
    });
  }

  /**
   * Sends PAUSE, RESUME or CANCEL and stages the row; returns the new status. Throws INVALID_STATE
   * when the workflow machine refuses the event.
   */
  send(entry: LiveWorkflow, event: WorkflowCommandEvent): WorkflowStatus {
    this.expectAccepted(entry, event);
    entry.actor.send(event);
    this.sync(entry);
    return entry.row.status;
  }

  /** Stops every live workflow actor (the engine is stopping), after its pending changes. */
  releaseAll(): void {
    this.flushChanges();
    for (const workflowId of this.live.keys()) this.host.send({ type: 'RELEASE_WORKFLOW', workflowId });
    this.live.clear();
  }

  private async load(workflowId: string): Promise<LiveWorkflow> {
    // Task changes made here while the rows are read are kept (a change of a workflow that is not
    // live is otherwise dropped: the read is its record): each task's latest row wins over the read.
    const changed = new Map<string, GraphTask>();
    this.reading.set(workflowId, changed);
    let row: Workflow | undefined;
    let read: Task[];
    try {
      // What this engine staged is in the store before it is read.
      await this.committer.settle();
      row = await this.store.workflows.get(workflowId);
      if (!row) throw new WorkflowNotFoundError(workflowId);
      read = await this.store.tasks.find({ where: { workflowId } });
    } finally {
      if (this.reading.get(workflowId) === changed) this.reading.delete(workflowId);
    }
    const tasks: GraphTask[] = read.map((task) => changed.get(task.id) ?? task);
    const known = new Set(read.map((task) => task.id));
    for (const [id, task] of changed) if (!known.has(id)) tasks.push(task);
    const counts = emptyCounts();
    let started = false;
    for (const task of tasks) {
      counts[task.status] += 1;
      if (task.attempts > 0) started = true;
    }
    const again = this.live.get(workflowId);
    if (again) return again;
    const entry = this.start(row, {
      workflowId,
      counts,
      started,
      paused: row.paused,
      cancelled: row.cancelled,
    });
    if (tasks.some((task) => task.graph !== null)) this.addNodes(entry, tasks);
    return entry;
  }

  private start(row: Workflow, input: WorkflowMachineInput): LiveWorkflow {
    const systemId = workflowSystemId(row.id);
    const actor = startActor(workflowMachine, { parent: this.host.parent, id: systemId, systemId, input });
    const entry: LiveWorkflow = { row, actor, changes: [], graph: null };
    actor.on('graph.steps', ({ type: _type, ...steps }) => this.onSteps(entry, steps));
    this.live.set(row.id, entry);
    this.sync(entry);
    return entry;
  }

  private flushChanges(): void {
    this.deliver([...this.dirty]);
    this.dirty.clear();
  }

  private flushOne(entry: LiveWorkflow): void {
    this.deliver([entry]);
  }

  /** Sends the pending changes of these workflows in as one event, then reads their states. */
  private deliver(entries: readonly LiveWorkflow[]): void {
    const workflows: WorkflowChanges[] = [];
    const changed: LiveWorkflow[] = [];
    for (const entry of entries) {
      if (entry.changes.length === 0) continue;
      workflows.push({ workflowId: entry.row.id, changes: entry.changes });
      entry.changes = [];
      changed.push(entry);
    }
    if (workflows.length === 0) return;
    this.host.send({ type: 'TASKS_CHANGED', workflows });
    for (const entry of changed) this.sync(entry);
  }

  /** Announces `workflow.status`: stored with the new status's commit, published once it has committed. */
  private announce(row: Workflow, from: WorkflowStatus, to: WorkflowStatus): void {
    const payload = { workflowId: row.id, name: row.name, from, to, at: this.clock.now() };
    this.committer.announce(null, () => [{ name: 'workflow.status', payload }]);
  }

  private sync(entry: LiveWorkflow): void {
    const snapshot = entry.actor.getSnapshot();
    const status = snapshot.value as WorkflowStatus;
    const { paused, cancelled } = snapshot.context;
    const row = entry.row;
    if (row.status !== status || row.paused !== paused || row.cancelled !== cancelled) {
      // Where the store derives the status (workers), its event is the store's (Committer.write).
      if (row.status !== status && this.events?.wants('workflow.status') && !this.committer.derivesStatuses)
        this.announce(row, row.status, status);
      row.status = status;
      row.paused = paused;
      row.cancelled = cancelled;
      row.updatedAt = this.clock.now();
      this.committer.stageWorkflow(row);
    }
  }
}

export type { LiveWorkflow };
