import { readFile } from 'node:fs/promises';
import { dirname, extname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { GraphError } from '../../errors/errors.js';
import { SymphonyError } from '../../errors/symphony-error.js';
import { compileCondition, compileList } from '../../graph/condition.js';
import { isBoundedName, isTaskKey, NAME_WORDS } from '../../graph/names.js';
import { checkGraph, describeCycle } from '../../graph/validate.js';
import { CliUsageError } from '../cli-error.js';
import { expectations, expectedMessage } from './expected.js';
import { describeIssue, describeValue, type Issue } from './issues.js';
import { policyProblems } from './policies.js';
import { scheduleProblems } from './schedule.js';
import { keyProblems } from './keys.js';
import {
  definitionTaskSchema,
  taskSchema,
  workflowFileSchema,
  type WorkflowFile,
  type WorkflowFileDefinitionTask,
  type WorkflowFileTask,
} from './schema.js';
import { childPolicyProblems, TASK_POLICY_FIELDS, taskPolicyProblems } from './task-policies.js';
import { timeLimitProblems } from './time-limits.js';

/**
 * A task as the loader gives it: as written, with its place in the graph always present (still a
 * `WorkflowFileTask`, so code written for those takes it).
 */
export type LoadedWorkflowTask = Omit<WorkflowFileTask, 'workflow'> & {
  /** Its key; undefined: none (no task can depend on it). Always set in a definition. */
  key: string | undefined;
  /** Keys of the tasks it depends on, as written, each once; [] when none. */
  dependsOn: string[];
  /** Its CEL condition, which compiles; undefined: none. */
  when: string | undefined;
  /** Its fan-out's CEL list, which compiles to a list; undefined: not a fan-out. */
  forEach: string | undefined;
  /** Its child workflow; undefined: none. */
  workflow: LoadedChild | undefined;
};

/** A child workflow written in place: its tasks' agents are those of the file around it. */
export interface LoadedDefinition {
  name: string;
  description: string | undefined;
  /** Its tasks, each with its key; the name defaults to the key. */
  tasks: LoadedWorkflowTask[];
}

/**
 * A task's child workflow: a definition written in place, or another workflow file (`path`, as
 * written, relative to the file that names it) whose tasks are the definition and whose agents
 * section gives their agents.
 */
export type LoadedChild =
  | { definition: LoadedDefinition; path?: undefined }
  | {
      path: string;
      /** The file's absolute path; null until `loadWorkflowFile` read it (`validateWorkflowFile` does not). */
      resolved: string | null;
      /** The file, checked; null until read. */
      file: LoadedWorkflowFile | null;
    };

/** A checked workflow file whose tasks carry `key`, `dependsOn`, `when`, `forEach` and `workflow`. */
export type LoadedWorkflowFile = Omit<WorkflowFile, 'tasks'> & { tasks: LoadedWorkflowTask[] };

/** The name, description and tasks of a loaded child (a file's once read). */
export function childDefinition(child: LoadedChild): LoadedDefinition {
  if (child.path === undefined) return child.definition;
  if (child.file === null) throw new Error(`Workflow file ${child.path} was not read`);
  return { name: child.file.name, description: child.file.description, tasks: child.file.tasks };
}

/** Line and column (from 1) of a character offset. */
function lineAndColumn(text: string, offset: number): { line: number; col: number } {
  const before = text.slice(0, Math.max(0, offset)).split('\n');
  return { line: before.length, col: before.at(-1)!.length + 1 };
}

/** The line of `at` and a caret under its column, indented, tabs shown as spaces. */
function codeFrame(text: string, at: { line: number; col: number }): string {
  const line = (text.split(/\r?\n/)[at.line - 1] ?? '').replace(/\t/g, ' ');
  return `  ${truncateLine(line, 100)}\n  ${' '.repeat(Math.min(at.col - 1, 100))}^`;
}

const truncateLine = (line: string, width: number) =>
  line.length <= width ? line : `${line.slice(0, width)}…`;

/** Parses JSON (`.json`) or YAML (anything else; YAML also reads JSON). */
export function parseWorkflowText(text: string, file: string): unknown {
  if (extname(file).toLowerCase() === '.json') {
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      throw new CliUsageError(`${file}: not valid JSON: ${(error as Error).message}`);
    }
  }
  const document = parseDocument(text, { prettyErrors: false });
  const [first] = document.errors;
  if (first) {
    const at = first.linePos?.[0] ?? lineAndColumn(text, first.pos[0]);
    const more = document.errors.length - 1;
    throw new CliUsageError(
      `${file}:${at.line}:${at.col}: not valid YAML at line ${at.line}, column ${at.col}: ${first.message}` +
        `${more > 0 ? ` (and ${more} more error${more === 1 ? '' : 's'})` : ''}\n${codeFrame(text, at)}`,
    );
  }
  return document.toJS() as unknown;
}

