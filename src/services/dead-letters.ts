import type { AttemptError, Task } from '../domain/task.js';
import { InvalidArgumentError } from '../errors/errors.js';
import type { Runtime } from '../engine/runtime.js';
import { expectFields, expectId } from './validate.js';

/**
 * The dead-letter queue (issue 14, Recovery strategies): the FAILED tasks, read across workflows
 * and re-driven after a fix, as BullMQ's failed set, pg-boss's dead letter queues or a Temporal
 * reset offer. A dead letter is not a copy: it is the FAILED task itself, with its error history.
 * Re-driving them: redrive-dead-letters.ts.
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

/** What the dead-letter queue needs of the engine. */
export type DeadLetterEngine = Pick<Runtime, 'store' | 'workflows'>;

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 1000;
/** FAILED rows read per store query while scanning (keyset pages in id order). */
export const SCAN_PAGE = 1000;

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
export interface ResolvedFilter {
  workflowId: string | undefined;
  agentId: string | undefined;
  error: string | undefined;
  failedSince: number | undefined;
  failedBefore: number | undefined;
}

export function resolveFilter(name: string, value: unknown): ResolvedFilter {
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
export async function selectPage(
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
