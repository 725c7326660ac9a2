import type { Agent } from '../domain/agent.js';
import type { Task } from '../domain/task.js';
import type { ExecutionResult } from '../domain/execution-result.js';
import {
  EngineStoppedError,
  InvalidArgumentError,
  InvalidStateError,
  TaskNotFoundError,
} from '../errors/errors.js';
import { newExecution, type Execution, type ExecuteOptions } from '../engine/execution.js';
import type { TouchedTasks } from '../engine/live-executions.js';
import type { PostHook, PreHook } from '../engine/hooks.js';
import { storedState } from '../engine/task-door.js';
import { expectAgent } from '../engine/expect-agent.js';
import {
  enqueueTasks,
  enqueueWorkflow,
  type EnqueueOptions,
  type EnqueueWorkflowOptions,
  type TaskAgentKeyPair,
} from './enqueue.js';
import { ownMetadata, planFor, planOptions, type PlanOptions } from './plan-options.js';
import type { Runtime } from '../engine/runtime.js';
import { expectFields, expectId, expectInteger, expectRecord } from './validate.js';
import type { ExecuteWorkflowOptions, WorkflowAgentResolver, WorkflowResult } from './workflow-options.js';
import { WorkflowRuns } from './workflow-runs.js';
import { expectFallback, type FallbackDoors } from './fallback.js';
import { settleWorkflowKey, splitWorkflowKey, takeWorkflowKey } from './workflow-key-policy.js';
import { checkTaskOptions, expectTaskOptions, refuseRunPolicies } from './task-options.js';

/** Without a router: a run with a `fallback` policy cannot route its failed tasks. */
const noFallback: FallbackDoors = {
  route: () => {
    throw new InvalidStateError('Fallback agents need a router: run the workflow through a ServiceRegistry');
  },
  agentOf: (agentKey) => {
    throw new InvalidStateError(`No agent factory to build the agent of config ${agentKey}`);
  },
};

/** What the executor service needs of the engine. */
export type ExecutorEngine = Pick<
  Runtime,
  | 'options'
  | 'store'
  | 'committer'
  | 'workflows'
  | 'door'
  | 'control'
  | 'hooks'
  | 'executor'
  | 'decideOnStored'
  | 'executionOf'
  | 'isStopping'
  | 'reserve'
  | 'submit'
  | 'cancel'
  | 'graphs'
  | 'live'
  | 'hasLive'
  | 'holdGraph'
  | 'holdWorkflow'
  | 'holdsWorkflow'
  | 'cancelWorkflowExecutions'
>;

export interface BatchExecuteOptions extends ExecuteOptions {
  workflowId?: string;
  /** Executions of this batch running at once. @default no limit beyond the engine's */
  maxConcurrent?: number;
}

export type TaskAgentPair = readonly [taskId: string, agent: Agent];

/**
 * Runs tasks on agents: hooks, context, retries, timeouts, cancellation, bounded concurrency.
 * An agent's failure is a FAILED result; misuse rejects with a typed error.
 * @example
 * const result = await executor.executeTask(task.id, agent, workflow.id, { timeoutMs: 30_000 });
 */
export class EnhancedExecutor {
  /** The graph runs under way. */
  private readonly runs: WorkflowRuns;

  /**
   * @param defaultAgent the agent of a workflow's task when `executeWorkflow` is given neither
   *   `agent` nor `resolveAgent` (the registry routes the task to an agent config).
   * @param fallback how a run with a `fallback` policy routes a failed task again and builds its agent.
   */
  constructor(
    private readonly runtime: () => Promise<ExecutorEngine>,
    defaultAgent: WorkflowAgentResolver = () => {
      throw new InvalidArgumentError('Expected `agent` or `resolveAgent` in the options');
    },
    fallback: FallbackDoors = noFallback,
  ) {
    this.runs = new WorkflowRuns(
      (taskId, agent, workflowId, execute) => this.executeTask(taskId, agent, workflowId, execute),
      defaultAgent,
      fallback,
    );
  }

