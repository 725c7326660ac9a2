import type { DefinedTask, TaskGraph, WorkflowDefinition } from '../domain/task.js';
import type { CodeCondition, CodeList } from '../engine/workflows.js';
import { ConditionError, GraphError, InvalidArgumentError } from '../errors/errors.js';
import { expectId } from '../services/validate.js';
import { compileCondition, compileList } from './condition.js';
import { compensationOf } from './compensation.js';
import { DEFINITION_KEY_REASON, isBoundedName, isTaskKey, NAME_WORDS, TASK_KEY_WORDS } from './names.js';
import { checkGraph } from './validate.js';

/** Where a task goes in its workflow's graph (see `addTaskToWorkflow`). */
export interface AddTaskOptions {
  /** Ids of tasks of the workflow that must be done (COMPLETED or SKIPPED) before this one runs. */
  dependsOn?: readonly string[];
  /**
   * Runs the task only if this holds once its dependencies are done (else it ends SKIPPED): a CEL
   * expression over `outputs` (the dependencies' outputs by key or id) and `input` (its inputData),
   * stored with the task; or a function of the outputs, held by this engine only.
   */
  when?: string | CodeCondition;
  /** The name its dependents read its output under (`context.dependencies`, `outputs` in CEL). */
  key?: string;
  /**
   * Makes it a fan-out: once its dependencies are done (and its condition holds), this list (a CEL
   * expression over `outputs` and `input`, or a function of the outputs) gives one new task per item
   * (`inputData.item`, `inputData.index`), run like any node; the fan-out completes with their
   * outputs in order, and its dependents wait for that (docs/workflows.md).
   */
  forEach?: string | CodeList;
  /**
   * Makes it a durable sleep: once its dependencies are done (and its condition holds) it waits this
   * many milliseconds, or until this time (epoch ms or a Date), and completes unrun with
   * `{ sleptUntil }`; the due time is stored, so a restart keeps it (docs/workflows.md).
   */
  sleep?: { ms: number } | { until: number | Date };
  /**
   * Makes it a loop: once its dependencies are done (and its condition holds) its agent runs as
   * iteration 0, 1, ... (new tasks, `inputData.iteration` and `inputData.previous`, the output
   * before) until `until` holds over `outputs` (its own key or id giving the latest iteration's
   * output); then it completes with that output. Reaching `maxIterations` without `until` holding
   * fails it with LOOP_LIMIT_EXCEEDED; a retry grants as many more (docs/workflows.md).
   */
  loop?: { until: string | CodeCondition; maxIterations: number };
  /**
   * Makes it a wait: once its dependencies are done (and its condition holds) it completes unrun
   * with the first signal sent to its workflow under one of these names (`registry.signal`), sent
   * before or after it began to wait, as `{ signal, payload, sentAt }`; `timeoutMs` fails it with
   * WAIT_TIMED_OUT when none came in time (docs/workflows.md).
   */
  waitFor?: string | readonly string[] | { signals: string | readonly string[]; timeoutMs?: number };
  /**
   * Makes it a child workflow: once its dependencies are done (and its condition holds) the
   * workflow's run (`executeWorkflow`) runs this workflow (by id, built beforehand) with the same
   * options, and the task completes unrun with `{ workflowId, status, outputs }` (its tasks' outputs
   * by key or id); a child that fails or is cancelled fails the task CHILD_WORKFLOW_FAILED. Pausing,
   * resuming or cancelling the parent does the same to the child (docs/workflows.md).
   */
  workflow?: string | { id: string } | { definition: WorkflowDefinitionInput };
  /**
   * Its compensating task: if the workflow fails after this task completed, a task of this `name`
   * joins the workflow and runs (routed by `tags`, default this task's tags) with `input` and
   * `compensated: { taskId, input, output }`; compensations run one at a time in reverse order of
   * completion (docs/policies.md, "Compensation (sagas)").
   */
  compensate?: CompensateOption;
}

/** A task's compensating task (see `AddTaskOptions.compensate`). */
export interface CompensateOption {
  name: string;
  tags?: readonly string[];
  input?: Record<string, unknown>;
}

/**
 * A child workflow given by definition: made when its node is reached. Its tasks name their
 * dependencies by key; conditions, lists and loop conditions are CEL (functions are not stored).
 * Each task's inputData gets `parent`: the parent node's inputData (for a loop's iteration, with
 * `iteration` and `previous`).
 */
export interface WorkflowDefinitionInput {
  name: string;
  description?: string;
  tasks: ReadonlyArray<
    {
      key: string;
      name?: string;
      description?: string;
      inputData?: Record<string, unknown>;
      priority?: number;
      tags?: readonly string[];
    } & Omit<AddTaskOptions, 'key'>
  >;
}

