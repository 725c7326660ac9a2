import type { Task } from '../domain/task.js';
import type { ExecuteOptions } from '../engine/execution.js';
import { ErrorCode } from '../errors/codes.js';
import { InvalidArgumentError } from '../errors/errors.js';
import { SymphonyError } from '../errors/symphony-error.js';
import { expectFields } from './validate.js';

/**
 * Per-task execution options of a workflow run (`ExecuteWorkflowOptions.taskOptions`,
 * `EnqueueWorkflowOptions.taskOptions`): one rule, `withTaskOptions`, makes a task's options from
 * the run's and its own, wherever the run's options become an execution plan.
 */

/** The options a task of a workflow run may set for itself, over the run's. */
export const TASK_OPTION_FIELDS = [
  'timeoutMs',
  'retry',
  'delayMs',
  'runAt',
  'scheduleToStartMs',
  'scheduleToCloseMs',
  'heartbeatTimeoutMs',
  'concurrencyKey',
  'keyConcurrency',
  'keyRateLimits',
] as const;

/** A task's own execution options (see `withTaskOptions` for how they combine with the run's). */
export type TaskExecuteOptions = Pick<ExecuteOptions, (typeof TASK_OPTION_FIELDS)[number]>;

/** Per-task options, by task key or id. */
export type TaskOptionsMap = Record<string, TaskExecuteOptions>;

const ALLOWED = new Set<string>(TASK_OPTION_FIELDS);

/**
 * `taskOptions` checked for its shape: an object of objects that set only `TASK_OPTION_FIELDS`
 * (their values are checked by `checkTaskOptions`, as the execution plan checks them).
 */
export function expectTaskOptions(value: unknown): TaskOptionsMap | undefined {
  if (value === undefined) return undefined;
  const map: TaskOptionsMap = {};
  for (const [name, own] of Object.entries(expectFields('taskOptions', value))) {
    const fields = expectFields(`taskOptions.${name}`, own);
    for (const field of Object.keys(fields)) {
      if (!ALLOWED.has(field)) {
        throw new InvalidArgumentError(
          `Expected \`taskOptions.${name}\` to set only ${TASK_OPTION_FIELDS.join(', ')}, got \`${field}\``,
        );
      }
    }
    map[name] = fields as TaskExecuteOptions;
  }
  return map;
}

/**
 * The options of one task of a run: the run's, with the task's own over them. A task's retry fields
 * replace the run's one by one (the rest of the run's policy stays); a task's `runAt` or `delayMs`
 * replaces the run's delayed start (either form), its `scheduleToStartMs` the run's `deadline`; a
 * task's own `concurrencyKey` comes with its own `keyConcurrency` and `keyRateLimits` (the run's
 * limits are of the run's key), while a task without one limits the run's key for itself.
 */
export function withTaskOptions<T extends ExecuteOptions>(run: T, own: TaskExecuteOptions | undefined): T {
  if (own === undefined) return run;
  const merged: T = { ...run };
  if (own.runAt !== undefined || own.delayMs !== undefined) {
    delete merged.runAt;
    delete merged.delayMs;
  }
  if (own.scheduleToStartMs !== undefined) delete merged.deadline;
  if (own.concurrencyKey !== undefined) {
    delete merged.keyConcurrency;
    delete merged.keyRateLimits;
  }
  for (const field of TASK_OPTION_FIELDS) {
    const value = own[field];
    if (value === undefined) continue;
    if (field === 'retry') merged.retry = { ...run.retry, ...own.retry };
    else (merged as Record<string, unknown>)[field] = value;
  }
  return merged;
}

/**
 * Checks each task's options combined with the run's (`check`: what builds the execution plan,
 * which throws INVALID_ARGUMENT); a refusal names the task: "taskOptions.review: Expected ...".
 */
export function checkTaskOptions<T extends ExecuteOptions>(
  run: T,
  map: TaskOptionsMap | undefined,
  check: (options: T) => void,
): void {
  for (const [name, own] of Object.entries(map ?? {})) {
    try {
      check(withTaskOptions(run, own));
    } catch (error) {
      if (!SymphonyError.isInstance(error) || error.code !== ErrorCode.INVALID_ARGUMENT) throw error;
      throw new InvalidArgumentError(`taskOptions.${name}: ${error.message}`, { cause: error });
    }
  }
}

/** A task's own options in `map`: by its key, else by its id. */
export function taskOptionsOf(
  map: TaskOptionsMap | undefined,
  task: { id: string; key: string | null | undefined },
): TaskExecuteOptions | undefined {
  if (map === undefined) return undefined;
  const byKey = task.key === null || task.key === undefined ? undefined : map[task.key];
  return byKey ?? map[task.id];
}

/** Refuses a name in `map` that is no task of the workflow (`isTask`: a key or an id of one). */
export function expectTaskNames(
  map: TaskOptionsMap | undefined,
  workflowId: string,
  isTask: (name: string) => boolean,
): void {
  for (const name of Object.keys(map ?? {})) {
    if (!isTask(name)) {
      throw new InvalidArgumentError(
        `Expected \`taskOptions\` to name tasks of workflow ${workflowId} by key or id, got ${JSON.stringify(name)}`,
      );
    }
  }
}

/**
 * The own options of each of a workflow's tasks that has some, by task id: by its key, else its id;
 * a fan-out's item or a loop's iteration, its maker's.
 */
export function ownOptionsById(
  map: TaskOptionsMap | undefined,
  tasks: ReadonlyArray<Pick<Task, 'id' | 'graph'>>,
): Map<string, TaskExecuteOptions> {
  const own = new Map<string, TaskExecuteOptions>();
  if (map === undefined) return own;
  const byId = new Map(tasks.map((task) => [task.id, task]));
  for (const task of tasks) {
    const maker = byId.get(task.graph?.item?.of ?? task.id) ?? task;
    const options = taskOptionsOf(map, { id: maker.id, key: maker.graph?.key });
    if (options !== undefined) own.set(task.id, options);
  }
  return own;
}

/** Options of a keyed or routed run that `executeTask` and `batchExecute` refuse: the calls that take them. */
const ELSEWHERE: Record<string, string> = {
  debounce: 'enqueueTask, executeWorkflow and enqueueWorkflow take it',
  singleton: 'enqueueTask, executeWorkflow and enqueueWorkflow take it',
  fallback: 'executeWorkflow and enqueueWorkflow take it',
};

/** Refuses `debounce`, `singleton` and `fallback` in the options of `call`, saying which calls take them. */
export function refuseRunPolicies(call: string, options: Record<string, unknown>): void {
  for (const [field, where] of Object.entries(ELSEWHERE)) {
    if (options[field] !== undefined)
      throw new InvalidArgumentError(`\`${field}\` is not an option of ${call}: ${where}`, {
        details: { field },
      });
  }
}
