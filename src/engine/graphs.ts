import type { GraphSteps } from '../../machines/graph.js';
import type { RuntimeEvent } from '../../machines/engine.machine.js';
import type { AttemptError, Task } from '../domain/task.js';
import { ConditionFailedError } from '../errors/errors.js';
import { SymphonyError } from '../errors/symphony-error.js';
import { compileCondition } from '../graph/condition.js';
import type { Store } from '../repositories/store.js';
import type { EngineClock } from './clock.js';
import type { Committer } from './committer.js';
import type { Execution } from './execution.js';
import type { TouchedTasks } from './live-executions.js';
import type { Logger } from './logger.js';
import type { TaskDoor } from './task-door.js';
import type { CodeCondition, GraphData, LiveWorkflow, WorkflowActors } from './workflows.js';

export interface GraphsDeps {
  store: Store;
  committer: Committer;
  door: TaskDoor;
  workflows: WorkflowActors;
  clock: EngineClock;
  logger: Logger;
  send(event: RuntimeEvent): void;
  executionOf(taskId: string): Execution | undefined;
  decideOnStored<R>(decide: (touched: TouchedTasks) => Promise<R>, taskIds?: readonly string[]): Promise<R>;
}

/** Told of the nodes a workflow's graph released (they may run now). */
export type ReleaseListener = (taskIds: readonly string[]) => void;

/**
 * Acts on the steps the workflow machines' graphs call for (docs/workflows.md): evaluates the
 * conditions of nodes being decided and answers with DECIDED, ends skipped nodes SKIPPED and
 * rejected ones FAILED through the task door, and tells the workflow's runs which nodes were
 * released. It decides nothing itself: where each node stands is the workflow machine's.
 */
export class Graphs {
  private readonly listeners = new Map<string, Set<ReleaseListener>>();
  /**
   * Conditions given in code, by task id: kept by the engine (not the workflow's actor, which is
   * unloaded when idle) until the node is decided; lost with the process.
   */
  private readonly conditions = new Map<string, CodeCondition>();
  /** Per workflow, how many writes of skipped or rejected nodes are under way. */
  private readonly busy = new Map<string, number>();
  /** Why a node was rejected: its condition's error, recorded in the task's errors. */
  private readonly rejections = new Map<string, Error>();

  constructor(private readonly deps: GraphsDeps) {
    deps.workflows.handleSteps((entry, steps) => this.onSteps(entry, steps));
  }

