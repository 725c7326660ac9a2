import type { WorkflowStatus } from '../../machines/status.js';
import type { Task } from '../domain/task.js';
import { TaskNotFoundError } from '../errors/errors.js';
import { SymphonyError } from '../errors/symphony-error.js';
import type { ControlCommand } from '../repositories/store.js';
import type { Runtime } from './runtime.js';
import type { LiveWorkflow } from './workflows.js';
import { expectAccepted, storedState } from './task-door.js';

/** What pausing, resuming and cancelling need of the engine. */
export type ControlEngine = Pick<
  Runtime,
  | 'store'
  | 'committer'
  | 'workflows'
  | 'holdWorkflow'
  | 'door'
  | 'control'
  | 'executionOf'
  | 'hasLive'
  | 'holdsWorkflow'
  | 'decideOnStored'
  | 'cancel'
  | 'cancelWorkflowExecutions'
  | 'graphs'
>;

export type WorkflowCommand = ControlCommand['type'];

/**
 * Pauses, resumes or cancels a workflow, wherever it runs. The engine that holds the workflow (has
 * live executions of it) is the only one that changes its rows, so two engines never write over
 * each other:
 * - held here, or no other live engine on the store: applied here, and the command is written;
 * - otherwise the command is written and the engines that beat on the store answer it; the one
 *   holding the workflow applies it. If none holds it (or they all stop answering), it is applied
 *   here.
 */
export async function applyWorkflowCommand(
  runtime: ControlEngine,
  workflowId: string,
  type: WorkflowCommand,
): Promise<WorkflowStatus> {
  return (await steerWorkflow(runtime, workflowId, type)).status;
}

/** What steering a workflow did: its status after, and whether another engine (its holder) applied it. */
export interface Steered {
  status: WorkflowStatus;
  appliedElsewhere: boolean;
}

/** `applyWorkflowCommand`, saying whether the engine holding the workflow in another process applied it. */
export async function steerWorkflow(
  runtime: ControlEngine,
  workflowId: string,
  type: WorkflowCommand,
): Promise<Steered> {
  // Read before the command: a cancel ends the nodes that name them.
  const children = await childWorkflows(runtime, workflowId);
  const steered = await applyToWorkflow(runtime, workflowId, type);
  for (const childId of children) await steerChild(runtime, childId, type);
  return steered;
}

/** Steers a child workflow as its parent or its node was steered. */
async function steerChild(runtime: ControlEngine, childId: string, type: WorkflowCommand): Promise<void> {
  await applyWorkflowCommand(runtime, childId, type).catch((error: unknown) => {
    // A child that ended, or is not paused, refuses: it is left as it is.
    if (!(SymphonyError.isInstance(error) && error.code === 'INVALID_STATE')) throw error;
  });
}

/**
 * The child workflows (`graph.workflow`) of the workflow's nodes that are not done: pausing,
 * resuming or cancelling a workflow does the same to them.
 */
async function childWorkflows(runtime: ControlEngine, workflowId: string): Promise<string[]> {
  // Read from the rows, the workflow not loaded: an engine that loads a workflow's actor acts on
  // its graph, and the one steering may not be the one running it. A child given by definition
  // is recorded in its node's row once made.
  await runtime.committer.settle();
  const children: string[] = [];
  for (const task of await runtime.store.tasks.find({ where: { workflowId } })) {
    const childId = task.graph?.workflow?.id;
    if (task.status === 'COMPLETED' || task.status === 'SKIPPED') continue;
    if (childId !== null && childId !== undefined) children.push(childId);
  }
  return children;
}

async function applyToWorkflow(
  runtime: ControlEngine,
  workflowId: string,
  type: WorkflowCommand,
): Promise<Steered> {
  const control = runtime.control;
  const held = runtime.holdsWorkflow(workflowId);
  const others = held ? [] : await control.otherLiveEngines();
  if (others.length === 0) {
    const status = await applyHere(runtime, workflowId, type, !held);
    control.send({ workflowId, taskId: null }, type);
    return { status, appliedElsewhere: false };
  }
  runtime.workflows.expectAccepted(await storedWorkflow(runtime, workflowId), { type });
  const command = control.send({ workflowId, taskId: null }, type);
  await runtime.committer.settle();
  if (await control.appliedElsewhere(command, others)) {
    return { status: (await storedWorkflow(runtime, workflowId)).row.status, appliedElsewhere: true };
  }
  return { status: await applyHere(runtime, workflowId, type, true), appliedElsewhere: false };
}

/**
 * The workflow as the store has it now (this engine's pending changes committed first): the copy
 * an engine that does not hold the workflow has cached may be stale.
 */
async function storedWorkflow(runtime: ControlEngine, workflowId: string) {
  await runtime.committer.settle();
  runtime.workflows.unload(workflowId);
  return runtime.workflows.get(workflowId);
}

/**
 * Pauses, resumes or cancels one task, wherever it runs: the engine named in its row as holding it
 * (`leaseOwner`), if that engine is alive and is not this one, gets the command through the store
 * and applies it; otherwise it is applied here. Cancelling a child-workflow node cancels its child
 * workflow too, as cancelling the node's workflow does. Returns the task as it then is.
 */
export async function applyTaskCommand(
  runtime: ControlEngine,
  taskId: string,
  type: WorkflowCommand,
): Promise<Task> {
  const task = await steerTask(runtime, taskId, type);
  const childId = task.graph?.workflow?.id;
  // The child's tasks and its own children (the engine holding it cancelled it with the node).
  if (type === 'CANCEL' && childId !== null && childId !== undefined)
    await steerChild(runtime, childId, type);
  return task;
}