  /**
   * Runs a workflow's graph (docs/workflows.md): every task whose dependencies are done and whose
   * condition holds runs, as its dependencies end, at most `maxConcurrent` at once; the others end
   * SKIPPED. Resolves once the workflow is COMPLETED, FAILED or CANCELLED and nothing of the run is
   * still running, or once it is PAUSED with nothing running (what was held goes on when it resumes;
   * call again to wait for it). A workflow without dependencies runs all its waiting tasks. With
   * `debounce` or `singleton` the workflow holds a key first (docs/policies.md "Debounce and
   * singleton"): a skipped singleton rejects with SINGLETON_ACTIVE, a debounced run waits `delayMs`
   * and resolves CANCELLED if a later workflow replaced it meanwhile.
   * @example
   * const { status, results } = await executor.executeWorkflow(workflow.id, { agent, maxConcurrent: 10 });
   * await executor.executeWorkflow(sync.id, { agent, singleton: { key: 'nightly-sync', mode: 'skip' } });
   */
  async executeWorkflow(workflowId: string, options: ExecuteWorkflowOptions = {}): Promise<WorkflowResult> {
    const id = expectId('workflowId', workflowId);
    const { policy, rest, runtime } = await this.checkedWorkflowOptions(options);
    if (policy === null) return this.runs.run(runtime, id, rest);
    // The workflow holds the key (docs/policies.md "Debounce and singleton", "In a workflow").
    const taken = await takeWorkflowKey(runtime, policy, id);
    if (taken !== null) await settleWorkflowKey(runtime, policy, id, taken.replaced);
    return this.runs.run(runtime, id, taken?.runAt == null ? rest : { ...rest, runAt: taken.runAt });
  }

  /**
   * Checks options as `executeWorkflow` does before it runs anything (each task's own options too,
   * as their execution plans will), and runs nothing: for `symphony validate`.
   * @internal
   */
  async checkWorkflowOptions(options: ExecuteWorkflowOptions = {}): Promise<void> {
    const { rest, runtime } = await this.checkedWorkflowOptions(options);
    // A task without options of its own plans with the run's (checked here, not only per task).
    planOptions(runtime, rest);
  }

  /** The options of `executeWorkflow`, checked, with the workflow key's policy split off. */
  private async checkedWorkflowOptions(options: ExecuteWorkflowOptions) {
    const opts = expectFields('options', options) as ExecuteWorkflowOptions;
    if (opts.agent !== undefined) expectAgent(opts.agent);
    if (opts.resolveAgent !== undefined && typeof opts.resolveAgent !== 'function')
      throw new InvalidArgumentError('Expected `resolveAgent` to be a function');
    if (opts.maxConcurrent !== undefined)
      expectInteger('maxConcurrent', opts.maxConcurrent, Number.MAX_SAFE_INTEGER, 1);
    if (opts.conditions !== undefined) expectRecord('conditions', opts.conditions);
    if (opts.forEach !== undefined) expectRecord('forEach', opts.forEach);
    if (opts.until !== undefined) expectRecord('until', opts.until);
    const fallback = expectFallback(opts.fallback);
    if (fallback !== undefined && opts.agent !== undefined)
      throw new InvalidArgumentError(
        'Expected no `agent` with `fallback`: falling back routes each failed task',
      );
    if (fallback !== undefined) opts.fallback = fallback;
    const taskOptions = expectTaskOptions(opts.taskOptions);
    if (taskOptions !== undefined) opts.taskOptions = taskOptions;
    const { policy, rest } = splitWorkflowKey(opts);
    const runtime = await this.runtime();
    if (runtime.isStopping) throw new EngineStoppedError();
    // Each task's options are checked now, as its execution plan will check them.
    checkTaskOptions(rest, taskOptions, (options) => planOptions(runtime, options));
    return { policy, rest, runtime };
  }

  /**
   * Ends this engine's run of a workflow's graph, if one is under way: it launches nothing more and
   * its callers get `error`. For a worker that lost a workflow it coordinated (COORDINATION_LOST).
   * @internal
   */
  endRun(workflowId: string, error: Error): void {
    this.runs.abandon(workflowId, error);
  }

