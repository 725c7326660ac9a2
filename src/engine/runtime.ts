import type { Actor, ActorOptions, AnyActorLogic } from 'xstate';
import { agentMachine, type SettledExecution } from '../../machines/agent.machine.js';
import { engineMachine } from '../../machines/engine.machine.js';
import { executorMachine, type ExecutorMachine } from '../../machines/executor.machine.js';
import type { RouterMachine } from '../../machines/router.machine.js';
import { taskMachine, taskStatusOf, type TaskMachine } from '../../machines/task.machine.js';
import type { Agent } from '../domain/agent.js';
import type { ExecutionResult } from '../domain/execution-result.js';
import type { Task } from '../domain/task.js';
import { EngineStoppedError, ExecutionCancelledError, ExecutionTimeoutError } from '../errors/errors.js';
import { normalizeError } from '../errors/normalize.js';
import { ErrorCode } from '../errors/codes.js';
import { checkPayload } from './payload.js';
import type { Store } from '../repositories/store.js';
import { createLoadTable, type LoadTable } from '../routing/load-table.js';
import { actorOptions, createTaskActor, startActor } from './actors.js';
import { AttemptContext, abortAttempt, runAttempt, type AttemptResult } from './attempt.js';
import { Committer } from './committer.js';
import type { Execution } from './execution.js';
import type { Hooks } from './hooks.js';
import type { ResolvedEngineOptions } from './options.js';
import { PriorityQueue } from './priority-queue.js';
import { isRetryable, retryDelay } from './retry-policy.js';
import { WorkflowActors } from './workflows.js';

type AgentRef = Actor<typeof agentMachine>;

/**
 * The moving part of an engine: the actor system (executor, agents, router), the live workflow
 * and task actors, the queues, and the group committer. Services validate arguments and call in.
 */
export class Runtime {
  readonly committer: Committer;
  readonly workflows: WorkflowActors;
  readonly load: LoadTable;
  readonly hooks: Hooks = { pre: [], post: [] };
  readonly actorOptions: ActorOptions<AnyActorLogic>;
  readonly engine: Actor<typeof engineMachine>;
  readonly executor: Actor<ExecutorMachine>;
  readonly router: Actor<RouterMachine>;
  private readonly taskLogic: TaskMachine;
  private readonly byId = new Map<string, Execution>();
  private readonly byTask = new Map<string, Execution>();
  private readonly queues = new Map<string, PriorityQueue<Execution>>();
  private readonly withWork = new Set<string>();
  private readonly agents = new Map<string, AgentRef>();
  private settling: Execution[] = [];
  private pumpScheduled = false;
  private pumping = false;
  /** Executions queued since the executor was last told (sent as one ENQUEUED). */
  private unannounced = 0;
  private settleScheduled = false;
  private stopping = false;

