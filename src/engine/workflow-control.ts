import type { TaskStatus, WorkflowStatus } from '../../machines/status.js';
import type { Task } from '../domain/task.js';
import { InvalidArgumentError, InvalidStateError, TaskNotFoundError } from '../errors/errors.js';
import type { ControlCommand, EngineBeat, StoredCommand } from '../repositories/store.js';
import { sendOrThrow, transitionTaskRow } from './actors.js';
import type { Runtime } from './runtime.js';
import { markFinished } from './task-rows.js';

export type WorkflowCommand = ControlCommand['type'];

/** An engine as its beats show it. */
export interface EngineStatus extends EngineBeat {
  /** Its last beat has not expired and was not a stop. */
  alive: boolean;
  /** It is the engine of the registry asking. */
  self: boolean;
}

/** What a command steers: a workflow, or one task (with its workflow, if any). */
type CommandTarget = Pick<ControlCommand, 'workflowId' | 'taskId'>;

/** How long commands, acknowledgements and ended engines' beats are kept. */
const CONTROL_RETENTION_MS = 24 * 60 * 60 * 1000;

/** Longest wait for an engine that beats but does not answer a command (its polls failing). */
const MAX_ANSWER_WAIT_MS = 60_000;

/**
 * How long an engine's last beat counts as a sign of life: the `livenessMs` option if given
 * (longer than a poll, or the engine would look dead between its own beats), else ten polls and
 * never under 5 s.
 */
export function livenessWindowMs(pollMs: number, livenessMs?: number): number {
  if (livenessMs === undefined) return Math.max(10 * pollMs, 5_000);
  if (livenessMs <= pollMs) {
    throw new InvalidArgumentError(
      `Expected \`livenessMs\` to be greater than \`controlPollMs\` (${pollMs}), got ${livenessMs}`,
    );
  }
  return livenessMs;
}

/**
 * Pauses, resumes or cancels a workflow, wherever it runs. The engine that holds the workflow (has
 * live executions of it) is the only one that changes its rows, so two engines never write over
 * each other:
 * - held here, or no other live engine on the store: applied here, and the command is written;
 * - otherwise the command is written and the engines that beat on the store answer it; the one
 *   holding the workflow applies it. If none holds it (or they all stop answering), it is applied
 *   here.
 */
export async function applyWorkflowCommand(
  runtime: Runtime,
  workflowId: string,
  type: WorkflowCommand,
): Promise<WorkflowStatus> {
  const control = runtime.control;
  const held = runtime.holds(workflowId);
  const others = held ? [] : await control.otherLiveEngines();
  if (others.length === 0) {
    const status = await applyHere(runtime, workflowId, type, !held);
    control.send({ workflowId, taskId: null }, type);
    return status;
  }
  check(workflowId, type, (await storedWorkflow(runtime, workflowId)).row.status);
  const command = control.send({ workflowId, taskId: null }, type);
  await runtime.committer.settle();
  if (await control.appliedElsewhere(command, others)) {
    return (await storedWorkflow(runtime, workflowId)).row.status;
  }
  return applyHere(runtime, workflowId, type, true);
}

/**
 * The workflow as the store has it now (this engine's pending changes committed first): the copy
 * an engine that does not hold the workflow has cached may be stale.
 */
async function storedWorkflow(runtime: Runtime, workflowId: string) {
  await runtime.committer.settle();
  runtime.workflows.forget(workflowId);
  return runtime.workflows.get(workflowId);
}

/**
 * Pauses, resumes or cancels one task, wherever it runs: the engine named in its row as holding it
 * (`leaseOwner`), if that engine is alive and is not this one, gets the command through the store
 * and applies it; otherwise it is applied here. Returns the task as it then is.
 */
export async function applyTaskCommand(
  runtime: Runtime,
  taskId: string,
  type: WorkflowCommand,
): Promise<Task> {
  const control = runtime.control;
  if (!runtime.executionOf(taskId)) {
    const task = await runtime.store.tasks.get(taskId);
    if (!task) throw new TaskNotFoundError(taskId);
    const holder = task.leaseOwner;
    if (holder !== null && (await control.otherLiveEngines()).includes(holder)) {
      // Refused transitions fail here, at once, as they would in the holder.
      transitionTaskRow({ ...task }, { type }, runtime.actorOptions);
      const command = control.send({ workflowId: task.workflowId, taskId }, type);
      await runtime.committer.settle();
      if (await control.appliedElsewhere(command, [holder])) {
        if (task.workflowId !== null) runtime.workflows.forget(task.workflowId);
        return (await runtime.store.tasks.get(taskId)) ?? task;
      }
    }
  }
  return steerHere(runtime, taskId, type);
}

