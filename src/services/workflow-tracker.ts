import type { WorkflowStatus } from '../../machines/status.js';
import type { Task } from '../domain/task.js';
import type { CreateWorkflowInput, Workflow } from '../domain/workflow.js';
import { ErrorCode } from '../errors/codes.js';
import {
  GraphError,
  InvalidArgumentError,
  InvalidStateError,
  TaskNotFoundError,
  WorkflowNotFoundError,
} from '../errors/errors.js';
import {
  graphSpecOf,
  isPlainGraph,
  plainSpec,
  type AddTaskOptions,
  type NodeSpec,
} from '../graph/node-options.js';
import { checkGraph } from '../graph/validate.js';
import { childWorkflowTree } from '../graph/child-tree.js';
import type { LiveWorkflow } from '../engine/workflows.js';
import { copyPayload, copyRecord, mergePayload } from '../engine/payload.js';
import { BUDGET_METADATA_KEY, expectMetadataBudget } from '../engine/budgets.js';
import type { Runtime } from '../engine/runtime.js';
import {
  applyWorkflowCommand,
  steerWorkflow,
  type ControlEngine,
  type WorkflowCommand,
} from '../engine/workflow-control.js';
import type { Query } from '../repositories/repository.js';
import { expectFields, expectId, expectRecord, expectString } from './validate.js';

/**
 * Checks new nodes against the workflow's tasks (`members`) and each other: every dependency is a
 * member or a new node, keys are unique and none is the id of another task, and the new nodes form
 * no cycle (members cannot depend on them, so a cycle can only run through new nodes). Throws
 * INVALID_GRAPH naming the problem.
 */
function checkNodes(
  wid: string,
  specs: ReadonlyMap<string, NodeSpec>,
  members: ReadonlyMap<string, Task>,
): void {
  const keys = new Map<string, string>();
  for (const member of members.values()) if (member.graph?.key) keys.set(member.graph.key, member.id);
  for (const [tid, { graph }] of specs) {
    for (const dependency of graph.dependsOn) {
      if (members.has(dependency) || specs.has(dependency)) continue;
      throw new GraphError(
        `Task ${tid} depends on ${dependency}, which is not a task of workflow ${wid} (add it first, or in the same call)`,
        { problem: 'unknown-dependency', taskId: tid, dependency, workflowId: wid },
      );
    }
    // Outputs are read by key, or by id without one: a key names no other task, by key or id.
    const keyed = keys.get(tid);
    if (keyed !== undefined && keyed !== tid) throw keyIsId(wid, tid, keyed);
    if (graph.key === null) continue;
    const other = keys.get(graph.key);
    if (other !== undefined && other !== tid) {
      throw new GraphError(`Tasks ${other} and ${tid} of workflow ${wid} have the same key ${graph.key}`, {
        problem: 'duplicate-key',
        key: graph.key,
        taskIds: [other, tid],
      });
    }
    if (graph.key !== tid && (members.has(graph.key) || specs.has(graph.key)))
      throw keyIsId(wid, graph.key, tid);
    keys.set(graph.key, tid);
  }
  checkGraph(
    [...specs].map(([id, { graph }]) => ({ id, dependsOn: graph.dependsOn.filter((d) => specs.has(d)) })),
  );
}

/** The refusal of a key (of task `keyedId`) that is the id of another task of the workflow. */
function keyIsId(wid: string, id: string, keyedId: string): GraphError {
  return new GraphError(
    `The key ${id} of task ${keyedId} is the id of another task of workflow ${wid}; a key names one task`,
    { problem: 'duplicate-key', key: id, taskIds: [id, keyedId] },
  );
}

/** The task of the workflow's graph whose key is `name`, other than task `name` itself. */
function keyedAs(workflow: LiveWorkflow, name: string): string | undefined {
  for (const [id, graph] of workflow.graph?.specs ?? []) if (graph.key === name && id !== name) return id;
  return undefined;
}

/**
 * Checks the child workflows new nodes name: each exists, is named by one node of the workflow
 * only, and does not contain the workflow itself, at any depth (pausing or cancelling a workflow
 * does the same to its children: a cycle would never end). Throws WORKFLOW_NOT_FOUND or INVALID_GRAPH.
 */