  /** Adds a hook run before every attempt; returns a function that removes it. */
  async addPreHook(hook: PreHook): Promise<() => void> {
    if (typeof hook !== 'function') throw new InvalidArgumentError('Expected a pre hook function');
    const hooks = (await this.runtime()).hooks.pre;
    hooks.push(hook);
    return () => void hooks.splice(hooks.indexOf(hook) >>> 0, 1);
  }

  /** Adds a hook run after every attempt with its outcome; returns a function that removes it. */
  async addPostHook(hook: PostHook): Promise<() => void> {
    if (typeof hook !== 'function') throw new InvalidArgumentError('Expected a post hook function');
    const hooks = (await this.runtime()).hooks.post;
    hooks.push(hook);
    return () => void hooks.splice(hooks.indexOf(hook) >>> 0, 1);
  }

  async executeTask(
    taskId: string,
    agent: Agent,
    workflowId?: string | null,
    options: ExecuteOptions = {},
  ): Promise<ExecutionResult> {
    refuseRunPolicies('executeTask', expectFields('options', options));
    const runtime = await this.runtime();
    // Decided on the row as this engine's own writes of the task left it. The execution's promise
    // is wrapped: `decideOnStored` must end at admission, not when the execution does.
    const { done } = await runtime.decideOnStored(
      async (touched) => {
        const exec = await this.prepare(runtime, taskId, agent, workflowId ?? undefined, options);
        const done = this.track(exec);
        this.admit(runtime, [exec], touched);
        runtime.submit(exec);
        return { done };
      },
      typeof taskId === 'string' ? [taskId] : [],
    );
    return done;
  }

  /**
   * Runs many tasks, at most `maxConcurrent` at once; results come in input order and one
   * failure does not stop the rest. Every pair is checked before any starts.
   */
  async batchExecute(
    pairs: readonly TaskAgentPair[],
    options: BatchExecuteOptions = {},
  ): Promise<ExecutionResult[]> {
    if (!Array.isArray(pairs))
      throw new InvalidArgumentError('Expected `pairs` to be an array of [taskId, agent]');
    const { workflowId, maxConcurrent, ...rest } = expectFields('options', options) as BatchExecuteOptions;
    const limit = expectInteger('maxConcurrent', maxConcurrent, Number.MAX_SAFE_INTEGER, 1);
    refuseRunPolicies('batchExecute', rest);
    const seen = new Set<string>();
    // A batch usually gives one agent to every task: each is checked once.
    const checked = new Set<unknown>();
    for (const pair of pairs) {
      if (!Array.isArray(pair) || pair.length !== 2) {
        throw new InvalidArgumentError('Expected every pair to be [taskId, agent]');
      }
      const id = expectId('taskId', pair[0]);
      if (seen.has(id)) throw new InvalidArgumentError(`Task ${id} appears twice in the batch`);
      seen.add(id);
      if (!checked.has(pair[1])) expectAgent(pair[1]);
      checked.add(pair[1]);
    }
    const runtime = await this.runtime();
    const ids = pairs.map(([taskId]) => taskId);
    const prepared: Execution[] = [];
    const promises = await runtime.decideOnStored(async (touched) => {
      try {
        // One read for the whole batch, not one per task.
        const rows = new Map<string, Task>();
        for (const row of await runtime.store.tasks.getMany(ids)) rows.set(row.id, row);
        // The batch's options are checked once: every task of it gets the same plan options.
        const checked = planOptions(runtime, rest);
        for (const [taskId, agent] of pairs)
          prepared.push(await this.prepare(runtime, taskId, agent, workflowId, rest, rows, checked));
      } catch (error) {
        for (const exec of prepared) exec.detach?.();
        throw error;
      }
      const promises = prepared.map((exec) => this.track(exec));
      // Executions still waiting for a lane when the engine stops are rejected before anyone
      // awaits them; the batch reports through its lanes, so these must not surface as unhandled.
      for (const promise of promises) promise.catch(() => {});
      this.admit(runtime, prepared, touched);
      return promises;
    }, ids);
    // A lane takes its next execution as soon as the previous one reaches its final state (it is
    // staged before the next one's start, in the same or an earlier commit); results still wait
    // for their commit. So the CPU work of the next executions overlaps the commit in flight.
    let next = 0;
    const startNext = (): void => {
      while (next < prepared.length) {
        const exec = prepared[next++]!;
        exec.onFinal = startNext;
        try {
          runtime.submit(exec);
          return;
        } catch (error) {
          exec.onFinal = null;
          exec.reject(error);
        }
      }
    };
    for (let i = 0; i < Math.min(limit, prepared.length); i += 1) startNext();
    return Promise.all(promises);
  }