/** A node's stored graph, and the functions given in code for it (held by this engine only). */
export interface NodeSpec {
  graph: TaskGraph;
  condition: CodeCondition | null;
  list: CodeList | null;
  until: CodeCondition | null;
}

/** A node with no graph options. */
export function plainSpec(): NodeSpec {
  return { graph: { dependsOn: [], key: null, when: null }, condition: null, list: null, until: null };
}

/** Whether a stored graph says nothing (the task is stored without one). */
export function isPlainGraph(graph: TaskGraph): boolean {
  return (
    graph.dependsOn.length === 0 &&
    graph.key === null &&
    graph.when === null &&
    !graph.forEach &&
    !graph.sleep &&
    !graph.loop &&
    !graph.waitFor &&
    !graph.workflow &&
    !graph.compensate &&
    !graph.compensates
  );
}

/** The graph of a task from `addTaskToWorkflow`'s options, checked; null when none is asked for. */
const OPTION_NAMES: ReadonlySet<string> = new Set([
  'dependsOn',
  'when',
  'key',
  'forEach',
  'sleep',
  'loop',
  'waitFor',
  'workflow',
  'compensate',
]);

export function graphSpecOf(taskId: string, options: AddTaskOptions): NodeSpec | null {
  // A misspelt option (`dependson`) would silently drop a dependency.
  const unknown = Object.keys(options).filter((name) => !OPTION_NAMES.has(name));
  if (unknown.length > 0) {
    throw new InvalidArgumentError(
      `Unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((name) => JSON.stringify(name)).join(', ')} for task ${taskId}; expected ${[...OPTION_NAMES].join(', ')}`,
    );
  }
  const { dependsOn, when, key, forEach, sleep, loop, waitFor, workflow, compensate } = options;
  if (
    compensate === undefined &&
    dependsOn === undefined &&
    when === undefined &&
    key === undefined &&
    forEach === undefined &&
    sleep === undefined &&
    loop === undefined &&
    waitFor === undefined &&
    workflow === undefined
  )
    return null;
  const kinds = (['forEach', 'sleep', 'loop', 'waitFor', 'workflow'] as const).filter(
    (name) => options[name] !== undefined,
  );
  // A loop over a group of tasks: each iteration makes the child workflow's definition anew.
  const groupLoop =
    kinds.length === 2 &&
    loop !== undefined &&
    typeof workflow === 'object' &&
    workflow !== null &&
    'definition' in workflow;
  if (kinds.length > 1 && !groupLoop) {
    throw new InvalidArgumentError(
      `A task is at most one of a fan-out, a sleep, a loop, a wait and a child workflow; task ${taskId} has ${kinds.map((k) => `\`${k}\``).join(' and ')}`,
    );
  }
  if (dependsOn !== undefined && !Array.isArray(dependsOn))
    throw new InvalidArgumentError('Expected `dependsOn` to be an array of task ids');
  const ids = (dependsOn ?? []).map((id, i) => expectId(`dependsOn[${i}]`, id));
  const seen = new Set<string>();
  for (const id of ids) {
    if (id === taskId) {
      throw new GraphError(`Task ${taskId} cannot depend on itself`, { problem: 'self-dependency', taskId });
    }
    if (seen.has(id)) throw new InvalidArgumentError(`Task ${id} appears twice in \`dependsOn\``);
    seen.add(id);
  }
  if (key !== undefined && !isTaskKey(key)) {
    throw new InvalidArgumentError(`Expected \`key\` to be ${TASK_KEY_WORDS}, got ${JSON.stringify(key)}`);
  }
  const [condition, stored] = conditionOf('when', when);
  let list: CodeList | null = null;
  let fanOut: TaskGraph['forEach'] = null;
  if (typeof forEach === 'function') {
    list = forEach;
    fanOut = { code: true };
  } else if (typeof forEach === 'string') {
    fanOut = { cel: compileList(forEach).source };
  } else if (forEach !== undefined) {
    throw new ConditionError('Expected `forEach` to be a CEL expression (a string) or a function', {
      got: typeof forEach,
    });
  }
  const graph: TaskGraph = { dependsOn: ids, key: key ?? null, when: stored };
  if (fanOut !== null) graph.forEach = fanOut;
  if (sleep !== undefined) graph.sleep = sleepOf(sleep);
  let until: CodeCondition | null = null;
  if (loop !== undefined) {
    const given = (typeof loop === 'object' && loop !== null ? loop : {}) as Record<string, unknown>;
    const maxIterations = given.maxIterations;
    if (typeof maxIterations !== 'number' || !Number.isSafeInteger(maxIterations) || maxIterations < 1) {
      throw new InvalidArgumentError(
        `Expected \`loop.maxIterations\` to be a whole number >= 1, got ${JSON.stringify(maxIterations)}`,
      );
    }
    const [code, cel] = conditionOf('loop.until', given.until);
    if (cel === null)
      throw new ConditionError('Expected `loop.until`: a CEL expression (a string) or a function', {
        got: 'undefined',
      });
    until = code;
    graph.loop = { until: cel, maxIterations };
  }
  if (waitFor !== undefined) graph.waitFor = waitOf(waitFor);
  if (workflow !== undefined) graph.workflow = childOf(workflow, 'workflow');
  if (compensate !== undefined) graph.compensate = compensationOf(compensate);
  return { graph, condition, list, until };
}