async function checkChildWorkflows(
  store: WorkflowTrackerEngine['store'],
  wid: string,
  specs: ReadonlyMap<string, NodeSpec>,
  members: ReadonlyMap<string, Task>,
): Promise<void> {
  const named = new Map<string, string>();
  for (const member of members.values()) {
    const childId = member.graph?.workflow?.id;
    if (childId !== null && childId !== undefined) named.set(childId, member.id);
  }
  for (const [tid, { graph }] of specs) {
    const childId = graph.workflow?.id;
    if (childId === undefined || childId === null) continue;
    if (!(await store.workflows.get(childId))) throw new WorkflowNotFoundError(childId);
    const other = named.get(childId);
    if (other !== undefined && other !== tid) {
      throw new GraphError(
        `Tasks ${other} and ${tid} of workflow ${wid} both run child workflow ${childId}`,
        {
          problem: 'duplicate-child',
          workflowId: childId,
          taskIds: [other, tid],
        },
      );
    }
    named.set(childId, tid);
    // Reaching the workflow again from the child is a cycle.
    const parentOf = childId === wid ? new Map([[wid, wid]]) : await childWorkflowTree(store, childId);
    if (parentOf.has(wid)) {
      const cycle = [wid];
      for (let at = parentOf.get(wid)!; at !== wid && at !== childId; at = parentOf.get(at)!)
        cycle.unshift(at);
      if (childId !== wid) cycle.unshift(childId);
      cycle.unshift(wid);
      throw new GraphError(`Workflow ${wid} would run itself: ${cycle.join(' -> ')}`, {
        problem: 'workflow-cycle',
        cycle,
        taskId: tid,
      });
    }
  }
}

/** What the workflow tracker needs of the engine (steering included). */
export type WorkflowTrackerEngine = Pick<
  Runtime,
  'options' | 'store' | 'committer' | 'workflows' | 'door' | 'live' | 'executionOf' | 'graphs' | 'budgets'
> &
  ControlEngine;

/**
 * Workflows: named groups of tasks whose status is derived from theirs (see docs/status-rules.md).
 * @example
 * const workflow = await workflowTracker.createWorkflow({ name: 'Nightly report' });
 * await workflowTracker.addTaskToWorkflow(workflow.id, task.id);
 */
export class WorkflowTracker {
  constructor(private readonly runtime: () => Promise<WorkflowTrackerEngine>) {}

  async createWorkflow(input: CreateWorkflowInput): Promise<Workflow> {
    const fields = expectFields('input', input);
    const name = expectString('name', fields.name);
    const description = expectString('description', fields.description, '');
    const metadata = expectRecord('metadata', fields.metadata);
    const runtime = await this.runtime();
    const limit = runtime.options.maxPayloadBytes;
    const metadataCopy = copyRecord(metadata, 'metadata', limit, ErrorCode.INPUT_NOT_SERIALIZABLE);
    expectMetadataBudget(metadataCopy);
    const now = runtime.options.clock.now();
    const row = runtime.workflows.create({
      id: runtime.options.idGenerator(),
      name,
      description,
      metadata: metadataCopy,
      createdAt: now,
      updatedAt: now,
    });
    await runtime.committer.settle();
    return structuredClone(row);
  }

  async getWorkflow(workflowId: string): Promise<Workflow> {
    const id = expectId('workflowId', workflowId);
    const runtime = await this.runtime();
    await runtime.workflows.get(id);
    await runtime.committer.settle();
    return (await runtime.store.workflows.get(id))!;
  }

  async listWorkflows(query: Query<Workflow> = {}): Promise<Workflow[]> {
    return (await this.runtime()).store.workflows.find(query);
  }

  async getWorkflowStatus(workflowId: string): Promise<WorkflowStatus> {
    return (await this.getWorkflow(workflowId)).status;
  }

  /** The workflow's tasks, in creation order. */
  async getWorkflowTasks(workflowId: string, query: Omit<Query<Task>, 'where'> = {}): Promise<Task[]> {
    const id = expectId('workflowId', workflowId);
    const runtime = await this.runtime();
    await runtime.workflows.get(id);
    return runtime.store.tasks.find({ ...query, where: { workflowId: id } });
  }

