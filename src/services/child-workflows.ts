import type { WorkflowStatus } from '../../machines/status.js';
import { ErrorCode } from '../errors/codes.js';
import { ChildWorkflowError } from '../errors/errors.js';
import { storedState } from '../engine/task-door.js';
import type { Runtime } from '../engine/runtime.js';
import type { LiveWorkflow } from '../engine/workflows.js';
import { newTask } from '../domain/new-task.js';
import type { Task, WorkflowDefinition } from '../domain/task.js';

/** What running a child workflow needs of the engine. */
export type ChildEngine = Pick<
  Runtime,
  'options' | 'store' | 'committer' | 'workflows' | 'graphs' | 'door' | 'executionOf' | 'decideOnStored'
>;

/** Runs a child workflow to its next stop with the parent run's options. */
export type RunChild = (childId: string) => Promise<{ status: WorkflowStatus }>;

/** The result a child-workflow node completes with. */
export interface ChildResult {
  workflowId: string;
  status: 'COMPLETED';
  /** Outputs of the child's completed tasks, by key (or id when it has none), in creation order. */
  outputs: Record<string, unknown>;
}

/**
 * Runs the child workflow of a node (`graph.workflow`) of the parent's graph until it ends, and
 * ends the node with its outcome: COMPLETED gives the node its result; FAILED or CANCELLED fails it
 * CHILD_WORKFLOW_FAILED. A child that stops PAUSED (the parent was paused, which pauses the child;
 * or the child was paused on its own) is run again once it is resumed. A node retried after its
 * child failed retries the child's failed and cancelled tasks first. Returns when the node ended
 * or moved on (paused, cancelled). A child whose workflow was cancelled is not retried: its tasks
 * are left as they are and the node fails again.
 */
export async function runChildNode(
  runtime: ChildEngine,
  parentId: string,
  taskId: string,
  runChild: RunChild,
  isEnded: () => boolean,
): Promise<void> {
  for (;;) {
    await runtime.committer.settleTasks([taskId]);
    const task = await runtime.store.tasks.get(taskId);
    if (!task?.graph?.workflow || task.status !== 'PENDING' || isEnded()) return;
    const childId = task.graph.workflow.id ?? (await makeChild(runtime, task));
    const child = await runtime.workflows.get(childId);
    const before = child.actor.getSnapshot().value as WorkflowStatus;
    // A cancelled child takes no new work: its tasks stay as they are, and the node fails again.
    if (
      (before === 'FAILED' || before === 'CANCELLED') &&
      !child.actor.getSnapshot().context.cancelled &&
      task.errors.at(-1)?.code === ErrorCode.CHILD_WORKFLOW_FAILED
    ) {
      await retryEnded(runtime, childId);
    }
    const { status } = await runChild(childId);
    if (status === 'COMPLETED') {
      const output = await resultOf(runtime, childId, status);
      await runtime.graphs.finishSubflow(parentId, taskId, { output });
      return;
    }
    if (status === 'FAILED' || status === 'CANCELLED') {
      const error = new ChildWorkflowError(`Child workflow ${childId} of task ${taskId} ended ${status}`, {
        taskId,
        workflowId: childId,
        status,
      });
      await runtime.graphs.finishSubflow(parentId, taskId, { error });
      return;
    }
    await untilResumed(runtime, child, isEnded);
  }
}

/**
 * Makes a child workflow from its node's definition, with fixed ids (`<node id>-wf`, its tasks
 * `<child id>-<key>`), and records its id in the node's row, in one commit: made once, whatever
 * crashes. Each task's inputData gets `parent`, the node's inputData.
 */
async function makeChild(runtime: ChildEngine, node: Task): Promise<string> {
  const { options, committer } = runtime;
  const childId = `${node.id}-wf`;
  const now = options.clock.now();
  await stageDefinedWorkflow(runtime, childId, node.graph!.workflow!.definition!, {
    metadata: { parentTaskId: node.id, parentWorkflowId: node.workflowId },
    inputData: { parent: node.inputData },
  });
  node.graph = { ...node.graph!, workflow: { ...node.graph!.workflow!, id: childId } };
  node.updatedAt = now;
  committer.stageTask(node);
  await committer.settle();
  return childId;
}

/**
 * Stages a workflow made from a definition, with fixed ids (`workflowId`, its tasks
 * `<workflowId>-<key>`), unless it exists already (stored, or staged here); returns whether it made
 * it. Each task's inputData gets `inputData`'s fields. The caller settles the commit.
 */
export async function stageDefinedWorkflow(
  runtime: Pick<ChildEngine, 'options' | 'store' | 'workflows' | 'door'>,
  workflowId: string,
  definition: WorkflowDefinition,
  extra: { metadata: Record<string, unknown>; inputData: Record<string, unknown> },
): Promise<boolean> {
  const { options, workflows, door, store } = runtime;
  if ((await store.workflows.get(workflowId)) || workflows.peek(workflowId)) return false;
  const now = options.clock.now();
  workflows.create({
    id: workflowId,
    name: definition.name,
    description: definition.description,
    metadata: extra.metadata,
    createdAt: now,
    updatedAt: now,
  });
  const idOf = (key: string) => `${workflowId}-${key}`;
  const tasks = definition.tasks.map((defined) =>
    door.create(
      newTask(
        {
          id: idOf(defined.key),
          name: defined.name,
          description: defined.description,
          inputData: { ...defined.inputData, ...extra.inputData },
          tags: [...defined.tags],
          priority: defined.priority,
          workflowId,
          graph: { ...defined.graph, dependsOn: defined.graph.dependsOn.map(idOf) },
        },
        now,
      ),
    ),
  );
  workflows.addNodes(workflows.peek(workflowId)!, tasks);
  return true;
}

/** The child's completed outputs by key or id. */
async function resultOf(runtime: ChildEngine, childId: string, status: 'COMPLETED'): Promise<ChildResult> {
  await runtime.committer.settle();
  const outputs: Record<string, unknown> = {};
  for (const task of await runtime.store.tasks.find({ where: { workflowId: childId } })) {
    if (task.status !== 'COMPLETED') continue;
    Object.defineProperty(outputs, task.graph?.key ?? task.id, {
      value: task.outputData,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return { workflowId: childId, status, outputs };
}

/** Retries the child's FAILED and CANCELLED tasks that no execution holds (a retry of its parent node). */
async function retryEnded(runtime: ChildEngine, childId: string): Promise<void> {
  await runtime.decideOnStored(async (touched) => {
    for (const task of await runtime.store.tasks.find({ where: { workflowId: childId } })) {
      if (task.status !== 'FAILED' && task.status !== 'CANCELLED') continue;
      if (runtime.executionOf(task.id) || touched.has(task.id)) continue;
      if (storedState(task).can({ type: 'RETRY' })) runtime.door.send(task, { type: 'RETRY' });
    }
  });
  await runtime.committer.settle();
}

/** Resolves once the child is no longer PAUSED (or the parent's run ended); keeps it loaded meanwhile. */
function untilResumed(runtime: ChildEngine, child: LiveWorkflow, isEnded: () => boolean): Promise<void> {
  const unpin = runtime.workflows.pin(child.row.id);
  return new Promise<void>((resolve) => {
    let resolved = false;
    const done = () => {
      if (resolved || (child.actor.getSnapshot().value === 'PAUSED' && !isEnded())) return;
      resolved = true;
      queueMicrotask(() => subscription.unsubscribe());
      unpin();
      resolve();
    };
    const subscription = child.actor.subscribe(done);
    done();
  });
}