/** A condition option (`when`, `loop.until`): a function held in memory, or CEL stored with the task. */
function conditionOf(name: string, value: unknown): [CodeCondition | null, TaskGraph['when']] {
  if (typeof value === 'function') return [value as CodeCondition, { code: true }];
  if (typeof value === 'string') return [null, { cel: compileCondition(value).source }];
  if (value !== undefined) {
    throw new ConditionError(`Expected \`${name}\` to be a CEL expression (a string) or a function`, {
      got: typeof value,
    });
  }
  return [null, null];
}

/** A `workflow` option, checked: a workflow id, `{ id }`, or `{ definition }`. */
function childOf(workflow: unknown, path: string): NonNullable<TaskGraph['workflow']> {
  if (typeof workflow === 'string') return { id: expectId(path, workflow) };
  const given = (typeof workflow === 'object' && workflow !== null ? workflow : {}) as Record<
    string,
    unknown
  >;
  if ('definition' in given && !('id' in given)) {
    return { id: null, definition: definitionOf(given.definition, `${path}.definition`) };
  }
  if ('id' in given && !('definition' in given)) return { id: expectId(`${path}.id`, given.id) };
  throw new InvalidArgumentError(`Expected \`${path}\` to be a workflow id, { id } or { definition }`);
}

/** A child workflow's definition, checked: named tasks with unique keys forming no cycle. */
export function definitionOf(value: unknown, path: string): WorkflowDefinition {
  const given = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const name = given.name;
  if (!isBoundedName(name)) throw new InvalidArgumentError(`Expected \`${path}.name\` to be ${NAME_WORDS}`);
  const description = given.description ?? '';
  if (typeof description !== 'string')
    throw new InvalidArgumentError(`Expected \`${path}.description\` to be a string`);
  if (!Array.isArray(given.tasks) || given.tasks.length === 0)
    throw new InvalidArgumentError(`Expected \`${path}.tasks\` to be a non-empty array`);
  const tasks: DefinedTask[] = [];
  const keys = new Set<string>();
  for (const [i, entry] of (given.tasks as unknown[]).entries()) {
    const at = `${path}.tasks[${i}]`;
    const fields = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<string, unknown>;
    const {
      key,
      name: taskName,
      description: taskDescription,
      inputData,
      priority,
      tags,
      ...options
    } = fields;
    if (!isTaskKey(key))
      throw new InvalidArgumentError(
        key === undefined
          ? `Expected \`${at}.key\` to be ${TASK_KEY_WORDS}, got none; ${DEFINITION_KEY_REASON}`
          : `Expected \`${at}.key\` to be ${TASK_KEY_WORDS}, got ${JSON.stringify(key)}`,
      );
    if (keys.has(key))
      throw new GraphError(`Key ${key} appears twice in ${path}`, { problem: 'duplicate-key', key });
    keys.add(key);
    for (const option of ['when', 'forEach'] as const) {
      if (typeof options[option] === 'function')
        throw new InvalidArgumentError(
          `\`${at}.${option}\` must be CEL in a definition (functions are not stored)`,
        );
    }
    if (typeof (options.loop as { until?: unknown } | undefined)?.until === 'function')
      throw new InvalidArgumentError(
        `\`${at}.loop.until\` must be CEL in a definition (functions are not stored)`,
      );
    if (
      typeof options.workflow === 'string' ||
      (options.workflow as { id?: unknown } | undefined)?.id !== undefined
    )
      throw new InvalidArgumentError(`\`${at}.workflow\` must be a definition inside a definition`);
    const spec = graphSpecOf(key, { ...(options as AddTaskOptions), key });
    if (
      inputData !== undefined &&
      (typeof inputData !== 'object' || inputData === null || Array.isArray(inputData))
    )
      throw new InvalidArgumentError(`Expected \`${at}.inputData\` to be an object`);
    if (priority !== undefined && (typeof priority !== 'number' || !Number.isSafeInteger(priority)))
      throw new InvalidArgumentError(`Expected \`${at}.priority\` to be a whole number`);
    if (tags !== undefined && (!Array.isArray(tags) || tags.some((tag) => typeof tag !== 'string')))
      throw new InvalidArgumentError(`Expected \`${at}.tags\` to be an array of strings`);
    if (taskDescription !== undefined && typeof taskDescription !== 'string')
      throw new InvalidArgumentError(`Expected \`${at}.description\` to be a string`);
    if (taskName !== undefined && typeof taskName !== 'string')
      throw new InvalidArgumentError(`Expected \`${at}.name\` to be a string`);
    tasks.push({
      key,
      name: taskName ?? key,
      description: taskDescription ?? '',
      inputData: (inputData as Record<string, unknown> | undefined) ?? {},
      priority: priority ?? 0,
      tags: [...((tags as string[] | undefined) ?? [])],
      graph: spec!.graph,
    });
  }
  for (const task of tasks) {
    for (const dependency of task.graph.dependsOn) {
      if (!keys.has(dependency)) {
        throw new GraphError(
          `Task ${task.key} of ${path} depends on ${dependency}, which is not a key of it`,
          {
            problem: 'unknown-dependency',
            taskId: task.key,
            dependency,
          },
        );
      }
    }
  }
  checkGraph(tasks.map((task) => ({ id: task.key, dependsOn: task.graph.dependsOn })));
  return { name, description, tasks };
}

