import {
  TASK_OPTION_FIELDS,
  type TaskExecuteOptions,
  type TaskOptionsMap,
} from '../../services/task-options.js';
import { fairnessOptions } from './policies.js';
import type { WorkflowFile, WorkflowFileTask } from './schema.js';
import { timeLimitOptions, timeLimitProblems } from './time-limits.js';

/**
 * A task's own policies in a workflow file (docs/policies.md): fields of the task that replace the
 * file's for it alone, given to the engine as `ExecuteWorkflowOptions.taskOptions`.
 */

/** The fields a task of a file may set for itself, over the file's: the options of `taskOptions`. */
export const TASK_POLICY_FIELDS = TASK_OPTION_FIELDS;

type TaskPolicies = Pick<WorkflowFileTask, (typeof TASK_POLICY_FIELDS)[number]>;

/** The policy fields a task sets, in TASK_POLICY_FIELDS order. */
export function policyFieldsOf(task: Partial<TaskPolicies>): string[] {
  return TASK_POLICY_FIELDS.filter((field) => task[field] !== undefined);
}

/**
 * The problems of the tasks' own policies that the schema cannot see, with their paths: `runAt`
 * with `delayMs`; `keyConcurrency` or `keyRateLimits` with no key (the task's or the file's); a
 * policy on a sleep or a wait (no agent runs there).
 */
export function taskPolicyProblems(
  file: Pick<WorkflowFile, 'concurrencyKey'> & {
    tasks: ReadonlyArray<TaskPolicies & Pick<WorkflowFileTask, 'sleep' | 'waitFor'>>;
  },
): string[] {
  return file.tasks.flatMap((task, index) => {
    const at = `tasks[${index}]`;
    const problems = timeLimitProblems(task).map((line) => `${at}.${line}`);
    if (task.concurrencyKey === undefined && file.concurrencyKey === undefined) {
      for (const field of ['keyConcurrency', 'keyRateLimits'] as const) {
        if (task[field] !== undefined) {
          problems.push(
            `${at}.${field}: only allowed with a concurrencyKey, the task's or the file's (the key whose tasks it limits)`,
          );
        }
      }
    }
    const fields = policyFieldsOf(task);
    const kind = task.sleep !== undefined ? 'a sleep' : task.waitFor !== undefined ? 'a wait' : null;
    if (kind !== null && fields.length > 0) {
      problems.push(`${at}.${fields[0]}: ${kind} runs no agent; its own policies would apply to nothing`);
    }
    return problems;
  });
}

/** The execution options of a task's own policies; undefined when it sets none. */
export function taskPolicyOptions(task: TaskPolicies): TaskExecuteOptions | undefined {
  if (policyFieldsOf(task).length === 0) return undefined;
  return {
    ...fairnessOptions(task),
    ...timeLimitOptions(task),
    ...(task.timeoutMs === undefined ? {} : { timeoutMs: task.timeoutMs }),
    ...(task.retry === undefined ? {} : { retry: task.retry }),
  };
}

/**
 * The `taskOptions` of a file's run: each task's own policies by its key, else by the id of the
 * task made from it (`ids`, in the file's order); {} when no task sets any.
 */
export function fileTaskOptions(
  tasks: ReadonlyArray<TaskPolicies & { key: string | undefined }>,
  ids: readonly string[],
): TaskOptionsMap {
  const map: TaskOptionsMap = {};
  tasks.forEach((task, index) => {
    const own = taskPolicyOptions(task);
    if (own !== undefined) map[task.key ?? ids[index]!] = own;
  });
  return map;
}

/** Whether a task of the file sets policies of its own. */
export const hasTaskPolicies = (tasks: ReadonlyArray<Partial<TaskPolicies>>): boolean =>
  tasks.some((task) => policyFieldsOf(task).length > 0);

/**
 * The problems of a child workflow file's tasks that set policies of their own: a child's tasks run
 * under the run's policies and those of the task that runs the child, not their own.
 */
export function childPolicyProblems(tasks: ReadonlyArray<Partial<TaskPolicies>>): string[] {
  return tasks.flatMap((task, index) => {
    const [field] = policyFieldsOf(task);
    if (field === undefined) return [];
    return [
      `tasks[${index}].${field}: a child workflow's tasks run under the policies of the task that runs the child (and the file run's), not their own; set it on that task`,
    ];
  });
}