  constructor(
    readonly options: ResolvedEngineOptions,
    readonly store: Store,
  ) {
    this.actorOptions = actorOptions(options);
    this.committer = new Committer(store);
    this.workflows = new WorkflowActors(store, this.committer, options.clock, this.actorOptions);
    this.load = createLoadTable();
    this.taskLogic = taskMachine.provide({
      actions: {
        retryDue: ({ context }) => this.onRetryDue(context.taskId),
        timedOut: ({ context }) => this.onTimeout(context.taskId),
      },
    });
    const agentLogic = agentMachine.provide({
      actions: {
        startExecutions: ({ context }, { executionIds }) => this.startAttempts(context.agentId, executionIds),
        reportSettled: ({ context }, { executions }) => this.reportSettled(context.agentId, executions),
        refuseExecutions: (_, { executionIds }) => this.refuse(executionIds),
      },
    });
    const logic = engineMachine.provide({
      actors: {
        executor: executorMachine.provide({
          actions: { pump: () => this.schedulePump() },
          actors: { agent: agentLogic },
        }),
      },
    });
    this.engine = startActor(logic, {
      ...this.actorOptions,
      id: 'engine',
      input: {
        executor: { maxConcurrency: options.maxConcurrency },
        router: { strategy: options.routingStrategy },
      },
    });
    this.executor = this.engine.system.get('executor') as Actor<ExecutorMachine>;
    this.router = this.engine.system.get('router') as Actor<RouterMachine>;
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  /** The live execution of a task, if it is queued, running or waiting to retry. */
  executionOf(taskId: string): Execution | undefined {
    return this.byTask.get(taskId);
  }

  /** Queues an execution; it settles with its result once the final state has committed. */
  submit(exec: Execution): void {
    if (this.stopping) throw new EngineStoppedError();
    this.byId.set(exec.id, exec);
    this.byTask.set(exec.task.id, exec);
    this.ensureAgent(exec.agent, exec.agentKey);
    if (exec.cancelRequested) {
      this.finishCancelled(exec);
      return;
    }
    if (exec.task.status === 'PAUSED') {
      exec.phase = 'held';
      return;
    }
    this.enqueue(exec);
  }

  /** Puts held executions of a workflow (or one task) back in their queues. */
  release(filter: (exec: Execution) => boolean): void {
    for (const exec of this.byTask.values()) {
      if (exec.phase === 'held' && exec.task.status !== 'PAUSED' && filter(exec)) this.enqueue(exec);
    }
  }

  /** Holds a queued or waiting execution (its task is being paused). */
  hold(exec: Execution): void {
    this.announce();
    if (exec.phase === 'queued') this.executor.send({ type: 'DEQUEUED', count: 1 });
    exec.phase = 'held';
  }

  /** Cancels a live execution: a running attempt is aborted and its slot freed at once. */
  cancel(exec: Execution, reason = 'The task was cancelled'): void {
    if (exec.phase === 'done') return;
    exec.cancelRequested = true;
    if (exec.phase === 'running') {
      exec.token += 1;
      abortAttempt(exec, new ExecutionCancelledError(reason));
      this.queueSettle(exec, { ok: false, error: new ExecutionCancelledError(reason) });
      return;
    }
    this.announce();
    if (exec.phase === 'queued') this.executor.send({ type: 'DEQUEUED', count: 1 });
    this.finishCancelled(exec);
  }

  private ensureAgent(agent: Agent, key: string): void {
    if (this.agents.has(key)) return;
    const limit = agent.maxConcurrency ?? Number.MAX_SAFE_INTEGER;
    this.executor.send({ type: 'REGISTER_AGENT', agentId: key, maxConcurrency: limit });
    this.agents.set(key, this.engine.system.get(`agent:${key}`) as AgentRef);
  }

  private enqueue(exec: Execution): void {
    exec.phase = 'queued';
    let queue = this.queues.get(exec.agentKey);
    if (!queue) {
      queue = new PriorityQueue<Execution>();
      this.queues.set(exec.agentKey, queue);
    }
    queue.push(exec, exec.priority);
    this.withWork.add(exec.agentKey);
    this.unannounced += 1;
    this.schedulePump();
  }

  /** Tells the executor about executions queued since it last heard. */
  private announce(): void {
    if (this.unannounced === 0) return;
    const count = this.unannounced;
    this.unannounced = 0;
    this.executor.send({ type: 'ENQUEUED', count });
  }

  private schedulePump(): void {
    if (this.pumpScheduled || this.pumping) return;
    this.pumpScheduled = true;
    queueMicrotask(() => this.pump());
  }

  /** Moves queued executions into free slots, within the global and each agent's limit. */
  private pump(): void {
    this.pumpScheduled = false;
    this.pumping = true;
    try {
      this.announce();
      this.dispatch();
    } finally {
      this.pumping = false;
    }
  }

  private dispatch(): void {
    const executor = this.executor.getSnapshot();
    if (executor.status !== 'active' || this.stopping) return;
    let free = executor.context.maxConcurrency - executor.context.inFlight;
    let held = 0;
    let dispatched = 0;
    const runs: Array<[AgentRef, string[]]> = [];
    const served: string[] = [];
    for (const key of this.withWork) {
      if (free <= 0) break;
      const queue = this.queues.get(key)!;
      const agent = this.agents.get(key)!.getSnapshot().context;
      let room = agent.maxConcurrency - agent.inFlight;
      const batch: string[] = [];
      while (room > 0 && free > 0 && queue.size > 0) {
        const exec = queue.shift()!;
        if (exec.phase !== 'queued') continue;
        if (this.workflows.isPaused(exec.workflowId)) {
          exec.phase = 'held';
          held += 1;
          continue;
        }
        exec.phase = 'running';
        batch.push(exec.id);
        room -= 1;
        free -= 1;
      }
      served.push(key);
      if (batch.length > 0) {
        runs.push([this.agents.get(key)!, batch]);
        dispatched += batch.length;
      }
    }
    for (const key of served) {
      this.withWork.delete(key);
      if (this.queues.get(key)!.size > 0) this.withWork.add(key);
    }
    if (held > 0) this.executor.send({ type: 'DEQUEUED', count: held });
    if (dispatched > 0) this.executor.send({ type: 'DISPATCHED', count: dispatched });
    for (const [agent, executionIds] of runs) agent.send({ type: 'RUN', executionIds });
  }

  private startAttempts(agentKey: string, executionIds: readonly string[]): void {
    this.load.trigger.started({ agentId: agentKey, count: executionIds.length });
    for (const id of executionIds) {
      const exec = this.byId.get(id);
      if (exec) this.beginAttempt(exec);
    }
  }

  private beginAttempt(exec: Execution): void {
    const now = this.options.clock.now();
    const task = exec.task;
    exec.actor ??= createTaskActor(this.taskLogic, task, exec.attemptLimit, this.actorOptions);
    const from = task.status;
    exec.actor.send({ type: 'START', timeoutMs: exec.timeoutMs });
    task.status = 'RUNNING';
    task.attempts = exec.actor.getSnapshot().context.attempts;
    task.agentId = exec.agentKey;
    task.startedAt ??= now;
    task.updatedAt = now;
    this.committer.stageTask(task);
    this.workflows.change(exec.workflowId, from, 'RUNNING');
    const token = ++exec.token;
    exec.attemptContext = null;
    const context = new AttemptContext(exec, {
      executionId: exec.id,
      task: { ...task, errors: [...task.errors] },
      workflow: exec.workflowId === null ? null : (this.workflows.peek(exec.workflowId)?.row ?? null),
      attempt: task.attempts,
      metadata: { ...exec.metadata },
    });
    void runAttempt(exec.agent, context, this.hooks).then((result) => {
      if (exec.token === token && exec.phase === 'running') this.queueSettle(exec, result);
    });
  }

  private queueSettle(exec: Execution, result: AttemptResult): void {
    exec.pending = result;
    this.settling.push(exec);
    if (this.settleScheduled) return;
    this.settleScheduled = true;
    queueMicrotask(() => this.flushSettled());
  }

  /** Applies settled attempts in one batch: task actors, then agent slots, then the executor. */
  private flushSettled(): void {
    this.settleScheduled = false;
    const settled = this.settling;
    this.settling = [];
    const byAgent = new Map<string, SettledExecution[]>();
    for (const exec of settled) {
      const result = exec.pending!;
      exec.pending = null;
      this.applyResult(exec, result);
      let list = byAgent.get(exec.agentKey);
      if (!list) byAgent.set(exec.agentKey, (list = []));
      list.push({ executionId: exec.id, ok: result.ok });
    }
    for (const [key, executions] of byAgent) this.agents.get(key)?.send({ type: 'SETTLED', executions });
    this.executor.send({ type: 'SETTLED', count: settled.length });
  }

  private applyResult(exec: Execution, result: AttemptResult): void {
    const task = exec.task;
    const actor = exec.actor!;
    const now = this.options.clock.now();
    exec.attemptContext = null;
    if (exec.cancelRequested) {
      this.finishCancelled(exec);
      return;
    }
    if (result.ok && result.output !== undefined) {
      try {
        checkPayload(
          result.output,
          'output',
          this.options.maxPayloadBytes,
          ErrorCode.OUTPUT_NOT_SERIALIZABLE,
        );
      } catch (error) {
        result = { ok: false, error };
      }
    }
    if (result.ok) {
      actor.send({ type: 'SUCCEED' });
      task.status = 'COMPLETED';
      task.outputData = result.output === undefined ? null : structuredClone(result.output);
      task.finishedAt = now;
      task.updatedAt = now;
      this.committer.stageTask(task);
      this.committer.stageCompletion({
        taskId: task.id,
        executionId: exec.id,
        attempt: task.attempts,
        completedAt: now,
      });
      this.workflows.change(exec.workflowId, 'RUNNING', 'COMPLETED');
      this.finish(exec, null);
      return;
    }
    const retryable = isRetryable(exec.policy, result.error);
    const willRetry = retryable && task.attempts < exec.attemptLimit;
    const error = normalizeError(result.error, task.attempts, now, willRetry);
    task.errors.push(error);
    const delay = willRetry ? retryDelay(exec.policy, task.attempts, this.options.random) : 0;
    actor.send({ type: 'FAIL', retryable, retryDelay: delay });
    const status = taskStatusOf(actor.getSnapshot().value);
    task.status = status;
    task.updatedAt = now;
    if (status === 'FAILED') task.finishedAt = now;
    this.committer.stageTask(task);
    this.workflows.change(exec.workflowId, 'RUNNING', status);
    if (status === 'FAILED') this.finish(exec, error);
    else exec.phase = 'backoff';
  }

  private finishCancelled(exec: Execution): void {
    const task = exec.task;
    const from = task.status;
    const now = this.options.clock.now();
    exec.actor ??= createTaskActor(this.taskLogic, task, exec.attemptLimit, this.actorOptions);
    exec.actor.send({ type: 'CANCEL' });
    task.status = taskStatusOf(exec.actor.getSnapshot().value);
    task.finishedAt = now;
    task.updatedAt = now;
    this.committer.stageTask(task);
    this.workflows.change(exec.workflowId, from, task.status);
    this.finish(exec, normalizeError(new ExecutionCancelledError(), task.attempts, now, false));
  }

  private finish(exec: Execution, error: Execution['task']['errors'][number] | null): void {
    exec.phase = 'done';
    exec.actor?.stop();
    exec.actor = null;
    exec.detach?.();
    this.byId.delete(exec.id);
    this.byTask.delete(exec.task.id);
    const task = exec.task;
    const finishedAt = task.finishedAt ?? this.options.clock.now();
    const result: ExecutionResult = {
      executionId: exec.id,
      taskId: task.id,
      agentId: exec.agent.id,
      workflowId: exec.workflowId,
      status: task.status,
      output: task.status === 'COMPLETED' ? task.outputData : null,
      error,
      errors: task.errors,
      attempts: task.attempts,
      startedAt: exec.startedAt,
      finishedAt,
      durationMs: finishedAt - exec.startedAt,
      metadata: exec.metadata,
    };
    this.committer.afterCommit((failure) => (failure ? exec.reject(failure) : exec.resolve(result)));
  }

  private reportSettled(agentKey: string, executions: readonly SettledExecution[]): void {
    let ok = 0;
    for (const execution of executions) if (execution.ok) ok += 1;
    this.load.trigger.settled({ agentId: agentKey, ok, failed: executions.length - ok });
  }

  private refuse(executionIds: readonly string[]): void {
    let back = 0;
    for (const id of executionIds) {
      const exec = this.byId.get(id);
      if (!exec) continue;
      this.queues.get(exec.agentKey)!.push(exec, exec.priority);
      exec.phase = 'queued';
      this.withWork.add(exec.agentKey);
      back += 1;
    }
    if (back > 0) this.executor.send({ type: 'SETTLED', count: back });
    if (back > 0) this.executor.send({ type: 'ENQUEUED', count: back });
  }

  private onRetryDue(taskId: string): void {
    const exec = this.byTask.get(taskId);
    if (exec?.phase === 'backoff') this.enqueue(exec);
  }

  private onTimeout(taskId: string): void {
    const exec = this.byTask.get(taskId);
    if (!exec || exec.phase !== 'running') return;
    const error = new ExecutionTimeoutError(exec.timeoutMs);
    exec.token += 1;
    abortAttempt(exec, error);
    this.queueSettle(exec, { ok: false, error });
  }

  /** Stops taking work, lets running attempts finish, and stops every actor. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.announce();
    for (const exec of [...this.byTask.values()]) {
      if (exec.phase === 'queued' || exec.phase === 'held' || exec.phase === 'backoff') {
        if (exec.phase === 'queued') this.executor.send({ type: 'DEQUEUED', count: 1 });
        exec.phase = 'done';
        exec.actor?.stop();
        exec.detach?.();
        this.byId.delete(exec.id);
        this.byTask.delete(exec.task.id);
        exec.reject(new EngineStoppedError());
      }
    }
    await new Promise<void>((resolve) => {
      const check = () => {
        if (this.executor.getSnapshot().context.inFlight === 0) {
          subscription.unsubscribe();
          resolve();
        }
      };
      const subscription = this.executor.subscribe(check);
      check();
    });
    this.engine.send({ type: 'STOP' });
    await this.committer.settle();
    this.engine.stop();
    this.workflows.stopAll();
  }
}

export type { Task };
