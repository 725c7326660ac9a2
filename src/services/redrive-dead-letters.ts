import type { Task } from '../domain/task.js';
import { InvalidArgumentError, InvalidStateError, TaskNotFoundError } from '../errors/errors.js';
import { SymphonyError } from '../errors/symphony-error.js';
import {
  resolveFilter,
  SCAN_PAGE,
  selectPage,
  type DeadLetterEngine,
  type DeadLetterFilter,
  type ResolvedFilter,
} from './dead-letters.js';
import { graphFeature, type EnqueueOptions, type TaskAgentKeyPair } from './enqueue.js';
import { expectFields, expectId } from './validate.js';

/**
 * Re-driving dead letters (issue 14, Recovery strategies): FAILED tasks made PENDING again through
 * the task manager's `retryTask` (the task machine's RETRY), their error history kept, and with
 * `submit` enqueued for workers. Which tasks are dead letters and in what order: dead-letters.ts.
 */

/** How re-driven tasks go to workers: the enqueue options, and the agent config to run them on. */
export interface RedriveSubmitOptions extends EnqueueOptions {
  /** The agent config (or agent id) for every task. @default the one that ran its last attempt (`agentId`) */
  agentKey?: string;
}

export interface RedriveOptions {
  /** These tasks (one or more). Give `taskIds` or `filter`, not both. */
  taskIds?: readonly string[];
  /** Every dead letter the filter selects (`{}`: all of them). */
  filter?: DeadLetterFilter;
  /**
   * Enqueue each re-driven task for workers (`enqueueTasks`): a task a worker ran has no execution
   * plan after its retry, so no worker takes it until it is enqueued again. `true`: on the agent
   * config that ran it, under the engine's retry policy. @default false: the task waits, PENDING,
   * for `executeTask` (or an enqueue) by the caller
   */
  submit?: boolean | RedriveSubmitOptions;
  /** Check each task and report what would happen; change nothing. @default false */
  dryRun?: boolean;
}

/** What happened to one task. */
export interface RedriveResult {
  taskId: string;
  /** `redriven`: PENDING again, history kept (with `dryRun`: would be); `refused`: left as it was. */
  outcome: 'redriven' | 'refused';
  /** With `submit`: the agent config it was enqueued on (with `dryRun`: would be). */
  agentKey?: string;
  /**
   * Why it was refused; on a `redriven` task with `submit`, why its enqueue failed (it waits,
   * PENDING with no plan, for an `enqueueTasks`).
   */
  error?: { code: string; message: string };
}

export interface RedriveReport {
  /** One per task, in the order given (a filter: newest failure first). */
  results: RedriveResult[];
  redriven: number;
  refused: number;
  dryRun: boolean;
}

/** The services a re-drive goes through: the task manager's `retryTask` and the executor's enqueue. */
export interface RedriveDoors {
  retry(taskId: string): Promise<unknown>;
  enqueue(pairs: readonly TaskAgentKeyPair[], options: EnqueueOptions): Promise<void>;
  /** Rejects enqueue options `enqueue` would reject, before any task is re-driven. */
  checkEnqueue(options: EnqueueOptions): Promise<void>;
}

/** Tasks enqueued per `enqueueTasks` call (one commit) during a bulk re-drive with `submit`. */
const ENQUEUE_BATCH = 500;

/** An error as a re-drive report gives it. */
function reported(error: unknown): { code: string; message: string } {
  if (SymphonyError.isInstance(error)) return { code: error.code, message: error.message };
  return { code: 'INTERNAL', message: error instanceof Error ? error.message : String(error) };
}

interface ResolvedRedrive {
  submit: RedriveSubmitOptions | null;
  dryRun: boolean;
}

/**
 * Why a stored task cannot be re-driven (a typed error), or the agent config it goes to (with
 * `submit`; null without). Read on the stored row; `retryTask` decides again on its own.
 */
async function check(
  cancelled: (workflowId: string) => Promise<boolean>,
  taskId: string,
  task: Task | undefined,
  options: ResolvedRedrive,
): Promise<SymphonyError | { agentKey: string | null }> {
  if (!task) return new TaskNotFoundError(taskId);
  if (task.status !== 'FAILED') {
    return new InvalidStateError(`Task ${taskId} is ${task.status}; only FAILED tasks are dead letters`, {
      taskId,
      status: task.status,
    });
  }
  if (task.workflowId !== null && (await cancelled(task.workflowId))) {
    return new InvalidStateError(`Workflow ${task.workflowId} is cancelled; its tasks cannot be retried`, {
      workflowId: task.workflowId,
    });
  }
  if (options.submit === null) return { agentKey: null };
  const part = graphFeature(task.graph);
  if (part !== null) {
    return new InvalidStateError(
      `Task ${taskId} is a graph node with \`${part}\`: workers take its workflow as a whole; re-drive it without submit and hand the workflow over (enqueueWorkflow, or symphony retry --submit)`,
      { taskId, feature: part },
    );
  }
  const agentKey = options.submit.agentKey ?? task.agentId;
  if (agentKey === null) {
    return new InvalidStateError(
      `Task ${taskId} names no agent config that ran it; give \`submit.agentKey\` to enqueue it`,
      { taskId },
    );
  }
  return { agentKey };
}

