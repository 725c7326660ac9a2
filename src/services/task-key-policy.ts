import type { TaskKeyMode } from '../domain/task-keys.js';
import {
  InvalidArgumentError,
  InvalidStateError,
  SingletonActiveError,
  TaskNotFoundError,
} from '../errors/errors.js';
import type { ExecuteOptions } from '../engine/execution.js';
import { applyTaskCommand, type ControlEngine } from '../engine/workflow-control.js';
import type { PlanOptions } from './plan-options.js';
import { expectFields, expectInteger } from './validate.js';

/**
 * Debounce and singleton keys of an execution (docs/policies.md "Debounce and singleton"): checked
 * from the options, taken in the store (`Store.takeTaskKey`, atomic per key), and the replaced
 * holder cancelled through the task machine, as `cancelTask` does.
 */
export interface KeyPolicy {
  /** The key as stored: `debounce:<key>` or `singleton:<key>`. */
  key: string;
  mode: TaskKeyMode;
  delayMs: number;
  /** A debounce burst runs at the latest this long after its first task; null: no bound. */
  maxWaitMs: number | null;
}

function expectKey(name: string, key: unknown): string {
  if (typeof key !== 'string' || key.length === 0 || key.length > 255) {
    throw new InvalidArgumentError(
      `Expected \`${name}.key\` to be a non-empty string of at most 255 characters, got ${String(key)}`,
    );
  }
  return key;
}

/** The checked `debounce` or `singleton` of execution options; null: neither. */
export function keyPolicy(
  opts: Pick<ExecuteOptions, 'debounce' | 'singleton' | 'runAt' | 'delayMs'>,
): KeyPolicy | null {
  const { debounce, singleton } = opts;
  if (debounce !== undefined && singleton !== undefined)
    throw new InvalidArgumentError('Expected `debounce` or `singleton`, not both');
  if (debounce !== undefined) {
    const d = expectFields('debounce', debounce) as NonNullable<ExecuteOptions['debounce']>;
    if (opts.runAt !== undefined || opts.delayMs !== undefined)
      throw new InvalidArgumentError('Expected no `runAt` or `delayMs` with `debounce`: it sets the delay');
    if (d.delayMs === undefined) throw new InvalidArgumentError('Expected `debounce.delayMs`');
    const delayMs = expectInteger('debounce.delayMs', d.delayMs, 0, 0);
    const maxWaitMs =
      d.maxWaitMs === undefined ? null : expectInteger('debounce.maxWaitMs', d.maxWaitMs, 0, 0);
    return { key: `debounce:${expectKey('debounce', d.key)}`, mode: 'debounce', delayMs, maxWaitMs };
  }
  if (singleton !== undefined) {
    const s = expectFields('singleton', singleton) as NonNullable<ExecuteOptions['singleton']>;
    if (s.mode !== 'skip' && s.mode !== 'cancel')
      throw new InvalidArgumentError(
        `Expected \`singleton.mode\` to be 'skip' or 'cancel', got ${String(s.mode)}`,
      );
    return { key: `singleton:${expectKey('singleton', s.key)}`, mode: s.mode, delayMs: 0, maxWaitMs: null };
  }
  return null;
}

/** A debounce's due time for a request at `at` whose burst began at `since`: `delayMs` on, capped by `maxWaitMs`. */
export function debounceDue(policy: KeyPolicy, at: number, since: number): number {
  const runAt = at + policy.delayMs;
  return policy.maxWaitMs === null ? runAt : Math.max(at, Math.min(runAt, since + policy.maxWaitMs));
}

/** What taking a key left to do: the plan options with the debounce's due time, and a holder to cancel. */
export interface KeyTaken {
  checked: PlanOptions;
  replaced: string | null;
}

/**
 * Takes the policy's key for `taskId` in the store. A singleton that skips throws
 * SingletonActiveError when an unfinished task holds the key; a debounce's task is due `delayMs`
 * from now, capped by `maxWaitMs` from the first of its burst.
 */
export async function takeKey(
  runtime: Pick<ControlEngine, 'store'>,
  policy: KeyPolicy,
  taskId: string,
  checked: PlanOptions,
): Promise<KeyTaken> {
  const store = runtime.store;
  if (typeof store.takeTaskKey !== 'function' || typeof store.taskKeyHolder !== 'function') {
    throw new InvalidStateError(
      `Debounce and singletons need a store with takeTaskKey and taskKeyHolder (memory, SQLite or PostgreSQL); the ${store.kind} store has none`,
    );
  }
  const at = checked.readyAt;
  const outcome = await store.takeTaskKey({ key: policy.key, taskId, mode: policy.mode, at });
  if (!outcome.taken) {
    const key = policy.key.slice('singleton:'.length);
    throw new SingletonActiveError({ key, taskId, holder: outcome.holder ?? '' });
  }
  if (policy.mode !== 'debounce') return { checked, replaced: outcome.replaced };
  const runAt = debounceDue(policy, at, outcome.since);
  return {
    checked: { ...checked, runAt, readyAt: runAt },
    replaced: outcome.replaced,
  };
}

/**
 * After the new task's plan has committed: cancels the holder it replaced, through the task machine
 * (`cancelTask`; one that ended meanwhile is left as it ended). Then, if a later task replaced this
 * one while its plan was committing (that task's cancel may have come before this plan's write),
 * this one is cancelled too: a singleton's in any case, a debounce's while it has not started.
 */
export async function settleKey(
  runtime: ControlEngine,
  policy: KeyPolicy,
  taskId: string,
  replaced: string | null,
): Promise<void> {
  if (replaced !== null) await cancelQuietly(runtime, replaced);
  if ((await runtime.store.taskKeyHolder!(policy.key)) === taskId) return;
  if (policy.mode === 'debounce') {
    const row = await runtime.store.tasks.get(taskId);
    if (row?.status !== 'PENDING' || row.attempts > 0 || row.leaseOwner !== null) return;
  }
  await cancelQuietly(runtime, taskId);
}

async function cancelQuietly(runtime: ControlEngine, taskId: string): Promise<void> {
  try {
    await applyTaskCommand(runtime, taskId, 'CANCEL');
  } catch (error) {
    if (!(error instanceof InvalidStateError) && !(error instanceof TaskNotFoundError)) throw error;
  }
}
