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

/**
 * A key's stored holder (a task, or a workflow: src/domain/workflow-keys.ts) as the law sees it:
 * finished (the key is free), queued (not started: a debounce replaces it) or started.
 */
export interface KeyHolderState {
  id: string;
  since: number;
  state: 'finished' | 'queued' | 'started';
}

/** The law of every key, whoever holds it: what `askerId`'s request does, given the key's holder. */
export function decideKey(
  holder: KeyHolderState | null,
  askerId: string,
  mode: TaskKeyMode,
  at: number,
): TaskKeyOutcome {
  const fresh: TaskKeyOutcome = { taken: true, replaced: null, holder: null, since: at };
  if (holder === null || holder.state === 'finished') return fresh;
  if (holder.id === askerId) return { ...fresh, since: holder.since };
  switch (mode) {
    case 'skip':
      return { taken: false, replaced: null, holder: holder.id, since: holder.since };
    case 'cancel':
      return { ...fresh, replaced: holder.id };
    case 'debounce':
      return holder.state === 'queued' ? { ...fresh, replaced: holder.id, since: holder.since } : fresh;
  }
}

/** What a task's key request does, given the key's stored holder (null: none). */
export function decideTaskKey(holder: TaskKeyHolder | null, request: TaskKeyRequest): TaskKeyOutcome {
  const state =
    holder === null
      ? null
      : {
          id: holder.taskId,
          since: holder.since,
          state: FINISHED.has(holder.status)
            ? ('finished' as const)
            : isQueued(holder)
              ? ('queued' as const)
              : ('started' as const),
        };
  return decideKey(state, request.taskId, request.mode, request.at);
}
