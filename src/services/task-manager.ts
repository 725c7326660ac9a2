import { newTask } from '../domain/new-task.js';
import type { CreateTaskInput, Task } from '../domain/task.js';
import { ErrorCode } from '../errors/codes.js';
import { InvalidArgumentError, InvalidStateError, TaskNotFoundError } from '../errors/errors.js';
import { expectAccepted, storedState } from '../engine/task-door.js';
import { applyTaskCommand, type ControlEngine } from '../engine/workflow-control.js';
import { copyRecord } from '../engine/payload.js';
import type { Runtime } from '../engine/runtime.js';
import type { Query } from '../repositories/repository.js';
import { listDeadLetters, type DeadLetterPage, type ListDeadLettersOptions } from './dead-letters.js';
import { redriveDeadLetters, type RedriveOptions, type RedriveReport } from './redrive-dead-letters.js';
import { enqueueTasks } from './enqueue.js';
import { planOptions } from './plan-options.js';
import type { ExecutorEngine } from './enhanced-executor.js';
import {
  expectFields,
  expectId,
  expectInteger,
  expectRecord,
  expectString,
  expectStrings,
} from './validate.js';

/**
 * What the task manager needs of the engine (steering included; the executor's part for
 * re-driving dead letters onto workers).
 */
export type TaskManagerEngine = Pick<
  Runtime,
  'options' | 'store' | 'committer' | 'workflows' | 'door' | 'executionOf'
> &
  ControlEngine &
  ExecutorEngine;

/**
 * Creates, reads and steers tasks. Reads return what has been committed.
 * @example
 * const task = await taskManager.createTask({ name: 'Summarise', inputData: { query: 'Summarise this' } });
 */
export class TaskManager {
  /** Creations in progress by idempotency key, so two concurrent calls return one task. */
  private readonly creating = new Map<string, Promise<Task>>();

  constructor(private readonly runtime: () => Promise<TaskManagerEngine>) {}

  async createTask(input: CreateTaskInput): Promise<Task> {
    const fields = expectFields('input', input);
    const key = fields.idempotencyKey;
    if (typeof key !== 'string') return this.create(fields);
    const inProgress = this.creating.get(key);
    if (inProgress) return structuredClone(await inProgress);
    const creation = this.create(fields).finally(() => this.creating.delete(key));
    this.creating.set(key, creation);
    return creation;
  }

  private async create(fields: Record<string, unknown>): Promise<Task> {
    const name = expectString('name', fields.name);
    const description = expectString('description', fields.description, '');
    const inputData = expectRecord('inputData', fields.inputData);
    const metadata = expectRecord('metadata', fields.metadata);
    const tags = expectStrings('tags', fields.tags);
    const priority = expectInteger('priority', fields.priority, 0);
    const workflowId = fields.workflowId === undefined ? null : expectId('workflowId', fields.workflowId);
    const idempotencyKey =
      fields.idempotencyKey === undefined ? null : expectId('idempotencyKey', fields.idempotencyKey);
    const runtime = await this.runtime();
    const limit = runtime.options.maxPayloadBytes;
    const inputCopy = copyRecord(inputData, 'inputData', limit, ErrorCode.INPUT_NOT_SERIALIZABLE);
    const metadataCopy = copyRecord(metadata, 'metadata', limit, ErrorCode.INPUT_NOT_SERIALIZABLE);
    if (idempotencyKey !== null) {
      const [existing] = await runtime.store.tasks.find({ where: { idempotencyKey }, limit: 1 });
      if (existing) return existing;
    }
    const workflow = workflowId === null ? null : await runtime.workflows.get(workflowId);
    if (workflow?.row.cancelled) {
      throw new InvalidStateError(`Workflow ${workflowId} is cancelled; no task can join it`, { workflowId });
    }
    const now = runtime.options.clock.now();
    const task = newTask(
      {
        id: runtime.options.idGenerator(),
        name,
        description,
        inputData: inputCopy,
        tags,
        priority,
        workflowId,
        idempotencyKey,
        metadata: metadataCopy,
      },
      now,
    );
    const created = runtime.door.create(task);
    await runtime.committer.settle();
    return structuredClone(created);
  }

  async getTask(taskId: string): Promise<Task> {
    const id = expectId('taskId', taskId);
    const task = await (await this.runtime()).store.tasks.get(id);
    if (!task) throw new TaskNotFoundError(id);
    return task;
  }

  async listTasks(query: Query<Task> = {}): Promise<Task[]> {
    return (await this.runtime()).store.tasks.find(query);
  }

  /** Holds a PENDING task: it will not start until `resumeTask`. A running task cannot be paused. */
  async pauseTask(taskId: string): Promise<Task> {
    return this.steer(taskId, 'PAUSE');
  }