/** Applies a task command in this engine: to its live execution, or to its row. */
async function steerHere(runtime: Runtime, taskId: string, type: WorkflowCommand): Promise<Task> {
  const exec = runtime.executionOf(taskId);
  if (exec) {
    if (type === 'CANCEL') {
      runtime.cancel(exec);
    } else {
      const before: TaskStatus = exec.task.status;
      const next = exec.actor
        ? sendOrThrow(exec.actor, { type }, taskId)
        : transitionTaskRow(exec.task, { type }, runtime.actorOptions);
      exec.task.status = next;
      exec.task.updatedAt = runtime.options.clock.now();
      runtime.committer.stageTask(exec.task);
      runtime.workflows.change(exec.workflowId, before, next);
      if (type === 'PAUSE') runtime.hold(exec);
      else runtime.release((candidate) => candidate === exec);
    }
    await runtime.committer.settle();
    const row = await runtime.store.tasks.get(taskId);
    if (!row) throw new TaskNotFoundError(taskId);
    return row;
  }
  // Decided on the row as this engine's own changes left it: an execution of the task that
  // started or ended here meanwhile (a completion) makes it read again.
  const watch = runtime.watchTasks();
  let task: Task | undefined;
  try {
    await runtime.committer.settle();
    task = await runtime.store.tasks.get(taskId);
    if (!task) throw new TaskNotFoundError(taskId);
    if (task.workflowId !== null) await runtime.workflows.get(task.workflowId);
    if (watch.touched.has(taskId)) return await steerHere(runtime, taskId, type);
  } finally {
    watch.close();
  }
  const next = transitionTaskRow(task, { type }, runtime.actorOptions);
  const before = task.status;
  const now = runtime.options.clock.now();
  task.status = next;
  task.updatedAt = now;
  if (next === 'CANCELLED') task.finishedAt = now;
  runtime.committer.stageTask(task);
  runtime.workflows.change(task.workflowId, before, next);
  await runtime.committer.settle();
  return structuredClone(task);
}

function check(workflowId: string, type: WorkflowCommand, status: WorkflowStatus): void {
  if (type === 'PAUSE' && (status === 'COMPLETED' || status === 'CANCELLED')) {
    throw new InvalidStateError(`Workflow ${workflowId} is ${status} and cannot be paused`, {
      workflowId,
      status,
    });
  }
}

/**
 * Changes the workflow and its tasks in this engine. With `fresh`, the workflow is read from the
 * store first (this engine does not hold it: another engine may have finished it since).
 */
async function applyHere(
  runtime: Runtime,
  workflowId: string,
  type: WorkflowCommand,
  fresh = false,
): Promise<WorkflowStatus> {
  const workflow = fresh
    ? await storedWorkflow(runtime, workflowId)
    : await runtime.workflows.get(workflowId);
  check(workflowId, type, workflow.row.status);
  const status = runtime.workflows.send(workflow, { type });
  if (type === 'RESUME') runtime.release((exec) => exec.workflowId === workflowId);
  if (type === 'CANCEL') {
    // In the same turn as the workflow's own change: no attempt of it starts after this, and the
    // commit that records the workflow CANCELLED also records its running attempts aborted.
    runtime.cancelWorkflowExecutions(workflowId, 'The workflow was cancelled');
    await cancelTasks(runtime, workflowId);
  }
  return status;
}

/**
 * Cancels the workflow's stored tasks that no execution holds. Decided on rows read once this
 * engine's own changes have committed; a task whose execution started or ended here since is left
 * as that execution left it (a completion that came first stands).
 */
async function cancelTasks(runtime: Runtime, workflowId: string): Promise<void> {
  const watch = runtime.watchTasks();
  try {
    await runtime.committer.settle();
    const heldElsewhere = await runtime.control.leaseHolders();
    const rows = await runtime.store.tasks.find({ where: { workflowId } });
    cancelRows(runtime, workflowId, rows, heldElsewhere, watch.touched);
  } finally {
    watch.close();
  }
}

