import { dirname } from 'node:path';
import { newTask } from '../domain/new-task.js';
import { INITIAL_TASK_STATUS } from '../engine/task-door.js';
import type { ServiceRegistry, Task } from '../index.js';
import type { ChildAgents } from './run-record.js';
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
  const fields = newTask(
    {
      id: entry.where,
      name: task.name,
      workflowId: null,
      description: task.description ?? '',
      inputData: { ...task.inputData, ...(task.query === undefined ? {} : { query: task.query }) },
      tags: task.tags ?? [],
      priority: task.priority ?? 0,
    },
    0,
  );
  return { ...fields, status: INITIAL_TASK_STATUS };
}

/**
 * The run record's `childAgents`: for each task of the file run that runs a child workflow written
 * as a definition (or a child file), by its task id in `ids` (the file's order), the agent config
 * `configOf` gives each entry of that definition, down nested definitions by key.
 */
export function childAgentsOf(
  tasks: readonly LoadedWorkflowTask[],
  ids: readonly string[],
  configOf: ReadonlyMap<LoadedWorkflowTask, string>,
): Record<string, ChildAgents> {
  const agentsOf = (defined: readonly LoadedWorkflowTask[]): ChildAgents =>
    Object.fromEntries(
      defined.flatMap((task): Array<[string, string | ChildAgents]> => {
        if (task.key === undefined) return [];
        if (task.workflow !== undefined) return [[task.key, agentsOf(childDefinition(task.workflow).tasks)]];
        const configId = configOf.get(task);
        return configId === undefined ? [] : [[task.key, configId]];
      }),
    );
  return Object.fromEntries(
    tasks.flatMap((task, index) =>
      task.workflow === undefined ? [] : [[ids[index]!, agentsOf(childDefinition(task.workflow).tasks)]],
    ),
  );
}

/** `map[key]` when it is its own field (a key may be `__proto__`). */
function own(map: ChildAgents, key: string | null | undefined): string | ChildAgents | undefined {
  return typeof key === 'string' && Object.hasOwn(map, key) ? map[key] : undefined;
}

/**
 * Finds the agent config of a task of a child workflow (or of an item or iteration such a task
 * made) in the run record's `childAgents`: up from its workflow to the task that made it
 * (`metadata.parentTaskId`; a group loop's iteration to its loop) until a task of the workflow
 * run, then down by keys. Undefined for a task of the workflow run itself, or one the record does
 * not name.
 */
export function childConfigFinder(
  registry: ServiceRegistry,
  workflowId: string,
  childAgents: Readonly<Record<string, ChildAgents>>,
): (task: Readonly<Task>) => Promise<string | undefined> {
  const tasks = registry.getTaskManager();
  const makerOf = async (task: Readonly<Task>): Promise<Readonly<Task>> => {
    const maker = task.graph?.item?.of;
    return maker === undefined || maker === null ? task : tasks.getTask(maker);
  };
  const maps = new Map<string, Promise<ChildAgents | undefined>>();
  const mapOf = (childId: string): Promise<ChildAgents | undefined> => {
    let map = maps.get(childId);
    if (map === undefined) maps.set(childId, (map = find(childId)));
    return map;
  };
  const find = async (childId: string): Promise<ChildAgents | undefined> => {
    const workflow = await registry.getWorkflowTracker().getWorkflow(childId);
    const parentId = workflow.metadata.parentTaskId;
    if (typeof parentId !== 'string') return undefined;
    const node = await makerOf(await tasks.getTask(parentId));
    let found: string | ChildAgents | undefined;
    if (node.workflowId === workflowId) {
      found = Object.hasOwn(childAgents, node.id) ? childAgents[node.id] : undefined;
    } else if (node.workflowId !== null) {
      const above = await mapOf(node.workflowId);
      found = above === undefined ? undefined : own(above, node.graph?.key);
    }
    return typeof found === 'object' ? found : undefined;
  };
  return async (task) => {
    const maker = await makerOf(task);
    if (maker.workflowId === null || maker.workflowId === workflowId) return undefined;
    const map = await mapOf(maker.workflowId);
    const configId = map === undefined ? undefined : own(map, maker.graph?.key);
    return typeof configId === 'string' ? configId : undefined;
  };
}
