import type { WorkflowStatus } from '../../machines/status.js';
import { InvalidStateError } from '../errors/errors.js';
import type { ControlCommand } from '../repositories/store.js';
import { transitionTaskRow } from './actors.js';
import type { Runtime } from './runtime.js';
import { markFinished } from './task-rows.js';

export type WorkflowCommand = ControlCommand['type'];

/**
 * Pauses, resumes or cancels a workflow in this engine. With `broadcast`, the command is also
 * written to the store (in the same commit) so engines in other processes apply it too.
 */
export async function applyWorkflowCommand(
  runtime: Runtime,
  workflowId: string,
  type: WorkflowCommand,
  broadcast: boolean,
): Promise<WorkflowStatus> {
  const workflow = await runtime.workflows.get(workflowId);
  if (type === 'PAUSE' && (workflow.row.status === 'COMPLETED' || workflow.row.status === 'CANCELLED')) {
    throw new InvalidStateError(`Workflow ${workflowId} is ${workflow.row.status} and cannot be paused`, {
      workflowId,
      status: workflow.row.status,
    });
  }
  const status = runtime.workflows.send(workflow, { type });
  if (type === 'RESUME') runtime.release((exec) => exec.workflowId === workflowId);
  if (type === 'CANCEL') await cancelTasks(runtime, workflowId);
  if (broadcast) {
    runtime.committer.stageCommand({
      id: runtime.options.idGenerator(),
      workflowId,
      type,
      createdAt: runtime.options.clock.now(),
    });
  }
  return status;
}

async function cancelTasks(runtime: Runtime, workflowId: string): Promise<void> {
  const now = runtime.options.clock.now();
  for (const stored of await runtime.store.tasks.find({ where: { workflowId } })) {
    const live = runtime.executionOf(stored.id);
    if (live) {
      runtime.cancel(live, 'The workflow was cancelled');
      continue;
    }
    if (stored.status === 'COMPLETED' || stored.status === 'FAILED' || stored.status === 'CANCELLED')
      continue;
    const before = stored.status;
    markFinished(stored, transitionTaskRow(stored, { type: 'CANCEL' }, runtime.actorOptions), now);
    runtime.committer.stageTask(stored);
    runtime.workflows.change(workflowId, before, stored.status);
  }
}

/**
 * Reads the control commands other processes write to the store and applies those that concern
 * workflows live in this engine. Its timer never keeps the process alive.
 */
export class ControlPoller {
  private seq = 0;
  private timer: unknown = null;
  private running = false;
  private intervalMs = 0;

  constructor(private readonly runtime: Runtime) {}

  async start(intervalMs: number): Promise<void> {
    this.intervalMs = intervalMs;
    this.seq = await this.runtime.store.latestCommandSeq();
    this.running = true;
    this.schedule();
  }

  stop(): void {
    this.running = false;
    if (this.timer !== null) this.runtime.options.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  /** Applies every command written since the last poll; returns how many concerned this engine. */
  async poll(): Promise<number> {
    let applied = 0;
    const commands = await this.runtime.store.commandsAfter(this.seq);
    for (const command of commands) {
      this.seq = command.seq;
      if (!this.runtime.workflows.peek(command.workflowId) || this.runtime.isStopping) continue;
      await applyWorkflowCommand(this.runtime, command.workflowId, command.type, false).catch(() => {});
      applied += 1;
    }
    return applied;
  }

  private schedule(): void {
    if (!this.running) return;
    const handle = this.runtime.options.clock.setTimeout(() => {
      this.timer = null;
      void this.poll()
        .catch(() => {})
        .finally(() => this.schedule());
    }, this.intervalMs);
    (handle as { unref?: () => void } | null)?.unref?.();
    this.timer = handle;
  }
}
