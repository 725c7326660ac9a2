import { hasStarted } from '../domain/workflow-keys.js';
import { InvalidStateError, SingletonActiveError, WorkflowNotFoundError } from '../errors/errors.js';
import type { ExecuteOptions } from '../engine/execution.js';
import { applyWorkflowCommand, type ControlEngine } from '../engine/workflow-control.js';
import { debounceDue, keyPolicy, type KeyPolicy } from './task-key-policy.js';

/**
 * Debounce and singleton keys of a workflow (docs/policies.md "Debounce and singleton", "In a
 * workflow"): the options of `enqueueWorkflow` and `executeWorkflow`, checked as a task's are
 * (`keyPolicy`), taken in the store with the workflow as holder (`Store.takeWorkflowKey`, atomic
 * per key), and the replaced holder cancelled through the workflow machine, as `cancelWorkflow`
 * does.
 */

/** The workflow options without their key, and the checked key (null: none). */
export function splitWorkflowKey<
  T extends Pick<ExecuteOptions, 'debounce' | 'singleton' | 'runAt' | 'delayMs'>,
>(options: T): { policy: KeyPolicy | null; rest: Omit<T, 'debounce' | 'singleton'> } {
  const { debounce: _d, singleton: _s, ...rest } = options;
  return { policy: keyPolicy(options), rest };
}

/** What taking a workflow's key left to do. */
export interface WorkflowKeyTaken {
  /** A debounce's start: its tasks' first attempts not before this (epoch ms); null: at once. */
  runAt: number | null;
  /** The holder the workflow replaced (to cancel once it is planned); null: none. */
  replaced: string | null;
}

/**
 * Takes the policy's key for the workflow. A singleton that skips throws SingletonActiveError while
 * an unfinished workflow holds the key. Null, and nothing taken, when the workflow holds the key
 * already (a later call: a resume, another worker's coordination) or has ended.
 */
export async function takeWorkflowKey(
  runtime: Pick<ControlEngine, 'store' | 'committer'> & { options: { clock: { now(): number } } },
  policy: KeyPolicy,
  workflowId: string,
): Promise<WorkflowKeyTaken | null> {
  const store = runtime.store;
  if (typeof store.takeWorkflowKey !== 'function' || typeof store.workflowKeyHolder !== 'function') {
    throw new InvalidStateError(
      `Debounce and singletons of a workflow need a store with takeWorkflowKey and workflowKeyHolder (memory, SQLite or PostgreSQL); the ${store.kind} store has none`,
    );
  }
  await runtime.committer.settle();
  const row = await store.workflows.get(workflowId);
  if (!row) throw new WorkflowNotFoundError(workflowId);
  if (row.cancelled || row.status === 'COMPLETED' || row.status === 'FAILED' || row.status === 'CANCELLED')
    return null;
  if ((await store.workflowKeyHolder(policy.key)) === workflowId) return null;
  const at = runtime.options.clock.now();
  const outcome = await store.takeWorkflowKey({ key: policy.key, workflowId, mode: policy.mode, at });
  if (!outcome.taken) {
    const key = policy.key.slice('singleton:'.length);
    throw new SingletonActiveError({ key, workflowId, holder: outcome.holder ?? '' });
  }
  const runAt = policy.mode === 'debounce' ? debounceDue(policy, at, outcome.since) : null;
  return { runAt, replaced: outcome.replaced };
}

/**
 * Once the workflow is planned (handed to workers, or its run about to start): cancels the holder it
 * replaced, through the workflow machine (one that ended meanwhile is left as it ended). Then, if a
 * later workflow replaced this one meanwhile (its cancel may have come before this one's plan),
 * this one is cancelled too: a singleton's in any case, a debounce's while none of its tasks started.
 */
export async function settleWorkflowKey(
  runtime: ControlEngine,
  policy: KeyPolicy,
  workflowId: string,
  replaced: string | null,
): Promise<void> {
  if (replaced !== null) await cancelQuietly(runtime, replaced);
  if ((await runtime.store.workflowKeyHolder!(policy.key)) === workflowId) return;
  if (policy.mode === 'debounce') {
    await runtime.committer.settle();
    if (hasStarted(await runtime.store.tasks.find({ where: { workflowId } }))) return;
  }
  await cancelQuietly(runtime, workflowId);
}

/** Whether the workflow lost its key meanwhile: a refusal of its plan is then the replacement's doing. */
export async function lostKey(
  runtime: ControlEngine,
  policy: KeyPolicy,
  workflowId: string,
): Promise<boolean> {
  return (await runtime.store.workflowKeyHolder!(policy.key)) !== workflowId;
}

async function cancelQuietly(runtime: ControlEngine, workflowId: string): Promise<void> {
  try {
    await applyWorkflowCommand(runtime, workflowId, 'CANCEL');
  } catch (error) {
    if (!(error instanceof InvalidStateError) && !(error instanceof WorkflowNotFoundError)) throw error;
  }
}