/** Steers one task (see applyTaskCommand) and nothing else. */
async function steerTask(runtime: ControlEngine, taskId: string, type: WorkflowCommand): Promise<Task> {
  const control = runtime.control;
  if (!runtime.executionOf(taskId)) {
    const task = await runtime.store.tasks.get(taskId);
    if (!task) throw new TaskNotFoundError(taskId);
    const holder = task.leaseOwner;
    if (holder !== null && (await control.otherLiveEngines()).includes(holder)) {
      // Refused transitions fail here, at once, as they would in the holder.
      expectAccepted(task, storedState(task), { type });
      const command = control.send({ workflowId: task.workflowId, taskId }, type);
      await runtime.committer.settle();
      if (await control.appliedElsewhere(command, [holder])) {
        if (task.workflowId !== null) runtime.workflows.unload(task.workflowId);
        return (await runtime.store.tasks.get(taskId)) ?? task;
      }
    }
  }
  return steerHere(runtime, taskId, type);
}

/** Applies a task command in this engine: to its live execution, or to its row. */
export async function steerHere(
  runtime: ControlEngine,
  taskId: string,
  type: WorkflowCommand,
): Promise<Task> {
  const exec = runtime.executionOf(taskId);
  if (exec) {
    if (type === 'CANCEL') {
      runtime.cancel(exec);
    } else {
      // The task machine moves it out of its queue or back in (PENDING.ready's actions).
      runtime.door.send(exec.task, { type }, exec.actor);
    }
    await runtime.committer.settle();
    const row = await runtime.store.tasks.get(taskId);
    if (!row) throw new TaskNotFoundError(taskId);
    return row;
  }
  // Decided on the row as this engine's own changes left it: an execution of the task that
  // started or ended here meanwhile (a completion), or a write of its row (the graph resolving
  // it), makes it read again. Checked and sent in one step, so the two cannot cross.
  const task = await runtime.decideOnStored(async (touched) => {
    const row = await runtime.store.tasks.get(taskId);
    if (!row) throw new TaskNotFoundError(taskId);
    if (row.workflowId !== null) await runtime.workflows.get(row.workflowId);
    const child = type === 'CANCEL' ? await heldChild(runtime, row) : null;
    if (touched.rewritten(taskId)) return null;
    runtime.door.send(row, { type });
    // In the same turn as the node: the child's cancel commits with the node's, nothing of it
    // starts after (applyTaskCommand then cancels its tasks and its own children).
    if (child) sendHere(runtime, child, 'CANCEL');
    return row;
  });
  if (task === null) return steerHere(runtime, taskId, type);
  await runtime.committer.settle();
  return structuredClone(task);
}

/** The child workflow of a child-workflow node, loaded, if this engine holds it (runs it). */
async function heldChild(runtime: ControlEngine, node: Task): Promise<LiveWorkflow | null> {
  const childId = node.graph?.workflow?.id;
  if (childId === null || childId === undefined || !runtime.holdsWorkflow(childId)) return null;
  return runtime.workflows.get(childId);
}

/**
 * Changes the workflow and its tasks in this engine. With `fresh`, the workflow is read from the
 * store first (this engine does not hold it: another engine may have finished it since).
 */
export async function applyHere(
  runtime: ControlEngine,
  workflowId: string,
  type: WorkflowCommand,
  fresh = false,
): Promise<WorkflowStatus> {
  const workflow = fresh
    ? await storedWorkflow(runtime, workflowId)
    : await runtime.workflows.get(workflowId);
  const status = sendHere(runtime, workflow, type);
  if (type === 'CANCEL') await cancelTasks(runtime, workflowId);
  return status;
}

/** The workflow's own change, in one synchronous step: the machine's, and what goes with it here. */
function sendHere(runtime: ControlEngine, workflow: LiveWorkflow, type: WorkflowCommand): WorkflowStatus {
  const workflowId = workflow.row.id;
  const status = runtime.workflows.send(workflow, { type });
  if (type === 'PAUSE') runtime.holdWorkflow(workflowId, true);
  if (type === 'RESUME') {
    runtime.holdWorkflow(workflowId, false);
    // Its waits take the signals kept while it was paused, and time out if due meanwhile.
    if (runtime.holdsWorkflow(workflowId)) runtime.graphs.armWaits(workflow);
  }
  // In the same turn as the workflow's own change: no attempt of it starts after this, and the
  // commit that records the workflow CANCELLED also records its running attempts aborted.
  if (type === 'CANCEL') runtime.cancelWorkflowExecutions(workflowId, 'The workflow was cancelled');
  return status;
}

/**
 * Cancels the workflow's stored tasks that no execution holds. Decided on rows read once this
 * engine's own changes have committed; a task whose execution started or ended here since is left
 * as that execution left it (a completion that came first stands).
 */
async function cancelTasks(runtime: ControlEngine, workflowId: string): Promise<void> {
  await runtime.decideOnStored(async (touched) => {
    const heldElsewhere = await runtime.control.leaseHolders();
    for (const stored of await runtime.store.tasks.find({ where: { workflowId } })) {
      const live = runtime.executionOf(stored.id);
      if (live) {
        runtime.cancel(live, 'The workflow was cancelled');
        continue;
      }
      if (touched.has(stored.id) || !storedState(stored).can({ type: 'CANCEL' })) continue;
      // Another live engine holds it (it took it over from this one): that engine cancels it when
      // it gets the command.
      if (heldElsewhere(stored.leaseOwner, stored.leaseExpiresAt)) continue;
      runtime.door.send(stored, { type: 'CANCEL' });
    }
  });
}