/** Signal names: what `registry.signal` and `waitFor` accept. */
export const SIGNAL_NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}$/;

/** A signal's name, checked. */
export function expectSignalName(name: string, value: unknown): string {
  if (typeof value === 'string' && SIGNAL_NAME_PATTERN.test(value)) return value;
  throw new InvalidArgumentError(
    `Expected \`${name}\` to be a signal name (1-128 letters, digits, _ . : -, not starting with . : -), got ${JSON.stringify(value)}`,
  );
}

/** A `waitFor` option, checked: one or more signal names (no repeats) and an optional timeout. */
function waitOf(waitFor: unknown): NonNullable<TaskGraph['waitFor']> {
  const given =
    typeof waitFor === 'string' || Array.isArray(waitFor)
      ? { signals: waitFor as unknown }
      : ((typeof waitFor === 'object' && waitFor !== null ? waitFor : {}) as Record<string, unknown>);
  const names = typeof given.signals === 'string' ? [given.signals] : given.signals;
  if (!Array.isArray(names) || names.length === 0) {
    throw new InvalidArgumentError(
      'Expected `waitFor` to be a signal name, a list of them, or { signals, timeoutMs? }',
    );
  }
  const signals = names.map((name, i) => expectSignalName(`waitFor.signals[${i}]`, name));
  if (new Set(signals).size !== signals.length)
    throw new InvalidArgumentError('A signal appears twice in `waitFor.signals`');
  const timeoutMs = given.timeoutMs;
  if (timeoutMs === undefined || timeoutMs === null) return { signals, timeoutMs: null };
  if (typeof timeoutMs !== 'number' || !Number.isSafeInteger(timeoutMs) || timeoutMs < 0) {
    throw new InvalidArgumentError(
      `Expected \`waitFor.timeoutMs\` to be a whole number of milliseconds >= 0, got ${JSON.stringify(timeoutMs)}`,
    );
  }
  return { signals, timeoutMs };
}

/** A sleep option, checked: a whole number of milliseconds >= 0, or a time (epoch ms or a Date). */
function sleepOf(sleep: unknown): { ms: number } | { until: number } {
  const given = (typeof sleep === 'object' && sleep !== null ? sleep : {}) as {
    ms?: unknown;
    until?: unknown;
  };
  if ('ms' in given && !('until' in given)) {
    const ms = given.ms;
    if (typeof ms === 'number' && Number.isSafeInteger(ms) && ms >= 0) return { ms };
  } else if ('until' in given && !('ms' in given)) {
    const until = given.until instanceof Date ? given.until.getTime() : given.until;
    if (typeof until === 'number' && Number.isFinite(until)) return { until };
  }
  throw new InvalidArgumentError(
    'Expected `sleep` to be { ms } (a whole number of milliseconds >= 0) or { until } (epoch ms or a Date)',
  );
}
