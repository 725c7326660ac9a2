import type { TaskStatus } from '../../machines/status.js';

/**
 * Debounce and singleton keys (docs/policies.md "Debounce and singleton"): the store keeps, per key,
 * the task that holds it. `decideTaskKey` is the law every store applies, atomically, when a task
 * asks for a key (`Store.takeTaskKey`).
 */

/**
 * - debounce: a queued holder (not started) is replaced; a started one keeps running.
 * - skip: an unfinished holder keeps the key; the asking task does not get it.
 * - cancel: an unfinished holder, queued or running, is replaced.
 */
export type TaskKeyMode = 'debounce' | 'skip' | 'cancel';

export interface TaskKeyRequest {
  /** The key, namespaced by the caller (`debounce:` or `singleton:`). */
  key: string;
  taskId: string;
  mode: TaskKeyMode;
  /** Epoch ms of the engine's clock. */
  at: number;
}

/** The stored holder of a key, with its task's row as stored (null fields: the task is gone). */
export interface TaskKeyHolder {
  taskId: string;
  /** When the holder's run of replacements began (a debounce's burst). */
  since: number;
  status: TaskStatus | null;
  attempts: number;
  leaseOwner: string | null;
}

export interface TaskKeyOutcome {
  /** Whether the asking task holds the key now. */
  taken: boolean;
  /** The holder the asking task replaced (the caller cancels it); null: none. */
  replaced: string | null;
  /** The unfinished holder that kept the key (`taken` false); null otherwise. */
  holder: string | null;
  /** When the key's run began: the replaced holder's `since` for a debounce, else `at`. */
  since: number;
}

const FINISHED: ReadonlySet<TaskStatus | null> = new Set<TaskStatus | null>([
  'COMPLETED',
  'FAILED',
  'CANCELLED',
  null,
]);

/** A holder that has not started: waiting, never attempted, held by no engine. */
function isQueued(holder: TaskKeyHolder): boolean {
  return (
    (holder.status === 'PENDING' || holder.status === 'PAUSED') &&
    holder.attempts === 0 &&
    holder.leaseOwner === null
  );
}

/** What a key request does, given the key's stored holder (null: none). */
export function decideTaskKey(holder: TaskKeyHolder | null, request: TaskKeyRequest): TaskKeyOutcome {
  const fresh: TaskKeyOutcome = { taken: true, replaced: null, holder: null, since: request.at };
  if (holder === null || FINISHED.has(holder.status)) return fresh;
  if (holder.taskId === request.taskId) return { ...fresh, since: holder.since };
  switch (request.mode) {
    case 'skip':
      return { taken: false, replaced: null, holder: holder.taskId, since: holder.since };
    case 'cancel':
      return { ...fresh, replaced: holder.taskId };
    case 'debounce':
      return isQueued(holder) ? { ...fresh, replaced: holder.taskId, since: holder.since } : fresh;
  }
}