/**
 * The problems of a file's graph, one line each with its path: duplicate keys, dependencies on
 * unknown keys, on the task itself or listed twice, a `when` or `forEach` without `dependsOn` or
 * that does not compile (a `forEach` must give a list), a task that is more than one of a fan-out,
 * a sleep, a loop, a wait and a child workflow (a loop with a child workflow is a loop over a group
 * of tasks), a loop without a key or whose `until` does not compile, a signal named twice in a
 * `waitFor`, and a dependency cycle (named by keys); the same inside each child workflow written in
 * place (`tasks[i].workflow.definition.tasks[j]...`), with its own keys.
 */
export function graphProblems(
  tasks: ReadonlyArray<WorkflowFileTask | WorkflowFileDefinitionTask>,
  at = 'tasks',
): string[] {
  const problems: string[] = [];
  const scope = at === 'tasks' ? 'file' : 'definition';
  const indexOfKey = new Map<string, number>();
  tasks.forEach((task, index) => {
    if (task.key === undefined) return;
    const first = indexOfKey.get(task.key);
    if (first === undefined) indexOfKey.set(task.key, index);
    else
      problems.push(
        `${at}[${index}].key: duplicate key ${JSON.stringify(task.key)} (also ${at}[${first}].key)`,
      );
  });
  // Nodes for the cycle check: ids are keys; a task without key (or a repeated key) gets `#index`,
  // which no key can be; only known, distinct, other keys are kept as dependencies.
  const nodes = tasks.map((task, index) => {
    const id = task.key !== undefined && indexOfKey.get(task.key) === index ? task.key : `#${index}`;
    const dependsOn: string[] = [];
    (task.dependsOn ?? []).forEach((dependency, i) => {
      const where = `${at}[${index}].dependsOn[${i}]`;
      const shown = JSON.stringify(dependency);
      if (!indexOfKey.has(dependency)) {
        problems.push(`${where}: unknown key ${shown}; expected the key of another task of the ${scope}`);
      } else if (dependency === task.key) {
        problems.push(`${where}: ${shown} is the task's own key; a task cannot depend on itself`);
      } else if (dependsOn.includes(dependency)) {
        problems.push(`${where}: ${shown} is listed twice`);
      } else {
        dependsOn.push(dependency);
      }
    });
    const expressions = [
      ['when', task.when, compileCondition],
      ['forEach', task.forEach, compileList],
    ] as const;
    for (const [field, expression, compile] of expressions) {
      if (expression === undefined) continue;
      if ((task.dependsOn ?? []).length === 0) {
        problems.push(`${at}[${index}].${field}: only allowed on a task with dependsOn`);
        continue;
      }
      try {
        compile(expression);
      } catch (error) {
        if (!SymphonyError.isInstance(error)) throw error;
        problems.push(`${at}[${index}].${field}: ${error.message}`);
      }
    }
    problems.push(...nodeKindProblems(task, `${at}[${index}]`));
    const child = task.workflow;
    if (typeof child === 'object') {
      problems.push(...graphProblems(child.definition.tasks, `${at}[${index}].workflow.definition.tasks`));
    }
    return { id, dependsOn };
  });
  try {
    checkGraph(nodes);
  } catch (error) {
    if (!GraphError.isInstance(error) || error.details.problem !== 'cycle') throw error;
    const cycle = error.details.cycle as string[];
    problems.push(`${at}[${indexOfKey.get(cycle[0]!)}].dependsOn: dependency cycle: ${describeCycle(cycle)}`);
  }
  return problems;
}

/** What each kind of node does, for "a task cannot both ... and ...". */
const NODE_KINDS = {
  forEach: 'fan out (forEach)',
  sleep: 'sleep',
  loop: 'loop',
  waitFor: 'wait for a signal (waitFor)',
  workflow: 'run a child workflow (workflow)',
} as const;

/**
 * The problems of a task's kind: more than one of forEach, sleep, loop, waitFor and workflow (but
 * loop with workflow: a loop over a group of tasks); a loop without a key or whose `until` does not
 * compile; a signal named twice in a `waitFor`. `at` is the task's path (`tasks[2]`).
 */
