import { z } from 'zod';
import type { ExecuteOptions } from '../../engine/execution.js';

/**
 * A workflow file's debounce and singleton keys (docs/policies.md "Debounce and singleton", "In a
 * workflow"): held by the workflow the file makes, as the options of `executeWorkflow` (`symphony
 * run`) and `enqueueWorkflow` (`symphony run --submit`) of the same names.
 */

const key = () =>
  z
    .string()
    .min(1)
    .describe(
      'The key (at most 255 characters): workflows with the same key are debounced or kept single together.',
    );

/** The key fields at the top of a workflow file. */
export const workflowKeyFields = {
  debounce: z
    .strictObject({
      key: key(),
      delayMs: z
        .int()
        .min(0)
        .describe(
          "The quiet period: the workflow's tasks' first attempts start no earlier than this many ms after it was run.",
        ),
      maxWaitMs: z
        .int()
        .min(0)
        .optional()
        .describe(
          'A burst runs at the latest this many ms after its first workflow, however often it is replaced. Default: no bound.',
        ),
    })
    .optional()
    .describe(
      "Debounce: a later run of a workflow with the same key, while none of this one's tasks has started, replaces it (this one ends CANCELLED): the last run wins. Not with singleton, delayMs, runAt or schedule. Default: none.",
    ),
  singleton: z
    .strictObject({
      key: key(),
      mode: z
        .enum(['skip', 'cancel'])
        .describe(
          'skip: refuse the new run (SINGLETON_ACTIVE, exit code 2); cancel: cancel the unfinished one and run.',
        ),
    })
    .optional()
    .describe(
      'Singleton: at most one unfinished workflow of the key at a time, on every process of the store. Not with debounce or schedule (its overlap keeps firings apart). Default: none.',
    ),
};

type KeyFields = {
  debounce?: { key: string; delayMs: number; maxWaitMs?: number | undefined } | undefined;
  singleton?: { key: string; mode: 'skip' | 'cancel' } | undefined;
  delayMs?: number | undefined;
  runAt?: unknown;
  schedule?: unknown;
  tasks?: ReadonlyArray<{ delayMs?: number | undefined; runAt?: unknown }>;
};

/**
 * The problems of a file's keys its shape does not show: both keys, a debounce with a delay (the
 * file's or a task's own), a schedule.
 */
export function keyProblems(file: KeyFields): string[] {
  const problems: string[] = [];
  for (const field of ['debounce', 'singleton'] as const) {
    const length = file[field]?.key.length ?? 0;
    if (length > 255) problems.push(`${field}.key: expected at most 255 characters, got ${length}`);
  }
  if (file.debounce !== undefined && file.singleton !== undefined)
    problems.push('singleton: a workflow has a debounce or a singleton key, not both');
  if (file.debounce !== undefined && (file.delayMs !== undefined || file.runAt !== undefined))
    problems.push(
      `debounce: not with ${file.delayMs !== undefined ? 'delayMs' : 'runAt'} (the debounce sets the delay)`,
    );
  // Nor with a task's own delay: the debounce delays the workflow's start, all its tasks.
  (file.debounce === undefined ? [] : (file.tasks ?? [])).forEach((task, index) => {
    const own = task.delayMs !== undefined ? 'delayMs' : task.runAt !== undefined ? 'runAt' : null;
    if (own !== null)
      problems.push(`tasks[${index}].${own}: not with the file's debounce (the debounce sets the delay)`);
  });
  for (const field of ['debounce', 'singleton'] as const) {
    if (file[field] !== undefined && file.schedule !== undefined)
      problems.push(
        `${field}: not with schedule (a schedule keeps its firings apart with schedule.overlap; skip: one at a time)`,
      );
  }
  return problems;
}

/** The execution options of a file's key; {} when it has none. */
export function keyOptions(file: KeyFields): Pick<ExecuteOptions, 'debounce' | 'singleton'> {
  const { debounce, singleton } = file;
  if (debounce !== undefined) {
    const { key: name, delayMs, maxWaitMs } = debounce;
    return { debounce: { key: name, delayMs, ...(maxWaitMs === undefined ? {} : { maxWaitMs }) } };
  }
  return singleton === undefined ? {} : { singleton: { key: singleton.key, mode: singleton.mode } };
}
