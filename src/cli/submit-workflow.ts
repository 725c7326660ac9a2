import {
  ErrorCode,
  InvalidStateError,
  SymphonyError,
  type ServiceRegistry,
  type Task,
  type TaskAgentKeyPair,
} from '../index.js';
import { goesAsWhole } from '../services/enqueue.js';
import type { TaskOptionsMap } from '../services/task-options.js';
import { listenForInterrupts } from './execute.js';
import { keyOptions } from './workflow-file/keys.js';
import type { LoadedWorkflowFile } from './workflow-file/load.js';
import { fairnessOptions } from './workflow-file/policies.js';
import { timeLimitOptions } from './workflow-file/time-limits.js';

/**
 * Leaves the workflow to workers, each task with the agent config it was routed to, under the
 * file's retry policy and timeout; returns how many tasks. A workflow with graph parts goes as a
 * whole (one worker coordinates it, see docs/scale-out.md). A refusal (INVALID_STATE) cancels the
 * workflow and is reported with the file's task.
 */
export async function submitToWorkers(
  registry: ServiceRegistry,
  file: string,
  spec: LoadedWorkflowFile,
  workflowId: string,
  created: readonly Task[],
  configIds: readonly string[],
  /** The file's own agent configs: a task falls back among these. */
  fileConfigIds: readonly string[],
  /** The tasks' own policies, by key or id. */
  taskOptions: TaskOptionsMap,
): Promise<number> {
  const pairs = configIds.map((configId, index): TaskAgentKeyPair => [created[index]!.id, configId]);
  const configOf = new Map(pairs);
  // The file's `concurrency` bounds a workflow that goes as a whole; plain tasks spread over the
  // workers, each bounded by its worker's --concurrency (enqueueWorkflow refuses the bound there).
  const whole = goesAsWhole(await registry.getWorkflowTracker().getWorkflowTasks(workflowId), spec.fallback);
  try {
    await registry.getEnhancedExecutor().enqueueWorkflow(workflowId, {
      agentKey: (task) => configOf.get(task.id)!,
      ...(spec.retry === undefined ? {} : { retry: spec.retry }),
      ...(spec.timeoutMs === undefined ? {} : { timeoutMs: spec.timeoutMs }),
      ...(spec.concurrency === undefined || !whole ? {} : { maxConcurrent: spec.concurrency }),
      ...timeLimitOptions(spec),
      ...fairnessOptions(spec),
      ...(spec.fallback === undefined ? {} : { fallback: { ...spec.fallback, candidates: fileConfigIds } }),
      ...keyOptions(spec),
      ...(Object.keys(taskOptions).length === 0 ? {} : { taskOptions }),
    });
  } catch (error) {
    await refuseSingleton(registry, file, workflowId, error);
    if (!SymphonyError.isInstance(error) || error.code !== ErrorCode.INVALID_STATE) throw error;
    await registry.getWorkflowTracker().cancelWorkflow(workflowId);
    const index = created.findIndex((task) => task.id === error.details.taskId);
    const where = index < 0 ? '' : `tasks[${index}] (${JSON.stringify(spec.tasks[index]!.name)}): `;
    const hint = error.details.feature === undefined ? '' : '; without --submit, symphony run runs it here';
    throw new InvalidStateError(
      `${file}: ${where}${error.message}\n(workflow ${workflowId} was cancelled${hint})`,
      error.details,
    );
  }
  return pairs.length;
}

/**
 * A run refused because an unfinished workflow holds the file's singleton key (SINGLETON_ACTIVE):
 * the workflow made for it is cancelled, and the error is thrown again naming the file (exit code 2).
 * Any other error is left to the caller.
 */
export async function refuseSingleton(
  registry: ServiceRegistry,
  file: string,
  workflowId: string,
  error: unknown,
): Promise<void> {
  if (!SymphonyError.isInstance(error) || error.code !== ErrorCode.SINGLETON_ACTIVE) return;
  await registry.getWorkflowTracker().cancelWorkflow(workflowId);
  throw new SymphonyError(error.code, `${file}: ${error.message}\n(workflow ${workflowId} was cancelled)`, {
    details: error.details,
    retryable: false,
  });
}

/**
 * SIGINT and SIGTERM while `run --submit` submits or waits: noted (the submission finishes, the
 * wait ends), not fatal; a second one exits at once.
 */
export class SignalLatch {
  interrupted = false;
  readonly signalled: Promise<void>;
  private resolve: () => void = () => {};
  private readonly stopListening: () => void;

  constructor() {
    this.signalled = new Promise<void>((resolve) => (this.resolve = resolve));
    this.stopListening = listenForInterrupts(() => {
      this.interrupted = true;
      this.resolve();
    });
  }

  dispose(): void {
    this.stopListening();
  }
}
