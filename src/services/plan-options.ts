import { ErrorCode } from '../errors/codes.js';
import { InvalidArgumentError } from '../errors/errors.js';
import { expectRateLimits, type RateLimit } from '../domain/rate-limit.js';
import type { Task } from '../domain/task.js';
import type { ExecuteOptions } from '../engine/execution.js';
import { copyRecord } from '../engine/payload.js';
import { expectRetryPolicy } from '../engine/retry-policy.js';
import { rankOf } from '../engine/queue-order.js';
import type { ExecutorEngine } from './enhanced-executor.js';
import { expectInteger, expectRecord } from './validate.js';

/**
 * The options of an execution plan (retry, timeout, metadata, time limits, fairness key), checked
 * once, and the plan fields of one task from them: shared by executeTask, batchExecute and
 * enqueueTasks (src/services/enqueue.ts).
 */

/** The checked options of an execution plan that do not depend on the task. */
export interface PlanOptions {
  policy: ReturnType<typeof expectRetryPolicy>;
  timeoutMs: number;
  metadata: Record<string, unknown>;
  /** When the plans' wait starts (now) and the engine's aging rate: what their rank is made of. */
  readyAt: number;
  agingMs: number;
  /** A delayed task's first due time (epoch ms); null: at once. Goes to the row's `runAfter`. */
  runAt: number | null;
  deadline: number | null;
  closeBy: number | null;
  heartbeatTimeoutMs: number;
  concurrencyKey: string | null;
  keyConcurrency: number;
  /** Token buckets of the key; empty: none. */
  keyRateLimits: RateLimit[];
}

/** A whole number of ms >= 0 (`name` for the message), or undefined when not given. */
function optionalMs(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidArgumentError(
      `Expected \`${name}\` to be a whole number of milliseconds >= 0, got ${String(value)}`,
    );
  }
  return value;
}

/** An absolute time given directly (`at`) or as ms from now (`inMs`), not both; null: neither. */
function dueTime(now: number, atName: string, at: unknown, inName: string, inMs: unknown): number | null {
  const absolute = optionalMs(atName, at);
  const relative = optionalMs(inName, inMs);
  if (absolute !== undefined && relative !== undefined)
    throw new InvalidArgumentError(`Expected \`${atName}\` or \`${inName}\`, not both`);
  if (absolute !== undefined) return absolute;
  return relative === undefined ? null : now + relative;
}

/** The time options of an execution (docs/policies.md "Delays, deadlines and timeouts"), checked. */
function timingOptions(now: number, opts: ExecuteOptions) {
  const closeIn = optionalMs('scheduleToCloseMs', opts.scheduleToCloseMs);
  return {
    runAt: dueTime(now, 'runAt', opts.runAt, 'delayMs', opts.delayMs),
    deadline: dueTime(now, 'deadline', opts.deadline, 'scheduleToStartMs', opts.scheduleToStartMs),
    closeBy: closeIn === undefined ? null : now + closeIn,
    heartbeatTimeoutMs: optionalMs('heartbeatTimeoutMs', opts.heartbeatTimeoutMs) ?? 0,
  };
}

/** Checks the options that go into a task's execution plan (executeTask and enqueueTask). */
export function planOptions(runtime: ExecutorEngine, opts: ExecuteOptions): PlanOptions {
  const policy = expectRetryPolicy(opts.retry, runtime.options.retry);
  const timeoutMs = opts.timeoutMs === undefined ? runtime.options.timeoutMs : opts.timeoutMs;
  if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0) || !Number.isFinite(timeoutMs)) {
    throw new InvalidArgumentError(
      `Expected \`timeoutMs\` to be a finite number >= 0, got ${String(timeoutMs)}`,
    );
  }
  // Kept in the task's execution plan (a JSON column) while it runs: checked and copied as a payload.
  const metadata =
    opts.metadata === undefined
      ? {}
      : copyRecord(
          expectRecord('metadata', opts.metadata),
          'metadata',
          runtime.options.maxPayloadBytes,
          ErrorCode.INPUT_NOT_SERIALIZABLE,
        );
  const now = runtime.options.clock.now();
  const timing = timingOptions(now, opts);
  // A delayed task's wait (what aging counts) starts when it is due.
  return {
    policy,
    timeoutMs,
    metadata,
    readyAt: timing.runAt ?? now,
    agingMs: runtime.options.agingMs,
    ...timing,
    ...fairnessKey(opts),
  };
}

/**
 * The checked `concurrencyKey`, `keyConcurrency` (0: no limit) and `keyRateLimits` (empty: none)
 * of execution options.
 */
export function fairnessKey(
  opts: Pick<ExecuteOptions, 'concurrencyKey' | 'keyConcurrency' | 'keyRateLimits'>,
): {
  concurrencyKey: string | null;
  keyConcurrency: number;
  keyRateLimits: RateLimit[];
} {
  const { concurrencyKey, keyConcurrency, keyRateLimits } = opts;
  if (concurrencyKey === undefined) {
    if (keyConcurrency !== undefined)
      throw new InvalidArgumentError('Expected `keyConcurrency` only with a `concurrencyKey`');
    if (keyRateLimits !== undefined)
      throw new InvalidArgumentError('Expected `keyRateLimits` only with a `concurrencyKey`');
    return { concurrencyKey: null, keyConcurrency: 0, keyRateLimits: [] };
  }
  if (typeof concurrencyKey !== 'string' || concurrencyKey.length === 0 || concurrencyKey.length > 255) {
    throw new InvalidArgumentError(
      `Expected \`concurrencyKey\` to be a non-empty string of at most 255 characters, got ${String(concurrencyKey)}`,
    );
  }
  return {
    concurrencyKey,
    keyConcurrency: keyConcurrency === undefined ? 0 : expectInteger('keyConcurrency', keyConcurrency, 0, 1),
    keyRateLimits: expectRateLimits('keyRateLimits', keyRateLimits) ?? [],
  };
}

/**
 * A task's own copy of metadata its batch's options share (an attempt's hooks see a shallow copy
 * of its execution's metadata: no task's may reach another's nested objects).
 */
export function ownMetadata(metadata: Record<string, unknown>): Record<string, unknown> {
  return Object.keys(metadata).length === 0 ? {} : structuredClone(metadata);
}

/** An execution plan's fields for one task, from its checked options. */
export function planFor(checked: PlanOptions, task: Task, priority: unknown) {
  const checkedPriority = expectInteger('priority', priority, task.priority);
  // Named fields, not a rest-and-spread of `checked`: this runs once per task of a batch.
  return {
    policy: checked.policy,
    timeoutMs: checked.timeoutMs,
    metadata: checked.metadata,
    runAt: checked.runAt,
    deadline: checked.deadline,
    closeBy: checked.closeBy,
    heartbeatTimeoutMs: checked.heartbeatTimeoutMs,
    concurrencyKey: checked.concurrencyKey,
    keyConcurrency: checked.keyConcurrency,
    keyRateLimits: checked.keyRateLimits,
    attemptLimit: task.attempts + checked.policy.maxAttempts,
    priority: checkedPriority,
    rank: rankOf(checkedPriority, checked.readyAt, checked.agingMs),
  };
}