function resolveRedrive(
  options: RedriveOptions,
): { ids: string[] | null; filter: ResolvedFilter | null } & ResolvedRedrive {
  const fields = expectFields('options', options);
  const { taskIds, filter, submit, dryRun } = fields;
  if ((taskIds === undefined) === (filter === undefined)) {
    throw new InvalidArgumentError(
      'Expected `taskIds` or `filter` (one of them), got ' + (taskIds === undefined ? 'neither' : 'both'),
    );
  }
  let ids: string[] | null = null;
  if (taskIds !== undefined) {
    if (!Array.isArray(taskIds)) {
      throw new InvalidArgumentError(
        `Expected \`taskIds\` to be an array of task ids, got ${typeof taskIds}`,
      );
    }
    ids = [...new Set((taskIds as unknown[]).map((id, index) => expectId(`taskIds[${index}]`, id)))];
  }
  if (dryRun !== undefined && typeof dryRun !== 'boolean') {
    throw new InvalidArgumentError(`Expected \`dryRun\` to be a boolean, got ${typeof dryRun}`);
  }
  let resolvedSubmit: RedriveSubmitOptions | null = null;
  if (submit === true) resolvedSubmit = {};
  else if (submit !== undefined && submit !== false) {
    resolvedSubmit = expectFields('submit', submit) as RedriveSubmitOptions;
    if (resolvedSubmit.agentKey !== undefined) expectId('submit.agentKey', resolvedSubmit.agentKey);
  }
  return {
    ids,
    filter: filter === undefined ? null : resolveFilter('filter', filter),
    submit: resolvedSubmit,
    dryRun: dryRun === true,
  };
}

/** The tasks a re-drive goes through, in chunks: the ids given, or every dead letter the filter selects. */
async function* selected(
  engine: DeadLetterEngine,
  ids: string[] | null,
  filter: ResolvedFilter | null,
): AsyncGenerator<Array<{ taskId: string; task: Task | undefined }>> {
  if (ids !== null) {
    for (let i = 0; i < ids.length; i += SCAN_PAGE) {
      const chunk = ids.slice(i, i + SCAN_PAGE);
      const rows = new Map((await engine.store.tasks.getMany(chunk)).map((task) => [task.id, task]));
      yield chunk.map((taskId) => ({ taskId, task: rows.get(taskId) }));
    }
    return;
  }
  // Read whole before any is re-driven, newest failure first.
  const all = await selectPage(engine, filter!, undefined, Number.MAX_SAFE_INTEGER);
  for (let i = 0; i < all.length; i += SCAN_PAGE) {
    yield all.slice(i, i + SCAN_PAGE).map((task) => ({ taskId: task.id, task }));
  }
}

/** Enqueues re-driven tasks, a batch in one commit; a batch that fails is tried task by task. */
async function enqueueRedriven(
  doors: RedriveDoors,
  results: Map<string, RedriveResult>,
  pairs: TaskAgentKeyPair[],
  submit: RedriveSubmitOptions,
): Promise<void> {
  const { agentKey: _agentKey, ...options } = submit;
  for (let i = 0; i < pairs.length; i += ENQUEUE_BATCH) {
    const batch = pairs.slice(i, i + ENQUEUE_BATCH);
    try {
      await doors.enqueue(batch, options);
      continue;
    } catch (error) {
      if (batch.length === 1) {
        const result = results.get(batch[0]![0])!;
        delete result.agentKey;
        result.error = reported(error);
        continue;
      }
    }
    for (const pair of batch) await enqueueRedriven(doors, results, [pair], submit);
  }
}

/** See `TaskManager.redriveDeadLetters`. */
export async function redriveDeadLetters(
  engine: () => Promise<DeadLetterEngine>,
  doors: RedriveDoors,
  options: RedriveOptions,
): Promise<RedriveReport> {
  const resolved = resolveRedrive(options);
  if (resolved.submit !== null) {
    // Bad enqueue options would otherwise show only after every task was re-driven, left unplanned.
    const { agentKey: _agentKey, ...enqueueOptions } = resolved.submit;
    await doors.checkEnqueue(enqueueOptions);
  }
  const runtime = await engine();
  const results: RedriveResult[] = [];
  const workflows = new Map<string, Promise<boolean>>();
  const cancelled = (workflowId: string): Promise<boolean> => {
    let known = workflows.get(workflowId);
    if (known === undefined) {
      known = runtime.store.workflows.get(workflowId).then((workflow) => workflow?.cancelled === true);
      workflows.set(workflowId, known);
    }
    return known;
  };
  for await (const chunk of selected(runtime, resolved.ids, resolved.filter)) {
    const byId = new Map<string, RedriveResult>();
    const toEnqueue: TaskAgentKeyPair[] = [];
    for (const { taskId, task } of chunk) {
      const checked = await check(cancelled, taskId, task, resolved);
      let result: RedriveResult;
      if (checked instanceof Error) {
        result = { taskId, outcome: 'refused', error: reported(checked) };
      } else {
        result = { taskId, outcome: 'redriven' };
        if (checked.agentKey !== null) result.agentKey = checked.agentKey;
        if (!resolved.dryRun) {
          try {
            // One door for state: the task machine takes RETRY (history kept, a fresh budget).
            await doors.retry(taskId);
            if (checked.agentKey !== null) toEnqueue.push([taskId, checked.agentKey]);
          } catch (error) {
            result = { taskId, outcome: 'refused', error: reported(error) };
          }
        }
      }
      byId.set(taskId, result);
      results.push(result);
    }
    if (resolved.submit !== null && toEnqueue.length > 0) {
      await enqueueRedriven(doors, byId, toEnqueue, resolved.submit);
    }
  }
  const redriven = results.filter((result) => result.outcome === 'redriven').length;
  return { results, redriven, refused: results.length - redriven, dryRun: resolved.dryRun };
}
