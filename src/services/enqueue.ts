import type { Task, TaskGraph } from '../domain/task.js';
import type { Workflow } from '../domain/workflow.js';
import type { WorkflowPlan } from '../repositories/workflow-runs.js';
import { expectFallback, type FallbackPolicy } from './fallback.js';
import {
  EngineStoppedError,
  InvalidArgumentError,
  InvalidStateError,
  TaskNotFoundError,
  WorkflowNotFoundError,
} from '../errors/errors.js';
import type { ExecuteOptions } from '../engine/execution.js';
import { storedState } from '../engine/task-door.js';
import { planFor, planOptions, type PlanOptions } from './plan-options.js';
import { planOf } from '../engine/task-rows.js';
import type { ExecutorEngine } from './enhanced-executor.js';
import { expectFields, expectId, expectInteger } from './validate.js';
import { keyPolicy, settleKey, takeKey } from './task-key-policy.js';
import { lostKey, settleWorkflowKey, splitWorkflowKey, takeWorkflowKey } from './workflow-key-policy.js';
import {
  checkTaskOptions,
  expectTaskNames,
  expectTaskOptions,
  ownOptionsById,
  withTaskOptions,
  type TaskExecuteOptions,
  type TaskOptionsMap,
} from './task-options.js';

/**
 * Execution plans, and leaving tasks to workers (`EnhancedExecutor.enqueueTask` and its kin): the
 * plan is built and checked as `executeTask` builds it, and written with no holder.
 */

/** How enqueued tasks run once a worker takes them: `ExecuteOptions` without the caller's `signal`. */
export type EnqueueOptions = Omit<ExecuteOptions, 'signal'>;

/** A task left to workers and the agent config (or agent id) that runs it. */
export type TaskAgentKeyPair = readonly [taskId: string, agentKey: string];

export interface EnqueueWorkflowOptions extends EnqueueOptions {
  /**
   * The agent config (or agent id) that runs each task: one for all, or one per task. In a workflow
   * with graph parts, a task made later (a fan-out's item, a loop's iteration) runs on its maker's.
   */
  agentKey: string | ((task: Readonly<Task>) => string);
  /** A workflow with graph parts: executions of it running at once. @default no limit beyond the coordinator's */
  maxConcurrent?: number;
  /**
   * Fallback agents (`ExecuteWorkflowOptions.fallback`, docs/policies.md): the workflow goes to
   * workers as a whole, and its coordinator falls back to other agent configs for tasks that fail
   * for good. @default off
   */
  fallback?: FallbackPolicy;
  /**
   * Debounce the workflow (as `ExecuteWorkflowOptions.debounce`): its tasks are due `delayMs` from
   * now; a later workflow with the key replaces this one while none of its tasks started (this one
   * ends CANCELLED, its tasks too). @default none
   */
  debounce?: EnqueueOptions['debounce'];
  /**
   * Singleton workflow (as `ExecuteWorkflowOptions.singleton`): `skip` rejects with
   * SingletonActiveError while another workflow of the key is unfinished, handing nothing to workers;
   * `cancel` cancels that one. @default none
   */
  singleton?: EnqueueOptions['singleton'];
  /**
   * Options of single tasks, by task key or id, over these (`ExecuteWorkflowOptions.taskOptions`):
   * they go into each task's execution plan (a workflow with graph parts: into its plan, for its
   * coordinator). @default none
   */
  taskOptions?: TaskOptionsMap;
}

/** The graph part of a task (null: none), which makes a workflow go to workers as a whole. */
export function graphFeature(graph: TaskGraph | null): string | null {
  if (graph === null) return null;
  if (graph.dependsOn.length > 0) return 'dependsOn';
  for (const feature of ['when', 'forEach', 'loop', 'waitFor', 'workflow', 'sleep'] as const) {
    if (graph[feature] !== null && graph[feature] !== undefined) return feature;
  }
  return null;
}

/**
 * Whether `enqueueWorkflow` hands a workflow of these tasks to workers as a whole (one coordinator
 * runs its graph, `maxConcurrent` bounds it): it has graph parts, or fallback agents (its
 * coordinator falls back). Otherwise its tasks go to the workers one by one.
 */