  /** Lets a PAUSED task run again; if it was waiting in the executor it is queued again. */
  async resumeTask(taskId: string): Promise<Task> {
    return this.steer(taskId, 'RESUME');
  }

  /** Cancels a task in any non-terminal state; a running attempt is aborted through its signal. */
  async cancelTask(taskId: string): Promise<Task> {
    return this.steer(taskId, 'CANCEL');
  }

  /**
   * Gives a FAILED or CANCELLED task a new run, as a job queue's retry does: the task machine takes
   * RETRY and the task is PENDING again. Its attempts and error history are kept; the next
   * execution gets a full attempt budget. The workflow's status follows, also when another process
   * runs the workflow (the store derives it from the stored tasks). The task has no execution plan:
   * nothing runs it until `executeTask`, an enqueue, or `symphony resume`. A task of a cancelled
   * workflow cannot be retried.
   * @example
   * await taskManager.retryTask(task.id);
   * await executor.executeTask(task.id, agent);
   */
  async retryTask(taskId: string): Promise<Task> {
    const id = expectId('taskId', taskId);
    const runtime = await this.runtime();
    // Decided on the row as this engine's own writes of the task left it (a failure just applied
    // here may not have committed yet); an execution that started or ended meanwhile is seen.
    return runtime.decideOnStored(
      async (touched) => {
        const task = await runtime.store.tasks.get(id);
        if (runtime.executionOf(id) || touched.has(id)) {
          throw new InvalidStateError(`Task ${id} is being executed`, { taskId: id });
        }
        if (!task) throw new TaskNotFoundError(id);
        expectAccepted(task, storedState(task), { type: 'RETRY' });
        const workflow = task.workflowId === null ? null : await runtime.workflows.get(task.workflowId);
        if (workflow?.row.cancelled) {
          throw new InvalidStateError(
            `Workflow ${task.workflowId} is cancelled; its tasks cannot be retried`,
            {
              workflowId: task.workflowId,
            },
          );
        }
        if (runtime.executionOf(id) || touched.has(id)) {
          throw new InvalidStateError(`Task ${id} is being executed`, { taskId: id });
        }
        runtime.door.send(task, { type: 'RETRY' });
        await runtime.committer.settle();
        return structuredClone(task);
      },
      [id],
    );
  }

  /**
   * The dead-letter queue: FAILED tasks across workflows (retries exhausted, or an error not worth
   * retrying), newest failure first, each with its error history (last error first) and attempts.
   * Pages follow a cursor (`nextCursor` -> `after`), which stays right while tasks fail or are
   * re-driven between pages. Filters: `workflowId`, `agentId` (the agent config that ran the last
   * attempt), `error` (the last error's code or name), `failedSince` / `failedBefore`.
   * @example
   * const page = await taskManager.listDeadLetters({ error: 'EXECUTION_TIMEOUT', limit: 20 });
   * const next = await taskManager.listDeadLetters({ error: 'EXECUTION_TIMEOUT', limit: 20, after: page.nextCursor! });
   */
  async listDeadLetters(options: ListDeadLettersOptions = {}): Promise<DeadLetterPage> {
    return listDeadLetters(this.runtime, options);
  }

  /**
   * Re-drives dead letters after a fix: the tasks named (`taskIds`), or every one a `filter`
   * selects. Each goes through `retryTask` (PENDING again, its error history kept, a full attempt
   * budget for its next execution); with `submit` it is then enqueued for workers on the agent
   * config that ran it. Every task is reported: re-driven, or refused with a typed error's code
   * (TASK_NOT_FOUND; INVALID_STATE: not FAILED, its workflow cancelled, being executed); one refusal
   * does not stop the others. `dryRun` checks and reports without changing anything.
   * @example
   * const report = await taskManager.redriveDeadLetters({ filter: { error: 'PROVIDER_ERROR' }, submit: true });
   */
  async redriveDeadLetters(options: RedriveOptions): Promise<RedriveReport> {
    return redriveDeadLetters(
      this.runtime,
      {
        retry: (taskId) => this.retryTask(taskId),
        enqueue: (pairs, enqueueOptions) => enqueueTasks(this.runtime, pairs, enqueueOptions),
        checkEnqueue: async (enqueueOptions) => {
          if ((enqueueOptions as { signal?: unknown }).signal !== undefined) {
            throw new InvalidArgumentError('Expected no `submit.signal`: an enqueued task runs in a worker');
          }
          planOptions(await this.runtime(), enqueueOptions);
          expectInteger('submit.priority', enqueueOptions.priority, 0);
        },
      },
      options,
    );
  }

  /** Steers the task wherever it runs (see applyTaskCommand). */
  private async steer(taskId: string, type: 'PAUSE' | 'RESUME' | 'CANCEL'): Promise<Task> {
    const id = expectId('taskId', taskId);
    return applyTaskCommand(await this.runtime(), id, type);
  }
}