  /**
   * Adds a task to a workflow; a task belongs to at most one workflow. With `dependsOn` the task
   * becomes ready only once those tasks (of the same workflow, added before) are done, and with
   * `when` only if its condition holds then (else it ends SKIPPED); `key` names its output for its
   * dependents (docs/workflows.md). Dependencies are set when the task joins, never changed after.
   */
  async addTaskToWorkflow(
    workflowId: string,
    taskId: string,
    options: AddTaskOptions = {},
  ): Promise<Workflow> {
    const wid = expectId('workflowId', workflowId);
    const tid = expectId('taskId', taskId);
    const spec = graphSpecOf(tid, expectFields('options', options) as AddTaskOptions);
    const runtime = await this.runtime();
    const workflow = await runtime.workflows.get(wid);
    if (workflow.row.cancelled)
      throw new InvalidStateError(`Workflow ${wid} is cancelled`, { workflowId: wid });
    if (spec) return this.addNodes(runtime, workflow, new Map([[tid, spec]]));
    const keyed = keyedAs(workflow, tid);
    if (keyed !== undefined) throw keyIsId(wid, tid, keyed);
    // The row as this engine's own writes of the task left it: an execution of the task that
    // started or ended here while it was read makes it read again (its row may be stale).
    for (;;) {
      const joined = await runtime.decideOnStored(
        async (touched) => {
          const live = runtime.executionOf(tid);
          const task = live?.task ?? (await runtime.store.tasks.get(tid));
          if (!live && touched.has(tid)) return false;
          if (!task) throw new TaskNotFoundError(tid);
          if (task.workflowId === wid) return true;
          if (task.workflowId !== null) {
            throw new InvalidArgumentError(`Task ${tid} already belongs to workflow ${task.workflowId}`, {
              details: { taskId: tid, workflowId: task.workflowId },
            });
          }
          runtime.door.join(task, wid);
          if (live) runtime.live.joinWorkflow(live, wid);
          return true;
        },
        [tid],
      );
      if (joined) return this.getWorkflow(wid);
    }
  }

  /**
   * Adds many tasks to a workflow at once, each with its graph options (see `addTaskToWorkflow`); a
   * task may depend on tasks of the workflow or of the same call, in any order, without a cycle.
   * All or nothing: every entry is checked (unknown dependencies, cycles, keys, tasks already in a
   * workflow) before any joins. One read of the workflow's tasks, whatever their number: the way to
   * build a large graph (adding nodes one by one reads the workflow each time).
   */
  async addTasksToWorkflow(
    workflowId: string,
    entries: readonly ({ taskId: string } & AddTaskOptions)[],
  ): Promise<Workflow> {
    const wid = expectId('workflowId', workflowId);
    if (!Array.isArray(entries)) throw new InvalidArgumentError('Expected `entries` to be an array');
    const specs = new Map<string, NodeSpec>();
    for (const [i, entry] of entries.entries()) {
      const { taskId, ...options } = expectFields(`entries[${i}]`, entry) as unknown as {
        taskId: string;
      } & AddTaskOptions;
      const tid = expectId(`entries[${i}].taskId`, taskId);
      if (specs.has(tid)) throw new InvalidArgumentError(`Task ${tid} appears twice in \`entries\``);
      specs.set(tid, graphSpecOf(tid, options) ?? plainSpec());
    }
    const runtime = await this.runtime();
    const workflow = await runtime.workflows.get(wid);
    if (workflow.row.cancelled)
      throw new InvalidStateError(`Workflow ${wid} is cancelled`, { workflowId: wid });
    if (specs.size === 0) return this.getWorkflow(wid);
    return this.addNodes(runtime, workflow, specs);
  }

  /** Adds tasks as nodes of the workflow's graph, keeping the workflow loaded meanwhile. */
  private async addNodes(
    runtime: WorkflowTrackerEngine,
    workflow: LiveWorkflow,
    specs: ReadonlyMap<string, NodeSpec>,
  ): Promise<Workflow> {
    const wid = workflow.row.id;
    // Kept loaded while the nodes are added (no await came between loading it and here).
    const unpin = runtime.workflows.pin(wid);
    try {
      return await this.addPinnedNodes(runtime, workflow, specs);
    } finally {
      unpin();
      runtime.live.unloadIfIdle(wid);
    }
  }

