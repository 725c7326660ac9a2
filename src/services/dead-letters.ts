import type { AttemptError, Task } from '../domain/task.js';
import { InvalidArgumentError, InvalidStateError, TaskNotFoundError } from '../errors/errors.js';
import { SymphonyError } from '../errors/symphony-error.js';
import type { Runtime } from '../engine/runtime.js';
import type { EnqueueOptions, TaskAgentKeyPair } from './enqueue.js';
import { expectFields, expectId } from './validate.js';

/**
 * The dead-letter queue (issue 14, Recovery strategies): the FAILED tasks, read across workflows
 * and re-driven after a fix, as BullMQ's failed set, pg-boss's dead letter queues or a Temporal
 * reset offer. A dead letter is not a copy: it is the FAILED task itself, with its error history.
 */

/** Which dead letters: every given field must match. */
export interface DeadLetterFilter {
  /** Only tasks of this workflow. */
  workflowId?: string;
  /** Only tasks whose last attempt ran on this agent config (or agent id): `task.agentId`. */
  agentId?: string;
  /** Only tasks whose last error has this `code` or this `name` (e.g. `EXECUTION_TIMEOUT`, `TypeError`). */
  error?: string;
  /** Only tasks that failed at or after this time (epoch ms of the engine's clock). */
  failedSince?: number;
  /** Only tasks that failed before this time (epoch ms of the engine's clock). */
  failedBefore?: number;
}

export interface ListDeadLettersOptions extends DeadLetterFilter {
  /** Dead letters per page, 1 to 1000. @default 50 */
  limit?: number;
  /** The `nextCursor` of the previous page; absent: the first page (the newest failures). */
  after?: string;
}

/** A FAILED task as the dead-letter queue shows it. */
export interface DeadLetter {
  taskId: string;
  name: string;
  workflowId: string | null;
  /** The agent config (or agent) that ran its last attempt. */
  agentId: string | null;
  /** Attempts started in all, across every run it was given. */
  attempts: number;
  /** When it failed (its `finishedAt`), epoch ms. */
  failedAt: number;
  /** The error that ended it; null for a task that failed without an attempt error recorded. */
  lastError: AttemptError | null;
  /** Its whole error history, last error first (a re-driven task keeps it). */
  errors: AttemptError[];
}

export interface DeadLetterPage {
  /** Newest failure first; equal failure times in descending id order. */
  items: DeadLetter[];
  /** Pass as `after` for the next page; null when this page is the last. */
  nextCursor: string | null;
}

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

/** What the dead-letter queue needs of the engine. */
export type DeadLetterEngine = Pick<Runtime, 'store' | 'workflows'>;

/** The services a re-drive goes through: the task manager's `retryTask` and the executor's enqueue. */
export interface RedriveDoors {
  retry(taskId: string): Promise<unknown>;
  enqueue(pairs: readonly TaskAgentKeyPair[], options: EnqueueOptions): Promise<void>;
  /** Rejects enqueue options `enqueue` would reject, before any task is re-driven. */
  checkEnqueue(options: EnqueueOptions): Promise<void>;
}

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 1000;
/** FAILED rows read per store query while scanning (keyset pages in id order). */
const SCAN_PAGE = 1000;
/** Tasks enqueued per `enqueueTasks` call (one commit) during a bulk re-drive with `submit`. */
const ENQUEUE_BATCH = 500;

/** The place of a dead letter in the queue's order. */
type Position = readonly [failedAt: number, id: string];

function failedAtOf(task: Task): number {
  return task.finishedAt ?? task.errors.at(-1)?.at ?? task.updatedAt;
}

/** Negative when `a` comes first: newest failure first, then descending id (a total order). */
function compare(a: Position, b: Position): number {
  if (a[0] !== b[0]) return b[0] - a[0];
  return a[1] < b[1] ? 1 : a[1] > b[1] ? -1 : 0;
}

/** An opaque cursor: the position of the last item of a page. */
export function encodeCursor(position: Position): string {
  return Buffer.from(JSON.stringify(position), 'utf8').toString('base64url');
}

function decodeCursor(cursor: unknown): Position {
  const invalid = () =>
    new InvalidArgumentError(
      `Expected \`after\` to be the \`nextCursor\` of a previous page, got ${JSON.stringify(cursor)}`,
    );
  if (typeof cursor !== 'string' || cursor.length === 0 || cursor.length > 2048) throw invalid();
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (
    !Array.isArray(value) ||
    value.length !== 2 ||
    typeof value[0] !== 'number' ||
    !Number.isFinite(value[0]) ||
    typeof value[1] !== 'string' ||
    value[1].length === 0
  ) {
    throw invalid();
  }
  return [value[0], value[1]];
}

function expectTime(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new InvalidArgumentError(
      `Expected \`${name}\` to be a time in epoch milliseconds, got ${String(value)}`,
    );
  }
  return value;
}

/** A checked filter. */
interface ResolvedFilter {
  workflowId: string | undefined;
  agentId: string | undefined;
  error: string | undefined;
  failedSince: number | undefined;
  failedBefore: number | undefined;
}