  /**
   * Leaves a task to workers (`registry.startWorker`) instead of running it here: writes its
   * execution plan (as `executeTask` would, with the same checks) and no holder; the task stays
   * PENDING until a worker claims it. Resolves once that is committed.
   * @example
   * await executor.enqueueTask(task.id, 'summarizer', { retry: { maxAttempts: 3 } });
   */
  async enqueueTask(taskId: string, agentKey: string, options: EnqueueOptions = {}): Promise<void> {
    await this.enqueueTasks([[taskId, agentKey]], options);
  }

  /** `enqueueTask` for many tasks: every pair is checked, then all are written in one commit. */
  async enqueueTasks(pairs: readonly TaskAgentKeyPair[], options: EnqueueOptions = {}): Promise<void> {
    await enqueueTasks(this.runtime, pairs, options);
  }

  /**
   * Leaves every waiting task of a workflow to workers (see `enqueueTask`); returns their ids.
   * A workflow whose tasks have graph parts (dependencies, conditions, fan-outs, loops, waits,
   * sleeps, child workflows) goes to workers as a whole: one worker at a time coordinates it and
   * runs its graph as `executeWorkflow` does, and another takes it over if that one dies
   * (docs/scale-out.md). Conditions given in code cannot go to workers (INVALID_STATE). With
   * `debounce` or `singleton` the workflow holds a key (docs/policies.md "Debounce and singleton").
   * @example
   * const ids = await executor.enqueueWorkflow(workflow.id, { agentKey: (task) => task.tags[0] ?? 'default' });
   * await executor.enqueueWorkflow(reindex.id, { agentKey: 'indexer', debounce: { key: 'reindex', delayMs: 500 } });
   */
  async enqueueWorkflow(workflowId: string, options: EnqueueWorkflowOptions): Promise<string[]> {
    return enqueueWorkflow(this.runtime, workflowId, options);
  }

  /** Cancels a task's execution (or the stored task); see TaskManager.cancelTask. */
  async cancelTask(taskId: string): Promise<void> {
    const runtime = await this.runtime();
    const exec = runtime.executionOf(expectId('taskId', taskId));
    if (exec) runtime.cancel(exec);
    await runtime.committer.settle();
  }

  /** Counts of the executor actor: queued, in flight, limit, and its state. */
  async getStats(): Promise<{ state: string; queued: number; inFlight: number; maxConcurrency: number }> {
    const snapshot = (await this.runtime()).executor.getSnapshot();
    const { queued, inFlight, maxConcurrency } = snapshot.context;
    return { state: String(snapshot.value), queued, inFlight, maxConcurrency };
  }

  /**
   * Registers prepared executions with the runtime in one synchronous step, so two calls cannot
   * both start a task, and a batch's waiting tasks can be paused or cancelled. A task joins the
   * execution's workflow only here, once nothing can be refused any more. `touched`: the tasks
   * whose execution started or ended here since their rows were read (those rows may be stale).
   */
  private admit(runtime: ExecutorEngine, execs: readonly Execution[], touched: TouchedTasks): void {
    for (const exec of execs) {
      const id = exec.task.id;
      let refusal: Error | null = null;
      if (runtime.isStopping) refusal = new EngineStoppedError();
      else if (runtime.executionOf(id)) {
        refusal = new InvalidStateError(`Task ${id} is already being executed`, { taskId: id });
      } else if (touched.has(id)) {
        refusal = new InvalidStateError(
          `Task ${id} was executed meanwhile; read it again before executing it`,
          {
            taskId: id,
          },
        );
      } else if (runtime.workflows.isCancelled(exec.workflowId)) {
        refusal = new InvalidStateError(`Workflow ${exec.workflowId} is cancelled`, {
          workflowId: exec.workflowId,
        });
      }
      if (refusal) {
        for (const each of execs) each.detach?.();
        throw refusal;
      }
    }
    for (const exec of execs) {
      if (exec.workflowId !== null && exec.task.workflowId === null) {
        runtime.door.join(exec.task, exec.workflowId);
      }
      runtime.reserve(exec);
    }
  }

