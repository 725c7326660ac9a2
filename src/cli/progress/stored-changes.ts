import type { TaskStatus, WorkflowStatus } from '../../../machines/status.js';
import type { StoredEvent } from '../../engine/stored-events.js';
import type { Task, Workflow } from '../../index.js';
import type { WatchEvent } from './watcher.js';

/** The task status each task event leaves (none: the event changes no status a line reports). */
const STATUS_AFTER: Partial<Record<StoredEvent['name'], TaskStatus>> = {
  'task.started': 'RUNNING',
  'task.completed': 'COMPLETED',
  'task.failed': 'FAILED',
  'task.cancelled': 'CANCELLED',
  'task.skipped': 'SKIPPED',
  'task.paused': 'PAUSED',
  'task.resumed': 'PENDING',
  'task.retried': 'PENDING',
};

/** What the first read showed of a row: its status, and when it took it. */
interface Seen {
  status: string;
  updatedAt: number;
}

/**
 * Turns the stored events of a watched workflow into progress events, each with the status, time,
 * attempt and agent its event reports (not the row's, which may have moved on since). The first
 * read prints the rows as they are (its baseline); the events that landed while it read them may
 * or may not show in those rows, so among those (`ambiguous`) the ones the rows already show are
 * dropped: changes made before the row's time, and at that millisecond up to the one that left the
 * row as read.
 */
export class StoredChanges {
  private readonly seen = new Map<string, Seen>();
  /** Last status told per task, for a line's `from`. */
  private readonly told = new Map<string, TaskStatus>();
  private workflowStatus: WorkflowStatus | null = null;

  /** Records what the first read showed (the lines it printed come from the rows). */
  baseline(workflow: Workflow, tasks: readonly Task[]): void {
    this.seen.set(workflow.id, { status: workflow.status, updatedAt: workflow.updatedAt });
    this.workflowStatus = workflow.status;
    for (const task of tasks) {
      this.seen.set(task.id, { status: task.status, updatedAt: task.updatedAt });
      this.told.set(task.id, task.status);
    }
  }

  /** Progress events for stored events, in their order; `rows` are the rows read after them. */
  changes(
    events: readonly StoredEvent[],
    workflow: Workflow,
    rows: ReadonlyMap<string, Task>,
    watched: (taskId: string) => boolean,
    ambiguous = false,
  ): WatchEvent[] {
    const shown = (id: string, at: number, status: string) => ambiguous && this.shown(id, at, status);
    const out: WatchEvent[] = [];
    for (const event of events) {
      if (event.name === 'workflow.status') {
        if (shown(workflow.id, event.at, event.payload.to)) continue;
        const from = this.workflowStatus;
        this.workflowStatus = event.payload.to;
        out.push({ kind: 'workflow', workflow, from, status: event.payload.to, at: event.at });
        continue;
      }
      const taskId = event.taskId;
      const task = taskId === null ? undefined : rows.get(taskId);
      if (task === undefined || !watched(task.id)) continue;
      const status = event.name === 'task.attemptFailed' ? undefined : STATUS_AFTER[event.name];
      // A failed attempt leaves the task waiting to retry, or about to fail (its task.failed follows).
      const after: TaskStatus | undefined =
        event.name === 'task.attemptFailed' ? (event.payload.willRetry ? 'PENDING' : 'RUNNING') : status;
      if (after === undefined || shown(task.id, event.at, after)) continue;
      const from = this.told.get(task.id) ?? null;
      if (event.name === 'task.attemptFailed') {
        const { error, willRetry, attempt, agentId } = event.payload;
        const recorded = error ?? task.errors.find((e) => e.attempt === attempt) ?? null;
        if (recorded) out.push({ kind: 'attempt-failed', task, error: recorded, willRetry, at: event.at });
        if (!willRetry) continue;
        out.push({ kind: 'task', task, from, status: after, attempt, agentId, at: event.at });
        this.told.set(task.id, after);
        continue;
      }
      const payload = event.payload as { attempt?: number; attempts?: number; agentId?: string | null };
      const line: WatchEvent = { kind: 'task', task, from, status: status!, at: event.at };
      if (payload.attempt !== undefined || payload.attempts !== undefined)
        line.attempt = payload.attempt ?? payload.attempts!;
      if (payload.agentId !== undefined) line.agentId = payload.agentId;
      if (event.name === 'task.failed') line.error = event.payload.error;
      out.push(line);
      this.told.set(task.id, status!);
    }
    return out;
  }

  /**
   * Whether the first read already showed this change of `id`: one made before the row was read,
   * or at the same millisecond up to the change that left the status read.
   */
  private shown(id: string, at: number, status: string): boolean {
    const seen = this.seen.get(id);
    if (seen === undefined) return false;
    if (at < seen.updatedAt) return true;
    if (at === seen.updatedAt) {
      if (status === seen.status) this.seen.delete(id);
      return true;
    }
    this.seen.delete(id);
    return false;
  }
}