function cancelRows(
  runtime: Runtime,
  workflowId: string,
  rows: Task[],
  heldElsewhere: (owner: string | null, leaseExpiresAt: number | null) => boolean,
  touched: ReadonlySet<string>,
): void {
  const now = runtime.options.clock.now();
  for (const stored of rows) {
    const live = runtime.executionOf(stored.id);
    if (live) {
      runtime.cancel(live, 'The workflow was cancelled');
      continue;
    }
    if (touched.has(stored.id)) continue;
    if (stored.status === 'COMPLETED' || stored.status === 'FAILED' || stored.status === 'CANCELLED')
      continue;
    // Another live engine holds it (it took it over from this one): that engine cancels it when
    // it gets the command.
    if (heldElsewhere(stored.leaseOwner, stored.leaseExpiresAt)) continue;
    const before = stored.status;
    markFinished(stored, transitionTaskRow(stored, { type: 'CANCEL' }, runtime.actorOptions), now);
    runtime.committer.stageTask(stored);
    runtime.workflows.change(workflowId, before, stored.status);
  }
}

/**
 * An engine's link with the other processes on its store. Every `intervalMs` it writes a beat
 * (a sign of life others read before taking over its leased attempts or steering its workflows),
 * then reads the control commands written since the last poll: it applies those for workflows it
 * holds and acknowledges each one, applied or not. Its timer never keeps the process alive.
 */
export class ControlPoller {
  private seq = 0;
  private timer: unknown = null;
  private running = false;
  private intervalMs = 0;
  private windowMs = livenessWindowMs(0);
  /** Ids of the commands this engine wrote, skipped when they come back in a poll. */
  private readonly sent = new Set<string>();

  constructor(private readonly runtime: Runtime) {}

  get livenessMs(): number {
    return this.windowMs;
  }

  async start(intervalMs: number): Promise<void> {
    this.windowMs = livenessWindowMs(intervalMs, this.runtime.options.livenessMs);
    this.intervalMs = intervalMs;
    // Control records only matter while fresh: drop those older than a day (best effort).
    await this.runtime.store
      .pruneControl(this.runtime.options.clock.now() - CONTROL_RETENTION_MS)
      .catch(() => {});
    this.seq = await this.runtime.store.latestCommandSeq();
    this.running = true;
    this.beat(false);
    await this.runtime.committer.settle();
    this.schedule();
  }

  /** Stops polling; the engine's last beat says it stopped (committed with the engine's last batch). */
  stop(): void {
    if (!this.running) return;
    this.running = false;
    if (this.timer !== null) this.runtime.options.clock.clearTimeout(this.timer);
    this.timer = null;
    this.beat(true);
  }

  /** Writes a command for the other engines (committed with the next batch). */
  send(target: CommandTarget, type: WorkflowCommand): ControlCommand {
    const command: ControlCommand = {
      id: this.runtime.options.idGenerator(),
      workflowId: target.workflowId,
      taskId: target.taskId,
      type,
      createdAt: this.runtime.options.clock.now(),
    };
    if (this.running) this.sent.add(command.id);
    this.runtime.committer.stageCommand(command);
    return command;
  }

  /** Every engine that ever beat on the store, with whether it counts as alive now. */
  async engines(): Promise<EngineStatus[]> {
    const now = this.runtime.options.clock.now();
    return (await this.runtime.store.engineBeats()).map((beat) => ({
      ...beat,
      alive: !beat.stopped && beat.expiresAt > now,
      self: beat.engineId === this.runtime.options.engineId,
    }));
  }

  /** Ids of the other engines whose last beat is recent and not a stop. */
  async otherLiveEngines(): Promise<string[]> {
    const beats = await this.runtime.store.engineBeats();
    return beats.filter((beat) => this.isAlive(beat)).map((beat) => beat.engineId);
  }