  private async addPinnedNodes(
    runtime: WorkflowTrackerEngine,
    workflow: LiveWorkflow,
    specs: ReadonlyMap<string, NodeSpec>,
  ): Promise<Workflow> {
    const wid = workflow.row.id;
    // The workflow's tasks as this engine's writes leave them: its own staged rows committed first.
    await runtime.committer.settle();
    const members = new Map<string, Task>();
    for (const row of await runtime.store.tasks.find({ where: { workflowId: wid } })) {
      members.set(row.id, runtime.executionOf(row.id)?.task ?? row);
    }
    checkNodes(wid, specs, members);
    for (const { graph } of specs.values()) {
      // A child workflow's definition is stored with the task: held to the payload limit.
      if (graph.workflow?.definition) {
        graph.workflow = copyPayload(
          graph.workflow,
          'workflow',
          runtime.options.maxPayloadBytes,
          ErrorCode.INPUT_NOT_SERIALIZABLE,
        ) as NonNullable<typeof graph.workflow>;
      }
    }
    await checkChildWorkflows(runtime.store, wid, specs, members);
    const ids = [...specs.keys()];
    const added = await runtime.decideOnStored(async (touched) => {
      const rows = new Map((await runtime.store.tasks.getMany(ids)).map((row) => [row.id, row]));
      const tasks: Task[] = [];
      for (const tid of ids) {
        const live = runtime.executionOf(tid);
        const task = live?.task ?? rows.get(tid);
        if (!live && touched.has(tid)) return null;
        if (!task) throw new TaskNotFoundError(tid);
        if (task.workflowId !== null) {
          throw new InvalidStateError(
            task.workflowId === wid
              ? `Task ${tid} is in workflow ${wid} already; its dependencies are set when it joins`
              : `Task ${tid} already belongs to workflow ${task.workflowId}`,
            { taskId: tid, workflowId: task.workflowId },
          );
        }
        tasks.push(task);
      }
      for (const task of tasks) {
        const spec = specs.get(task.id)!;
        task.graph = isPlainGraph(spec.graph) ? null : spec.graph;
        runtime.door.join(task, wid);
        const live = runtime.executionOf(task.id);
        if (live) runtime.live.joinWorkflow(live, wid);
      }
      return tasks;
    }, ids);
    if (added === null) return this.addPinnedNodes(runtime, workflow, specs);
    if (!workflow.graph) runtime.workflows.addNodes(workflow, [...members.values()]);
    for (const [tid, spec] of specs) {
      if (spec.condition) runtime.graphs.functions.set('conditions', tid, spec.condition);
      if (spec.list) runtime.graphs.functions.set('lists', tid, spec.list);
      if (spec.until) runtime.graphs.functions.set('untils', tid, spec.until);
    }
    runtime.workflows.addNodes(workflow, added);
    return this.getWorkflow(wid);
  }

  async updateWorkflowMetadata(workflowId: string, metadata: Record<string, unknown>): Promise<Workflow> {
    const id = expectId('workflowId', workflowId);
    const patch = expectRecord('metadata', metadata);
    const runtime = await this.runtime();
    const workflow = await runtime.workflows.get(id);
    const merged = mergePayload(
      workflow.row.metadata,
      patch,
      'metadata',
      runtime.options.maxPayloadBytes,
      ErrorCode.INPUT_NOT_SERIALIZABLE,
    );
    if (Object.hasOwn(patch, BUDGET_METADATA_KEY)) expectMetadataBudget(merged);
    workflow.row.metadata = merged;
    workflow.row.updatedAt = runtime.options.clock.now();
    runtime.committer.stageWorkflow(workflow.row);
    runtime.budgets.metadataChanged(id, merged);
    return this.getWorkflow(id);
  }

  /**
   * Pauses a workflow: its waiting tasks start no attempt until `resumeWorkflow`; running ones
   * finish. Engines in other processes on the same store follow within their `controlPollMs`.
   */
  async pauseWorkflow(workflowId: string): Promise<Workflow> {
    return this.command(workflowId, 'PAUSE');
  }

  async resumeWorkflow(workflowId: string): Promise<Workflow> {
    return this.command(workflowId, 'RESUME');
  }

  /** Cancels a workflow and every unfinished task in it; running attempts are aborted. */
  async cancelWorkflow(workflowId: string): Promise<Workflow> {
    return this.command(workflowId, 'CANCEL');
  }

  /**
   * Pauses, resumes or cancels a workflow (as `pauseWorkflow`, `resumeWorkflow`, `cancelWorkflow`)
   * and says whether the engine running it in another process on the store applied it (that
   * engine goes on with the workflow; the caller need not run it).
   */
  async steerWorkflow(
    workflowId: string,
    type: WorkflowCommand,
  ): Promise<{ workflow: Workflow; appliedElsewhere: boolean }> {
    const id = expectId('workflowId', workflowId);
    if (type !== 'PAUSE' && type !== 'RESUME' && type !== 'CANCEL')
      throw new InvalidArgumentError(
        `Expected \`type\` to be PAUSE, RESUME or CANCEL, got ${JSON.stringify(type)}`,
      );
    const { appliedElsewhere } = await steerWorkflow(await this.runtime(), id, type);
    return { workflow: await this.getWorkflow(id), appliedElsewhere };
  }

  private async command(workflowId: string, type: WorkflowCommand): Promise<Workflow> {
    const id = expectId('workflowId', workflowId);
    await applyWorkflowCommand(await this.runtime(), id, type);
    return this.getWorkflow(id);
  }
}