  /** Calls `listener` with the nodes released from now on; returns a function that stops it. */
  onRelease(workflowId: string, listener: ReleaseListener): () => void {
    let set = this.listeners.get(workflowId);
    if (!set) this.listeners.set(workflowId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(workflowId) === set) this.listeners.delete(workflowId);
    };
  }

  /** True while nodes of the workflow the graph will not run are being ended (SKIPPED, FAILED). */
  isBusy(workflowId: string): boolean {
    return this.busy.has(workflowId);
  }

  /** Keeps the function condition of a task until its node is decided. */
  setCondition(taskId: string, condition: CodeCondition): void {
    this.conditions.set(taskId, condition);
  }

  /**
   * The outputs of a task's dependencies, by each one's key (its id when it has none), in the
   * order of `dependsOn`; empty for a task with no dependencies or not in a live graph.
   */
  dependencies(task: Pick<Task, 'id' | 'workflowId' | 'graph'>): Record<string, unknown> {
    const result: Record<string, unknown> = {};
    if (!task.graph || task.workflowId === null) return result;
    const data = this.deps.workflows.peek(task.workflowId)?.graph;
    for (const dependency of task.graph.dependsOn) {
      const key = data?.specs.get(dependency)?.key ?? dependency;
      Object.defineProperty(result, key, {
        value: data?.outputs.get(dependency) ?? null,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return result;
  }

  private onSteps(entry: LiveWorkflow, steps: GraphSteps): void {
    const workflowId = entry.row.id;
    if (steps.decide.length > 0 && entry.graph) {
      const decisions = steps.decide.map((taskId) => ({
        taskId,
        holds: this.evaluate(entry.graph!, taskId),
      }));
      this.deps.send({ type: 'DECIDED', workflowId, decisions });
    }
    if (steps.skip.length > 0) void this.finishUnrun(workflowId, steps.skip, 'SKIP');
    if (steps.reject.length > 0) void this.finishUnrun(workflowId, steps.reject, 'REJECT');
    if (steps.release.length > 0) this.tell(workflowId, steps.release);
  }

  private tell(workflowId: string, released: readonly string[]): void {
    for (const listener of [...(this.listeners.get(workflowId) ?? [])]) listener(released);
  }

  /** Whether a node's condition holds; null (and the reason kept) when it cannot be evaluated. */
  private evaluate(data: GraphData, taskId: string): boolean | null {
    const spec = data.specs.get(taskId);
    try {
      const when = spec?.when ?? null;
      if (when === null) return true;
      const outputs = this.outputsOf(data, taskId);
      if ('cel' in when) {
        return compileCondition(when.cel).evaluate({ outputs, input: data.inputs.get(taskId) ?? {} });
      }
      const condition = this.conditions.get(taskId);
      if (!condition) {
        throw new ConditionFailedError(
          `Task ${taskId} has a condition given in code, which this engine was not given; pass it again in executeWorkflow's \`conditions\``,
          { details: { taskId } },
        );
      }
      const holds: unknown = condition(outputs);
      if (typeof holds !== 'boolean') {
        throw new ConditionFailedError(
          `The condition of task ${taskId} returned ${typeof holds}, not a boolean`,
          { details: { taskId } },
        );
      }
      // Decided for good: a node whose condition failed keeps it, for a retry.
      this.conditions.delete(taskId);
      return holds;
    } catch (error) {
      this.rejections.set(
        taskId,
        SymphonyError.isInstance(error)
          ? error
          : new ConditionFailedError(
              `The condition of task ${taskId} threw: ${error instanceof Error ? error.message : String(error)}`,
              { cause: error, details: { taskId } },
            ),
      );
      return null;
    }
  }

  private outputsOf(data: GraphData, taskId: string): Record<string, unknown> {
    const outputs: Record<string, unknown> = {};
    for (const dependency of data.specs.get(taskId)?.dependsOn ?? []) {
      const key = data.specs.get(dependency)?.key ?? dependency;
      Object.defineProperty(outputs, key, {
        value: data.outputs.get(dependency) ?? null,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return outputs;
  }

  /**
   * Ends nodes the graph will not run: SKIPPED, or FAILED (REJECT) with their condition's error.
   * Through the door on the rows as this engine's writes left them; a task that moved meanwhile
   * (the machine refuses) is left as it is.
   */
  private async finishUnrun(
    workflowId: string,
    taskIds: readonly string[],
    type: 'SKIP' | 'REJECT',
  ): Promise<void> {
    const { store, committer, door } = this.deps;
    this.busy.set(workflowId, (this.busy.get(workflowId) ?? 0) + 1);
    try {
      await committer.settleTasks(taskIds);
      await this.deps.decideOnStored(async () => {
        const rows = await store.tasks.getMany(taskIds);
        for (const row of rows) {
          const exec = this.deps.executionOf(row.id);
          const task = exec?.task ?? row;
          if (type === 'REJECT') task.errors = [...task.errors, this.rejectionOf(task)];
          try {
            door.send(task, { type }, exec?.actor ?? null);
          } catch (error) {
            if (!(SymphonyError.isInstance(error) && error.code === 'INVALID_STATE')) throw error;
          }
          this.rejections.delete(row.id);
        }
      }, taskIds);
      // The runs see the new statuses once they are committed.
      await committer.settle();
    } catch (error) {
      this.deps.logger.error({ err: error, taskIds, type }, 'Could not end graph nodes that will not run');
    } finally {
      const left = (this.busy.get(workflowId) ?? 1) - 1;
      if (left > 0) this.busy.set(workflowId, left);
      else this.busy.delete(workflowId);
      this.tell(workflowId, []);
    }
  }

  private rejectionOf(task: Task): AttemptError {
    const error = this.rejections.get(task.id) ?? new ConditionFailedError(`Task ${task.id} was rejected`);
    return {
      name: error.name,
      message: error.message,
      code: SymphonyError.isInstance(error) ? error.code : 'CONDITION_FAILED',
      attempt: task.attempts,
      at: this.deps.clock.now(),
      retryable: false,
    };
  }
}