export function goesAsWhole(tasks: ReadonlyArray<Pick<Task, 'graph'>>, fallback: unknown): boolean {
  return fallback !== undefined || tasks.some((task) => graphFeature(task.graph) !== null);
}

/** See `EnhancedExecutor.enqueueTasks`; `own`: a task's own options over `options`, by task id. */
export async function enqueueTasks(
  engine: () => Promise<ExecutorEngine>,
  pairs: readonly TaskAgentKeyPair[],
  options: EnqueueOptions = {},
  own?: ReadonlyMap<string, TaskExecuteOptions>,
): Promise<void> {
  if (!Array.isArray(pairs))
    throw new InvalidArgumentError('Expected `pairs` to be an array of [taskId, agentKey]');
  const seen = new Set<string>();
  for (const pair of pairs) {
    if (!Array.isArray(pair) || pair.length !== 2) {
      throw new InvalidArgumentError('Expected every pair to be [taskId, agentKey]');
    }
    const id = expectId('taskId', pair[0]);
    if (seen.has(id)) throw new InvalidArgumentError(`Task ${id} appears twice in the batch`);
    seen.add(id);
    expectId('agentKey', pair[1]);
  }
  const opts = expectFields('options', options) as EnqueueOptions;
  if ((opts as ExecuteOptions).signal !== undefined)
    throw new InvalidArgumentError('Expected no `signal`: an enqueued task runs in a worker');
  const runtime = await engine();
  if (runtime.isStopping) throw new EngineStoppedError();
  const keyed = keyPolicy(opts);
  if (keyed !== null && pairs.length !== 1)
    throw new InvalidArgumentError('Expected one task with `debounce` or `singleton`: one task holds a key');
  let checked = planOptions(runtime, opts);
  let replaced: string | null = null;
  const ids = pairs.map(([taskId]) => taskId);
  await runtime.decideOnStored(async (touched) => {
    const rows = new Map<string, Task>();
    for (const row of await runtime.store.tasks.getMany(ids)) rows.set(row.id, row);
    const planned: Task[] = [];
    const workflows = new Map<string, Promise<boolean>>();
    const cancelled = (wid: string): Promise<boolean> => {
      let known = workflows.get(wid);
      if (known === undefined) {
        known = runtime.store.workflows.get(wid).then((workflow) => workflow?.cancelled === true);
        workflows.set(wid, known);
      }
      return known;
    };
    for (const [taskId, agentKey] of pairs) {
      const task = rows.get(taskId);
      if (!task) throw new TaskNotFoundError(taskId);
      if (touched.has(taskId) || runtime.executionOf(taskId)) {
        throw new InvalidStateError(`Task ${taskId} is being executed by this engine`, { taskId });
      }
      const feature = graphFeature(task.graph);
      if (feature !== null) {
        throw new InvalidStateError(
          `Task ${taskId} is a graph node with \`${feature}\`: workers run plain tasks, not graphs; run its workflow with executeWorkflow`,
          { taskId, feature },
        );
      }
      if (await runtime.control.isLeasedElsewhere(task.leaseOwner, task.leaseExpiresAt)) {
        throw new InvalidStateError(`Task ${taskId} is held by engine ${task.leaseOwner}, which is alive`, {
          taskId,
          engineId: task.leaseOwner,
        });
      }
      if (!storedState(task).hasTag('waiting')) {
        throw new InvalidStateError(
          `Task ${taskId} is ${task.status}; only PENDING or PAUSED tasks can be enqueued`,
          { taskId, status: task.status },
        );
      }
      if (task.workflowId !== null && (await cancelled(task.workflowId))) {
        throw new InvalidStateError(`Workflow ${task.workflowId} is cancelled`, {
          workflowId: task.workflowId,
        });
      }
      if (keyed !== null) ({ checked, replaced } = await takeKey(runtime, keyed, taskId, checked));
      const ownOptions = own?.get(taskId);
      const plan =
        ownOptions === undefined ? checked : planOptions(runtime, withTaskOptions(opts, ownOptions));
      planned.push(task);
      task.execution = planOf({ agentKey, ...planFor(plan, task, opts.priority) });
      // A delayed task: claims take it once due (they honour `runAfter`, as for a retry's backoff).
      if (plan.runAt !== null) task.runAfter = plan.runAt;
      task.leaseOwner = null;
      task.leaseExpiresAt = null;
    }
    for (const task of planned) runtime.committer.stageTaskState(task);
  }, ids);
  await runtime.committer.settle();
  if (keyed !== null) await settleKey(runtime, keyed, pairs[0]![0], replaced);
}