  private track(exec: Execution): Promise<ExecutionResult> {
    return new Promise<ExecutionResult>((resolve, reject) => {
      exec.resolve = resolve;
      exec.reject = reject;
    });
  }

  private async prepare(
    runtime: ExecutorEngine,
    taskId: string,
    agent: Agent,
    workflowId: string | undefined,
    options: ExecuteOptions,
    preloaded?: ReadonlyMap<string, Task>,
    /** The options' plan fields, when the caller checked them for a whole batch. */
    batchChecked?: PlanOptions,
  ): Promise<Execution> {
    const id = expectId('taskId', taskId);
    expectAgent(agent);
    const opts = expectFields('options', options) as ExecuteOptions;
    const checked = batchChecked ?? planOptions(runtime, opts);
    if (opts.signal !== undefined && !(opts.signal instanceof AbortSignal)) {
      throw new InvalidArgumentError('Expected `signal` to be an AbortSignal');
    }
    if (runtime.executionOf(id)) {
      throw new InvalidStateError(`Task ${id} is already being executed`, { taskId: id });
    }
    const task = preloaded ? preloaded.get(id) : await runtime.store.tasks.get(id);
    if (!task) throw new TaskNotFoundError(id);
    if (await runtime.control.isLeasedElsewhere(task.leaseOwner, task.leaseExpiresAt)) {
      throw new InvalidStateError(
        `Task ${id} is held by engine ${task.leaseOwner}, which is alive; steer it from here (pause, cancel) or wait for it`,
        { taskId: id, engineId: task.leaseOwner },
      );
    }
    // Waiting tasks (PENDING, or PAUSED until resumed) can be executed: the machine's tag says which.
    if (!storedState(task).hasTag('waiting')) {
      throw new InvalidStateError(
        `Task ${id} is ${task.status}; only PENDING or PAUSED tasks can be executed`,
        {
          taskId: id,
          status: task.status,
        },
      );
    }
    let wid = task.workflowId;
    if (workflowId !== undefined) {
      const given = expectId('workflowId', workflowId);
      if (wid !== null && wid !== given) {
        throw new InvalidArgumentError(`Task ${id} belongs to workflow ${wid}, not ${given}`);
      }
      wid = given;
    }
    if (wid !== null) {
      const workflow = await runtime.workflows.get(wid);
      if (workflow.row.cancelled)
        throw new InvalidStateError(`Workflow ${wid} is cancelled`, { workflowId: wid });
      // A node of a graph runs when its graph releases it (the workflow machine's node state).
      const node = workflow.actor.getSnapshot().context.graph?.nodes.get(id);
      if (node && (node.state === 'waiting' || node.state === 'deciding')) {
        throw new InvalidStateError(
          `Task ${id} is a node of workflow ${wid}'s graph that is not released (${node.state}): executeWorkflow runs it once its dependencies are done`,
          { taskId: id, workflowId: wid, node: node.state },
        );
      }
    }
    const plan = planFor(checked, task, opts.priority);
    // Options checked once for a batch share one metadata object: each execution gets its own.
    if (batchChecked !== undefined) plan.metadata = ownMetadata(plan.metadata);
    const exec = newExecution({
      id: runtime.options.idGenerator(),
      task,
      agent,
      workflowId: wid,
      ...plan,
      startedAt: runtime.options.clock.now(),
    });
    // A delayed task waits in PENDING.backoff until then, once submitted.
    if (checked.runAt !== null) task.runAfter = checked.runAt;
    const signal = opts.signal;
    if (signal) {
      const onAbort = () => runtime.cancel(exec, 'The caller aborted the execution');
      exec.signal = signal;
      signal.addEventListener('abort', onAbort, { once: true });
      exec.detach = () => signal.removeEventListener('abort', onAbort);
    }
    return exec;
  }
}