function resolveFilter(name: string, value: unknown): ResolvedFilter {
  const fields = expectFields(name, value);
  const optionalId = (field: string) =>
    fields[field] === undefined ? undefined : expectId(`${name}.${field}`, fields[field]);
  return {
    workflowId: optionalId('workflowId'),
    agentId: optionalId('agentId'),
    error: optionalId('error'),
    failedSince: expectTime(`${name}.failedSince`, fields.failedSince),
    failedBefore: expectTime(`${name}.failedBefore`, fields.failedBefore),
  };
}

/** Whether a FAILED task passes the filter's conditions the store cannot check (error, times). */
function matches(task: Task, filter: ResolvedFilter): boolean {
  const at = failedAtOf(task);
  if (filter.failedSince !== undefined && at < filter.failedSince) return false;
  if (filter.failedBefore !== undefined && at >= filter.failedBefore) return false;
  if (filter.error !== undefined) {
    const last = task.errors.at(-1);
    if (!last || (last.code !== filter.error && last.name !== filter.error)) return false;
  }
  return true;
}

/**
 * Every FAILED task the filter's equality fields select, a page at a time in id order (keyset, as
 * recovery reads unfinished tasks): rows that change between pages neither shift nor repeat others.
 */
async function* failedTasks(engine: DeadLetterEngine, filter: ResolvedFilter): AsyncGenerator<Task[]> {
  const equality: Partial<Task> = {};
  if (filter.workflowId !== undefined) equality.workflowId = filter.workflowId;
  if (filter.agentId !== undefined) equality.agentId = filter.agentId;
  let after: string | undefined;
  for (;;) {
    const page = await engine.store.tasks.find({
      where: { status: 'FAILED', ...equality },
      orderBy: 'id',
      after,
      limit: SCAN_PAGE,
    });
    if (page.length === 0) return;
    yield page;
    if (page.length < SCAN_PAGE) return;
    const last = page[page.length - 1]!.id;
    if (last === after)
      throw new Error('The task repository ignored `after`: the dead letters cannot be read');
    after = last;
  }
}

function deadLetterOf(task: Task): DeadLetter {
  const errors = [...task.errors].reverse();
  return {
    taskId: task.id,
    name: task.name,
    workflowId: task.workflowId,
    agentId: task.agentId,
    attempts: task.attempts,
    failedAt: failedAtOf(task),
    lastError: errors[0] ?? null,
    errors,
  };
}

/**
 * The first `keep` selected tasks after `start` in the queue's order. The store filters on equality
 * only, so the FAILED tasks of the equality fields are scanned and the page kept in memory (at most
 * twice `keep` rows at a time); a store query on failure time would make this a seek.
 */
async function selectPage(
  engine: DeadLetterEngine,
  filter: ResolvedFilter,
  start: Position | undefined,
  keep: number,
): Promise<Task[]> {
  let kept: Array<{ position: Position; task: Task }> = [];
  const trim = () => {
    kept.sort((a, b) => compare(a.position, b.position));
    kept = kept.slice(0, keep);
  };
  for await (const page of failedTasks(engine, filter)) {
    for (const task of page) {
      if (!matches(task, filter)) continue;
      const position: Position = [failedAtOf(task), task.id];
      if (start !== undefined && compare(position, start) <= 0) continue;
      kept.push({ position, task });
    }
    if (kept.length > 2 * keep) trim();
  }
  trim();
  return kept.map((entry) => entry.task);
}

/** See `TaskManager.listDeadLetters`. */
export async function listDeadLetters(
  engine: () => Promise<DeadLetterEngine>,
  options: ListDeadLettersOptions = {},
): Promise<DeadLetterPage> {
  const fields = expectFields('options', options);
  const { limit: rawLimit, after: rawAfter, ...rest } = fields;
  const limit = rawLimit === undefined ? DEFAULT_LIMIT : rawLimit;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw new InvalidArgumentError(
      `Expected \`limit\` to be an integer from 1 to ${MAX_LIMIT}, got ${String(limit)}`,
    );
  }
  const start = rawAfter === undefined ? undefined : decodeCursor(rawAfter);
  const filter = resolveFilter('options', rest);
  const tasks = await selectPage(await engine(), filter, start, limit + 1);
  const items = tasks.slice(0, limit).map(deadLetterOf);
  const last = items.at(-1);
  const nextCursor = tasks.length > limit && last ? encodeCursor([last.failedAt, last.taskId]) : null;
  return { items, nextCursor };
}

/** An error as a re-drive report gives it. */
function reported(error: unknown): { code: string; message: string } {
  if (SymphonyError.isInstance(error)) return { code: error.code, message: error.message };
  return { code: 'INTERNAL', message: error instanceof Error ? error.message : String(error) };
}

/** The graph part of a task that keeps it from going to workers on its own, or null. */
function graphPart(task: Task): string | null {
  const graph = task.graph;
  if (graph === null) return null;
  if (graph.dependsOn.length > 0) return 'dependsOn';
  for (const part of ['when', 'forEach', 'loop', 'waitFor', 'workflow', 'sleep'] as const) {
    if (graph[part] !== null && graph[part] !== undefined) return part;
  }
  return null;
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
  const part = graphPart(task);
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