/** A condition, list or loop test given in code: held by one process, so it cannot go to workers. */
function codePart(graph: TaskGraph | null): string | null {
  if (graph === null) return null;
  const code = (part: unknown) => typeof part === 'object' && part !== null && 'code' in part;
  if (code(graph.when)) return 'when';
  if (code(graph.forEach)) return 'forEach';
  if (code(graph.loop?.until)) return 'loop.until';
  return null;
}

/** See `EnhancedExecutor.enqueueWorkflow`. */
export async function enqueueWorkflow(
  engine: () => Promise<ExecutorEngine>,
  workflowId: string,
  options: EnqueueWorkflowOptions,
): Promise<string[]> {
  const id = expectId('workflowId', workflowId);
  const { agentKey, maxConcurrent, fallback, taskOptions, ...keyed } = expectFields(
    'options',
    options,
  ) as unknown as EnqueueWorkflowOptions;
  // The workflow holds the key (docs/policies.md "Debounce and singleton", "In a workflow").
  const { policy, rest } = splitWorkflowKey(keyed);
  const fallbackPolicy = expectFallback(fallback);
  const ownMap = expectTaskOptions(taskOptions);
  if (typeof agentKey !== 'string' && typeof agentKey !== 'function')
    throw new InvalidArgumentError('Expected `agentKey` to be a string or a function of the task');
  if (maxConcurrent !== undefined) expectInteger('maxConcurrent', maxConcurrent, 1, 1);
  const runtime = await engine();
  // Checked before the key is taken: a refused workflow leaves the key as it was.
  const handOver = await prepareHandOver(engine, runtime, id, {
    ...rest,
    agentKey,
    maxConcurrent,
    fallback: fallbackPolicy,
    taskOptions: ownMap,
  });
  const taken = policy === null ? null : await takeWorkflowKey(runtime, policy, id);
  let ids: string[] = [];
  try {
    ids = await handOver(taken?.runAt ?? null);
  } catch (error) {
    // Replaced while being handed over (its tasks or itself cancelled by the new holder): it ends so.
    if (taken === null || !(error instanceof InvalidStateError) || !(await lostKey(runtime, policy!, id)))
      throw error;
  }
  if (taken !== null) await settleWorkflowKey(runtime, policy!, id, taken.replaced);
  return ids;
}

/**
 * Checks how the workflow's waiting tasks go to workers, one by one or as a whole, and returns what
 * hands them over (`runAt`: a debounce's start), resolving to their ids.
 */
async function prepareHandOver(
  engine: () => Promise<ExecutorEngine>,
  runtime: ExecutorEngine,
  id: string,
  options: Omit<EnqueueWorkflowOptions, 'fallback' | 'debounce' | 'singleton' | 'taskOptions'> & {
    fallback: FallbackPolicy | undefined;
    taskOptions: TaskOptionsMap | undefined;
  },
): Promise<(runAt: number | null) => Promise<string[]>> {
  const { agentKey, maxConcurrent, fallback: fallbackPolicy, taskOptions: ownMap, ...rest } = options;
  const workflow = await runtime.store.workflows.get(id);
  if (!workflow) throw new WorkflowNotFoundError(id);
  const all = await runtime.store.tasks.find({ where: { workflowId: id }, orderBy: 'id' });
  const names = new Set(all.flatMap((task) => [task.id, ...(task.graph?.key ? [task.graph.key] : [])]));
  expectTaskNames(ownMap, id, (name) => names.has(name));
  checkTaskOptions(rest, ownMap, (opts) => planOptions(runtime, opts));
  const own = ownOptionsById(ownMap, all);
  const tasks = all.filter((task) => storedState(task).hasTag('waiting'));
  const pairs = tasks.map((task): TaskAgentKeyPair => [
    task.id,
    expectId('agentKey', typeof agentKey === 'string' ? agentKey : agentKey(task)),
  ]);
  if (!goesAsWhole(all, fallbackPolicy)) {
    if (maxConcurrent !== undefined)
      throw new InvalidArgumentError('Expected no `maxConcurrent`: it limits a workflow with graph parts');
    return async (runAt) => {
      await enqueueTasks(engine, pairs, runAt === null ? rest : { ...rest, runAt }, own);
      return pairs.map(([taskId]) => taskId);
    };
  }
  const plan = graphPlan(runtime, workflow, all, pairs, {
    ...rest,
    maxConcurrent,
    agentKey,
    fallback: fallbackPolicy,
    taskOptions: ownMap,
  });
  // One worker at a time coordinates it and runs its graph as `executeWorkflow` does (docs/scale-out.md).
  return async (runAt) => {
    const at = runtime.options.clock.now();
    await runtime.store.submitWorkflow!(id, runAt === null ? plan : { ...plan, runAt }, at);
    return pairs.map(([taskId]) => taskId);
  };
}

