import type { WorkflowStatus } from '../../machines/status.js';
import type { Task } from '../domain/task.js';
import type { CreateWorkflowInput, Workflow } from '../domain/workflow.js';
import { ErrorCode } from '../errors/codes.js';
import { InvalidArgumentError, InvalidStateError, TaskNotFoundError } from '../errors/errors.js';
import { copyRecord, mergePayload } from '../engine/payload.js';
import type { Runtime } from '../engine/runtime.js';
import {
  applyWorkflowCommand,
  type ControlEngine,
  type WorkflowCommand,
} from '../engine/workflow-control.js';
import type { Query } from '../repositories/repository.js';
import { expectFields, expectId, expectRecord, expectString } from './validate.js';

/** What the workflow tracker needs of the engine (steering included). */
export type WorkflowTrackerEngine = Pick<
  Runtime,
  'options' | 'store' | 'committer' | 'workflows' | 'door' | 'live' | 'executionOf'
> &
  ControlEngine;

/**
 * Workflows: named groups of tasks whose status is derived from theirs (see docs/status-rules.md).
 * @example
 * const workflow = await workflowTracker.createWorkflow({ name: 'Nightly report' });
 * await workflowTracker.addTaskToWorkflow(workflow.id, task.id);
 */
export class WorkflowTracker {
  constructor(private readonly runtime: () => Promise<WorkflowTrackerEngine>) {}

  async createWorkflow(input: CreateWorkflowInput): Promise<Workflow> {
    const fields = expectFields('input', input);
    const name = expectString('name', fields.name);
    const description = expectString('description', fields.description, '');
    const metadata = expectRecord('metadata', fields.metadata);
    const runtime = await this.runtime();
    const limit = runtime.options.maxPayloadBytes;
    const metadataCopy = copyRecord(metadata, 'metadata', limit, ErrorCode.INPUT_NOT_SERIALIZABLE);
    const now = runtime.options.clock.now();
    const row = runtime.workflows.create({
      id: runtime.options.idGenerator(),
      name,
      description,
      metadata: metadataCopy,
      createdAt: now,
      updatedAt: now,
    });
    await runtime.committer.settle();
    return structuredClone(row);
  }

  async getWorkflow(workflowId: string): Promise<Workflow> {
    const id = expectId('workflowId', workflowId);
    const runtime = await this.runtime();
    await runtime.workflows.get(id);
    await runtime.committer.settle();
    return (await runtime.store.workflows.get(id))!;
  }

  async listWorkflows(query: Query<Workflow> = {}): Promise<Workflow[]> {
    return (await this.runtime()).store.workflows.find(query);
  }

  async getWorkflowStatus(workflowId: string): Promise<WorkflowStatus> {
    return (await this.getWorkflow(workflowId)).status;
  }

  /** The workflow's tasks, in creation order. */
  async getWorkflowTasks(workflowId: string, query: Omit<Query<Task>, 'where'> = {}): Promise<Task[]> {
    const id = expectId('workflowId', workflowId);
    const runtime = await this.runtime();
    await runtime.workflows.get(id);
    return runtime.store.tasks.find({ ...query, where: { workflowId: id } });
  }

  /** Adds a task to a workflow; a task belongs to at most one workflow. */
  async addTaskToWorkflow(workflowId: string, taskId: string): Promise<Workflow> {
    const wid = expectId('workflowId', workflowId);
    const tid = expectId('taskId', taskId);
    const runtime = await this.runtime();
    const workflow = await runtime.workflows.get(wid);
    if (workflow.row.cancelled)
      throw new InvalidStateError(`Workflow ${wid} is cancelled`, { workflowId: wid });
    // The row as this engine's own writes of the task left it: an execution of the task that
    // started or ended here while it was read makes it read again (its row may be stale).
    for (;;) {
      const joined = await runtime.decideOnStored(
        async (touched) => {
          const live = runtime.executionOf(tid);
          const task = live?.task ?? (await runtime.store.tasks.get(tid));
          if (!live && touched.has(tid)) return false;
          if (!task) throw new TaskNotFoundError(tid);
          if (task.workflowId === wid) return true;
          if (task.workflowId !== null) {
            throw new InvalidArgumentError(`Task ${tid} already belongs to workflow ${task.workflowId}`, {
              details: { taskId: tid, workflowId: task.workflowId },
            });
          }
          runtime.door.join(task, wid);
          if (live) runtime.live.joinWorkflow(live, wid);
          return true;
        },
        [tid],
      );
      if (joined) return this.getWorkflow(wid);
    }
  }

  async updateWorkflowMetadata(workflowId: string, metadata: Record<string, unknown>): Promise<Workflow> {
    const id = expectId('workflowId', workflowId);
    const patch = expectRecord('metadata', metadata);
    const runtime = await this.runtime();
    const workflow = await runtime.workflows.get(id);
    const merged = mergePayload(
      workflow.row.metadata,
      patch,
      'metadata',
      runtime.options.maxPayloadBytes,
      ErrorCode.INPUT_NOT_SERIALIZABLE,
    );
    workflow.row.metadata = merged;
    workflow.row.updatedAt = runtime.options.clock.now();
    runtime.committer.stageWorkflow(workflow.row);
    return this.getWorkflow(id);
  }

  /**
   * Pauses a workflow: its waiting tasks start no attempt until `resumeWorkflow`; running ones
   * finish. Engines in other processes on the same store follow within their `controlPollMs`.
   */
  async pauseWorkflow(workflowId: string): Promise<Workflow> {
    return this.command(workflowId, 'PAUSE');
  }

  async resumeWorkflow(workflowId: string): Promise<Workflow> {
    return this.command(workflowId, 'RESUME');
  }

  /** Cancels a workflow and every unfinished task in it; running attempts are aborted. */
  async cancelWorkflow(workflowId: string): Promise<Workflow> {
    return this.command(workflowId, 'CANCEL');
  }

  private async command(workflowId: string, type: WorkflowCommand): Promise<Workflow> {
    const id = expectId('workflowId', workflowId);
    await applyWorkflowCommand(await this.runtime(), id, type);
    return this.getWorkflow(id);
  }
}