function nodeKindProblems(task: WorkflowFileTask | WorkflowFileDefinitionTask, at: string): string[] {
  const problems: string[] = [];
  const kinds = (Object.keys(NODE_KINDS) as Array<keyof typeof NODE_KINDS>).filter(
    (kind) => task[kind] !== undefined,
  );
  const groupLoop = kinds.length === 2 && kinds[0] === 'loop' && kinds[1] === 'workflow';
  if (kinds.length > 1 && !groupLoop) {
    const doing = kinds.map((kind) => NODE_KINDS[kind]);
    const both = kinds.length === 2 ? 'both ' : '';
    problems.push(
      `${at}.${kinds[1]}: a task cannot ${both}${doing.slice(0, -1).join(', ')} and ${doing.at(-1)}; it is at most one of them`,
    );
  }
  if (task.loop !== undefined) {
    if (task.key === undefined) {
      problems.push(
        `${at}.loop: a loop needs a key: its until reads the latest iteration's output as outputs.<key>`,
      );
    }
    try {
      compileCondition(task.loop.until);
    } catch (error) {
      if (!SymphonyError.isInstance(error)) throw error;
      problems.push(`${at}.loop.until: ${error.message}`);
    }
  }
  if (task.waitFor !== undefined) {
    const given =
      typeof task.waitFor === 'object' && !Array.isArray(task.waitFor) ? task.waitFor.signals : task.waitFor;
    const names = typeof given === 'string' ? [] : given;
    const where = given === task.waitFor ? `${at}.waitFor` : `${at}.waitFor.signals`;
    names.forEach((name, i) => {
      if (names.indexOf(name) !== i) problems.push(`${where}[${i}]: ${JSON.stringify(name)} is listed twice`);
    });
  }
  return problems;
}

function invalid(file: string, lines: readonly string[]): CliUsageError {
  const body = lines.length === 1 ? ` ${lines[0]}` : `\n${lines.map((line) => `  ${line}`).join('\n')}`;
  return new CliUsageError(`${file}: invalid workflow file:${body}`);
}

/**
 * The problems of a parsed workflow file: of its shape, else of its graph; and the file as loaded
 * once it has the right shape (null: it has not).
 */
function checkWorkflowFile(data: unknown): { problems: string[]; spec: LoadedWorkflowFile | null } {
  const result = workflowFileSchema.safeParse(data, { reportInput: true });
  if (!result.success) {
    return {
      problems: result.error.issues.flatMap((issue) => describeIssue(issue as Issue).split('\n')),
      spec: null,
    };
  }
  const problems = [
    ...timeLimitProblems(result.data),
    ...policyProblems(result.data),
    ...taskPolicyProblems(result.data),
    ...graphProblems(result.data.tasks),
    ...scheduleProblems(result.data.schedule),
    ...keyProblems(result.data),
  ];
  return { problems, spec: { ...result.data, tasks: result.data.tasks.map(loadedTask) } };
}

/** A task as the loader gives it (a definition's task named by its key when it has no name). */
function loadedTask(task: WorkflowFileTask | WorkflowFileDefinitionTask): LoadedWorkflowTask {
  const { workflow, ...rest } = task;
  let child: LoadedChild | undefined;
  if (typeof workflow === 'string') child = { path: workflow, resolved: null, file: null };
  else if (workflow !== undefined) {
    const { name, description, tasks } = workflow.definition;
    child = { definition: { name, description, tasks: tasks.map(loadedTask) } };
  }
  return {
    ...rest,
    name: task.name ?? task.key!,
    key: task.key,
    dependsOn: task.dependsOn ?? [],
    when: task.when,
    forEach: task.forEach,
    workflow: child,
  };
}

/**
 * Checks a parsed workflow file; the error lists every problem with its field path (the graph's
 * problems once the file has the right shape). Each task comes back with `key`, `dependsOn`, `when`,
 * `forEach` and `workflow` (undefined, [], undefined, undefined and undefined when not given); a
 * child workflow named by path is not read here (`loadWorkflowFile` reads it).
 */
export function validateWorkflowFile(data: unknown, file: string): LoadedWorkflowFile {
  const { problems, spec } = checkWorkflowFile(data);
  if (problems.length > 0 || spec === null) throw invalid(file, problems);
  return spec;
}

/** Reads and parses a workflow file (CLI_USAGE when it cannot be read or parsed). */
async function readWorkflowData(file: string, shownAs: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EISDIR') {
      throw new CliUsageError(`${shownAs}: expected a workflow file (.json, .yaml or .yml), got a directory`);
    }
    const reason = code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw new CliUsageError(`${shownAs}: cannot read the workflow file: ${reason}`);
  }
  return parseWorkflowText(text, shownAs);
}

/**
 * The tasks of a child workflow file without a key: its tasks are a child workflow's definition,
 * whose tasks each need one (`definitionOf` in src/graph/node-options.ts refuses the run
 * otherwise), as a definition written in place does (its schema's `key`, whose words say why).
 */
function childKeyProblems(tasks: readonly LoadedWorkflowTask[]): string[] {
  const rule = expectations.get(definitionTaskSchema.shape.key)!;
  return tasks.flatMap((task, index) =>
    isTaskKey(task.key)
      ? []
      : [`tasks[${index}].key: ${expectedMessage(rule, describeValue(task.key), task.key === undefined)}`],
  );
}