  /**
   * Waits until an engine acknowledges the command as applied (true; a refusal by that engine, such
   * as pausing a task it has just started, is thrown as INVALID_STATE), or until every engine in
   * `engines` has either answered without holding the target or stopped beating (false). An engine
   * that beats is waited for however slowly it polls; only one that beats but never answers (its
   * polls failing) is given up on, after MAX_ANSWER_WAIT_MS.
   */
  async appliedElsewhere(command: ControlCommand, engines: readonly string[]): Promise<boolean> {
    const waiting = new Set(engines);
    const deadline = this.runtime.options.clock.now() + Math.max(this.livenessMs, MAX_ANSWER_WAIT_MS);
    const step = Math.max(5, Math.min(50, this.intervalMs / 4));
    for (;;) {
      const acks = await this.runtime.store.commandAcks(command.id);
      const applied = acks.find((ack) => ack.applied);
      if (applied) {
        if (applied.error !== null) {
          throw new InvalidStateError(`${applied.error} (in engine ${applied.engineId})`, {
            commandId: command.id,
            engineId: applied.engineId,
          });
        }
        return true;
      }
      for (const ack of acks) waiting.delete(ack.engineId);
      if (waiting.size > 0) {
        const alive = new Set(await this.otherLiveEngines());
        for (const id of waiting) if (!alive.has(id)) waiting.delete(id);
      }
      if (waiting.size === 0 || this.runtime.options.clock.now() >= deadline) return false;
      await new Promise<void>((resolve) => this.runtime.options.clock.setTimeout(() => resolve(), step));
    }
  }

  /**
   * Tells whether the engine named in a task's lease may still be running the attempt: its beats
   * say so if it writes them; an engine that never beat here holds it until the lease expires.
   */
  async leaseHolders(): Promise<(owner: string | null, leaseExpiresAt: number | null) => boolean> {
    const beats = new Map((await this.runtime.store.engineBeats()).map((beat) => [beat.engineId, beat]));
    const now = this.runtime.options.clock.now();
    return (owner, leaseExpiresAt) => {
      if (owner === null || owner === this.runtime.options.engineId) return false;
      const beat = beats.get(owner);
      return beat ? this.isAlive(beat) : (leaseExpiresAt ?? 0) > now;
    };
  }

  /** `leaseHolders` for one task; no store read when no other engine is named in its lease. */
  async isHeldElsewhere(owner: string | null, leaseExpiresAt: number | null): Promise<boolean> {
    if (owner === null || owner === this.runtime.options.engineId) return false;
    return (await this.leaseHolders())(owner, leaseExpiresAt);
  }

  /** Applies every command written since the last poll; returns how many this engine applied. */
  async poll(): Promise<number> {
    let applied = 0;
    const commands = await this.runtime.store.commandsAfter(this.seq);
    for (const command of commands) {
      this.seq = command.seq;
      if (this.sent.delete(command.id)) continue;
      if (await this.answer(command)) applied += 1;
    }
    return applied;
  }

  /**
   * Applies a command if this engine holds its target, and acknowledges it: `applied` says the
   * holder handled it (a transition the machines refuse leaves the target as it was).
   */
  private async answer(command: StoredCommand): Promise<boolean> {
    const runtime = this.runtime;
    const { workflowId, taskId } = command;
    // A stopping engine still answers: during its grace period it holds running attempts, and a
    // CANCEL must reach them.
    const held = taskId !== null ? runtime.executionOf(taskId) !== undefined : runtime.holds(workflowId!);
    let error: string | null = null;
    if (held) {
      const applying =
        taskId !== null
          ? steerHere(runtime, taskId, command.type)
          : applyHere(runtime, workflowId!, command.type);
      await applying.catch((refused: unknown) => {
        error = refused instanceof Error ? refused.message : String(refused);
      });
    } else if (workflowId !== null) {
      // Whoever changes it now, the copy this engine may have cached is stale.
      runtime.workflows.forget(workflowId);
    }
    runtime.committer.stageAck({
      commandId: command.id,
      engineId: runtime.options.engineId,
      applied: held,
      error,
      ackedAt: runtime.options.clock.now(),
    });
    return held && error === null;
  }

  private isAlive(beat: EngineBeat): boolean {
    return (
      beat.engineId !== this.runtime.options.engineId &&
      !beat.stopped &&
      beat.expiresAt > this.runtime.options.clock.now()
    );
  }

  private beat(stopped: boolean): void {
    const now = this.runtime.options.clock.now();
    this.runtime.committer.stageBeat({
      engineId: this.runtime.options.engineId,
      beatAt: now,
      expiresAt: now + this.livenessMs,
      stopped,
    });
  }

  private schedule(): void {
    if (!this.running) return;
    const handle = this.runtime.options.clock.setTimeout(() => {
      this.timer = null;
      if (!this.running) return;
      this.beat(false);
      void this.poll()
        .catch(() => {})
        .finally(() => this.schedule());
    }, this.intervalMs);
    (handle as { unref?: () => void } | null)?.unref?.();
    this.timer = handle;
  }
}
