import { dirname } from 'node:path';
import type { ServiceRegistry, Task } from '../index.js';
import { childDefinition, type LoadedWorkflowFile, type LoadedWorkflowTask } from './workflow-file/load.js';

/**
 * A workflow file whose tasks this run may run: the file run (`where` ''), or a file a task names as
 * its child workflow (`where`: the path of that task, then the file as written).
 */
export interface RunFile {
  spec: LoadedWorkflowFile;
  /** Where it is named, for messages: '' for the file run, else `tasks[1].workflow: ./child.yaml`. */
  where: string;
  /** The directory its paths are relative to. */
  dir: string;
  /** The agents module its agent types come from, as written, and the directory it is relative to. */
  module: { path: string; dir: string; field: string } | undefined;
}

/** A task written in a child workflow's definition, and the file whose agents run it. */
export interface ChildEntry {
  task: LoadedWorkflowTask;
  /** The position of its file in `runFiles(...)`. */
  file: number;
  /** Its path, for messages: `tasks[1].workflow.definition.tasks[0]`. */
  where: string;
}

/** The child workflow files of a file, at any depth, after the file itself (each naming once). */
export function runFiles(spec: LoadedWorkflowFile, path: string): RunFile[] {
  const files: RunFile[] = [];
  const add = (file: LoadedWorkflowFile, where: string, dir: string, inherited: RunFile['module']) => {
    const own = file.agents.module;
    const module =
      own === undefined
        ? inherited
        : { path: own, dir, field: `${where === '' ? '' : `${where}: `}agents.module` };
    files.push({ spec: file, where, dir, module });
    walk(file.tasks, where === '' ? 'tasks' : `${where}: tasks`, module);
  };
  const walk = (tasks: readonly LoadedWorkflowTask[], at: string, module: RunFile['module']) => {
    tasks.forEach((task, index) => {
      const child = task.workflow;
      if (child === undefined) return;
      const where = `${at}[${index}].workflow`;
      if (child.path === undefined) walk(child.definition.tasks, `${where}.definition.tasks`, module);
      else add(child.file!, `${where}: ${child.path}`, dirname(child.resolved!), module);
    });
  };
  add(spec, '', dirname(path), undefined);
  return files;
}

/**
 * Every task of the child workflows of a file's tasks (at any depth), with the file whose agents
 * run it: the file it is written in (a child file's tasks, that file's).
 */
export function childEntries(files: readonly RunFile[]): ChildEntry[] {
  const entries: ChildEntry[] = [];
  const fileOf = new Map(files.map((file, index) => [file.spec, index]));
  const walk = (tasks: readonly LoadedWorkflowTask[], at: string, file: number, top: boolean) => {
    tasks.forEach((task, index) => {
      const where = `${at}[${index}]`;
      if (!top) entries.push({ task, file, where });
      const child = task.workflow;
      if (child === undefined) return;
      if (child.path === undefined)
        walk(child.definition.tasks, `${where}.workflow.definition.tasks`, file, false);
      else
        walk(child.file!.tasks, `${where}.workflow: ${child.path}: tasks`, fileOf.get(child.file!)!, false);
    });
  };
  walk(files[0]!.spec.tasks, 'tasks', 0, true);
  return entries;
}

/** Whether a task's agent ever runs (a sleep, a wait or a child workflow runs none). */
export function runsAgent(task: LoadedWorkflowTask): boolean {
  return task.sleep === undefined && task.waitFor === undefined && task.workflow === undefined;
}

/**
 * A task as routing sees it, for an entry of a definition before its workflow is made: its name,
 * description, tags, priority and inputData (with `query`). Not stored.
 */
export function routingSubject(entry: ChildEntry): Task {
  const { task } = entry;
  return {
    id: entry.where,
    name: task.name,
    description: task.description ?? '',
    inputData: { ...task.inputData, ...(task.query === undefined ? {} : { query: task.query }) },
    outputData: null,
    tags: task.tags ?? [],
    priority: task.priority ?? 0,
    status: 'PENDING',
    attempts: 0,
    errors: [],
    workflowId: null,
    agentId: null,
    idempotencyKey: null,
    metadata: {},
    createdAt: 0,
    updatedAt: 0,
    startedAt: null,
    finishedAt: null,
    runAfter: null,
    execution: null,
    leaseOwner: null,
    leaseExpiresAt: null,
    graph: null,
  };
}

/**
 * Finds the definition entry a task of a child workflow was made from, by walking up from its
 * workflow to the node that made it (`metadata.parentTaskId`; a group loop's iteration to its loop)
 * and down the definitions by key. `top` gives the file's entry of a task of the workflow run.
 */
export function childEntryFinder(
  registry: ServiceRegistry,
  workflowId: string,
  top: ReadonlyMap<string, { task: LoadedWorkflowTask; file: number }>,
  files: readonly RunFile[],
): (task: Readonly<Task>) => Promise<{ task: LoadedWorkflowTask; file: number } | undefined> {
  const fileOf = new Map(files.map((file, index) => [file.spec, index]));
  const found = new Map<string, Promise<{ task: LoadedWorkflowTask; file: number } | undefined>>();
  const find = async (
    task: Readonly<Task>,
  ): Promise<{ task: LoadedWorkflowTask; file: number } | undefined> => {
    if (task.workflowId === workflowId) return top.get(task.id);
    if (task.workflowId === null) return undefined;
    const workflow = await registry.getWorkflowTracker().getWorkflow(task.workflowId);
    const parentId = workflow.metadata.parentTaskId;
    if (typeof parentId !== 'string') return undefined;
    const tasks = registry.getTaskManager();
    let node = await tasks.getTask(parentId);
    // A group loop's iteration makes the loop's definition anew.
    const loop = node.graph?.item?.of;
    if (loop !== undefined) node = await tasks.getTask(loop);
    const parent = await entryOf(node);
    const child = parent?.task.workflow;
    if (parent === undefined || child === undefined) return undefined;
    const entry = childDefinition(child).tasks.find((defined) => defined.key === task.graph?.key);
    if (entry === undefined) return undefined;
    return { task: entry, file: child.path === undefined ? parent.file : fileOf.get(child.file!)! };
  };
  const entryOf = (task: Readonly<Task>) => {
    let entry = found.get(task.id);
    if (entry === undefined) found.set(task.id, (entry = find(task)));
    return entry;
  };
  return entryOf;
}