/** The fields of a file's task that a definition's task has not, its own policies aside. */
const NOT_IN_DEFINITIONS = Object.keys(taskSchema.shape).filter(
  (field) =>
    !(field in definitionTaskSchema.shape) && !(TASK_POLICY_FIELDS as readonly string[]).includes(field),
) as Array<keyof WorkflowFileTask>;

/**
 * The problems of a child workflow file that its definition cannot hold: a name longer than a
 * child workflow's (`definitionOf` refuses the run otherwise), and a field of its tasks that a
 * definition's task does not have (`metadata`: dropped otherwise). Its tasks' own policies are
 * `childPolicyProblems`'.
 */
function childDefinitionProblems(file: LoadedWorkflowFile): string[] {
  const problems = isBoundedName(file.name)
    ? []
    : [`name: expected ${NAME_WORDS}, got ${describeValue(file.name)}; it names the child workflow`];
  file.tasks.forEach((task, index) => {
    for (const field of NOT_IN_DEFINITIONS) {
      if (task[field] !== undefined)
        problems.push(
          `tasks[${index}].${field}: a child workflow's tasks have no ${field} (its definition stores none for them); put what the agent reads in inputData`,
        );
    }
  });
  return problems;
}

/** A file on the way from the file run to a child file: its absolute path and how it is shown. */
interface FileStep {
  path: string;
  shownAs: string;
}

/**
 * Reads the workflow files the tasks name as child workflows (`workflow: <path>`, relative to the
 * file naming it), at any depth, and returns their problems, each prefixed with the path of the
 * task naming the file: a file that cannot be read or parsed, its own problems, and a cycle of
 * files. A file named twice is read once.
 */
async function readChildren(
  tasks: readonly LoadedWorkflowTask[],
  at: string,
  chain: readonly FileStep[],
  read: Map<string, Promise<{ problems: string[]; spec: LoadedWorkflowFile | null }>>,
): Promise<string[]> {
  const problems: string[] = [];
  const here = chain.at(-1)!;
  for (const [index, task] of tasks.entries()) {
    const child = task.workflow;
    const where = `${at}[${index}].workflow`;
    if (child === undefined) continue;
    if (child.path === undefined) {
      problems.push(
        ...(await readChildren(child.definition.tasks, `${where}.definition.tasks`, chain, read)),
      );
      continue;
    }
    const path = resolve(dirname(here.path), child.path);
    const step = { path, shownAs: child.path };
    const repeated = chain.findIndex((file) => file.path === path);
    if (repeated !== -1) {
      const cycle = [...chain.slice(repeated), step].map((file) => file.shownAs).join(' -> ');
      problems.push(`${where}: ${child.path} makes a cycle of workflow files: ${cycle}`);
      continue;
    }
    let loading = read.get(path);
    if (loading === undefined) {
      loading = readWorkflowData(path, child.path).then(checkWorkflowFile, (error: unknown) => {
        if (!(error instanceof CliUsageError)) throw error;
        const lines = error.message.split('\n').map((line, i) => (i === 0 ? line : `  ${line}`));
        return { problems: lines, spec: null };
      });
      read.set(path, loading);
    }
    const checked = await loading;
    // Problems of its own (not read, not parsed: the message names the file already).
    const named = checked.problems[0]?.startsWith(`${child.path}:`) === true;
    problems.push(...checked.problems.map((line) => `${where}: ${named ? '' : `${child.path}: `}${line}`));
    if (checked.spec === null) continue;
    child.resolved = path;
    child.file = structuredClone(checked.spec);
    problems.push(
      ...[
        ...childKeyProblems(child.file.tasks),
        ...childDefinitionProblems(child.file),
        ...childPolicyProblems(child.file.tasks),
      ].map((line) => `${where}: ${child.path}: ${line}`),
    );
    problems.push(
      ...(await readChildren(child.file.tasks, `${where}: ${child.path}: tasks`, [...chain, step], read)),
    );
  }
  return problems;
}

/**
 * Reads, parses and validates a workflow file, and the workflow files its tasks name as child
 * workflows (`workflow: <path>`): every problem at once, with its path.
 */
export async function loadWorkflowFile(file: string, shownAs: string = file): Promise<LoadedWorkflowFile> {
  const { problems, spec } = checkWorkflowFile(await readWorkflowData(file, shownAs));
  if (spec === null) throw invalid(shownAs, problems);
  problems.push(...(await readChildren(spec.tasks, 'tasks', [{ path: resolve(file), shownAs }], new Map())));
  if (problems.length > 0) throw invalid(shownAs, problems);
  return spec;
}