/** `planOptions` of a workflow handed to workers as a whole (`goesAsWhole`): they take it without time limits. */
export function untimedPlanOptions(runtime: ExecutorEngine, opts: EnqueueOptions): PlanOptions {
  const plan = planOptions(runtime, opts);
  if (plan.runAt !== null || plan.deadline !== null || plan.closeBy !== null || plan.heartbeatTimeoutMs > 0)
    throw new InvalidArgumentError(
      'Expected no time limits (`runAt`, `delayMs`, `deadline`, `scheduleToStartMs`, `scheduleToCloseMs`, `heartbeatTimeoutMs`) when handing a workflow with graph parts to workers',
    );
  return plan;
}

/**
 * The plan a workflow with graph parts is handed to workers with as a whole (`Store.submitWorkflow`),
 * checked: a store that can take it, no code a worker cannot run, no time limits.
 */
function graphPlan(
  runtime: ExecutorEngine,
  workflow: Workflow,
  all: readonly Task[],
  pairs: readonly TaskAgentKeyPair[],
  options: EnqueueOptions & {
    maxConcurrent: number | undefined;
    agentKey: EnqueueWorkflowOptions['agentKey'];
    fallback: FallbackPolicy | undefined;
    taskOptions: TaskOptionsMap | undefined;
  },
): WorkflowPlan {
  const store = runtime.store;
  if (typeof store.submitWorkflow !== 'function') {
    throw new InvalidStateError(
      `Workflow ${workflow.id} has graph parts; handing it to workers needs a store with submitWorkflow (memory, SQLite or PostgreSQL), the ${store.kind} store given has none`,
      { workflowId: workflow.id },
    );
  }
  if (workflow.cancelled) {
    throw new InvalidStateError(`Workflow ${workflow.id} is cancelled`, { workflowId: workflow.id });
  }
  for (const task of all) {
    const part = codePart(task.graph);
    if (part !== null) {
      throw new InvalidStateError(
        `Task ${task.id} has a \`${part}\` given in code, which only the process that gave it holds: workers cannot run it; use a CEL expression, or run the workflow with executeWorkflow`,
        { taskId: task.id, feature: part },
      );
    }
  }
  const untimed = (opts: EnqueueOptions) => untimedPlanOptions(runtime, opts);
  const checked = untimed(options);
  // A task's own time limits are refused as the run's are.
  const { taskOptions } = options;
  checkTaskOptions(options, taskOptions, untimed);
  const plan: WorkflowPlan = {
    agentKey: typeof options.agentKey === 'string' ? options.agentKey : null,
    agentKeys: Object.fromEntries(pairs),
    retry: checked.policy,
    timeoutMs: checked.timeoutMs,
    metadata: checked.metadata,
    maxConcurrent: options.maxConcurrent ?? null,
    ...(options.priority === undefined ? {} : { priority: expectInteger('priority', options.priority, 0) }),
    ...(checked.concurrencyKey === null ? {} : { concurrencyKey: checked.concurrencyKey }),
    ...(checked.keyConcurrency === 0 ? {} : { keyConcurrency: checked.keyConcurrency }),
    ...(checked.keyRateLimits.length === 0 ? {} : { keyRateLimits: checked.keyRateLimits }),
    ...(options.fallback === undefined ? {} : { fallback: options.fallback }),
    ...(taskOptions === undefined || Object.keys(taskOptions).length === 0 ? {} : { taskOptions }),
  };
  return plan;
}
