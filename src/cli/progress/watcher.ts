import { isTerminalStatus, type TaskStatus, type WorkflowStatus } from '../../../machines/status.js';
import type { StoredEvent } from '../../engine/stored-events.js';
import { StoredChanges } from './stored-changes.js';
import type {
  AgentConfig,
  AttemptError,
  LoadSnapshot,
  ServiceRegistry,
  Task,
  Workflow,
} from '../../index.js';

/** What the store says about a workflow being run, at one poll. */
export interface WatchState {
  workflow: Workflow;
  /** The watched tasks, in creation order. */
  tasks: Task[];
  counts: Record<TaskStatus, number>;
  /** Live load of this process's agents, by agent config id. */
  load: LoadSnapshot;
  /** The agent configs the run may use, in the order given. */
  agents: AgentConfig[];
  /** Wall-clock milliseconds since the watch began. */
  elapsedMs: number;
  /** Wall-clock time of the poll, epoch milliseconds. */
  at: number;
}

/** How often the CLI reads the store while a run goes on (progress, a paused run's wait), ms. */
export const WATCH_POLL_MS = 100;

/**
 * A line's worth of progress. Those made from the store's events say what their event reports
 * (`status`, `at`, `attempt`, `agentId`, `error`), which the row (read later) may have moved past;
 * without them, the row's fields are used (the first read, which shows the rows as they are).
 */
export type WatchEvent =
  | {
      kind: 'workflow';
      workflow: Workflow;
      from: WorkflowStatus | null;
      status?: WorkflowStatus;
      at?: number;
    }
  /** A wait for a signal (`waitFor`) began: its dependencies are done (or its due time is stored). */
  | { kind: 'waiting'; task: Task; signals: string[] }
  | {
      kind: 'task';
      task: Task;
      from: TaskStatus | null;
      status?: TaskStatus;
      at?: number;
      attempt?: number;
      agentId?: string | null;
      /** A FAILED task's last error. */
      error?: AttemptError | null;
    }
  | { kind: 'attempt-failed'; task: Task; error: AttemptError; willRetry: boolean; at?: number };

/**
 * When an event happened, as the store recorded it (epoch ms): the time of the change its stored
 * event reports; for one read from the rows, a failed attempt's time, the time a task or workflow
 * row took its status (`updatedAt`, a finished task's `finishedAt`), not when a poll noticed it.
 */
export function eventTime(event: WatchEvent): number {
  if (event.kind !== 'waiting' && event.at !== undefined) return event.at;
  if (event.kind === 'workflow') return event.workflow.updatedAt;
  if (event.kind === 'attempt-failed') return event.error.at;
  return event.task.finishedAt ?? event.task.updatedAt;
}

/** The status an event reports: its own, else its row's. */
export function statusOf(event: Extract<WatchEvent, { kind: 'task' }>): TaskStatus;
export function statusOf(event: Extract<WatchEvent, { kind: 'workflow' }>): WorkflowStatus;
export function statusOf(event: Extract<WatchEvent, { kind: 'task' | 'workflow' }>): string {
  return event.kind === 'task'
    ? (event.status ?? event.task.status)
    : (event.status ?? event.workflow.status);
}

/** Shows progress: a live view on a terminal, plain lines otherwise, nothing for `--json`. */
export interface Reporter {
  update(state: WatchState, events: readonly WatchEvent[]): void;
  close(state: WatchState | null): void;
}

export function countByStatus(tasks: readonly Task[]): Record<TaskStatus, number> {
  const counts: Record<TaskStatus, number> = {
    PENDING: 0,
    RUNNING: 0,
    COMPLETED: 0,
    FAILED: 0,
    PAUSED: 0,
    CANCELLED: 0,
    SKIPPED: 0,
  };
  for (const task of tasks) counts[task.status] += 1;
  return counts;
}

export interface WatcherOptions {
  registry: ServiceRegistry;
  workflowId: string;
  agents: AgentConfig[];
  reporter: Reporter;
  /** Watch only these tasks of the workflow. @default every task */
  taskIds?: ReadonlySet<string>;
  /** @default WATCH_POLL_MS */
  intervalMs?: number;
  now?: () => number;
}

/** Stored events read at once by a poll. */
const PAGE = 1_000;

/**
 * Follows a workflow in the store: its first read shows the rows as they are; from then on each
 * poll reads the workflow's stored events after its cursor (every status change and failed attempt,
 * however fast they came, by whichever process made them; pauses from another terminal included)
 * and the rows, for the counts the live view shows.
 */
export class WorkflowWatcher {
  /** Waits already told as begun (once each). */
  private readonly waiting = new Set<string>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private polling: Promise<WatchState> | null = null;
  private last: WatchState | null = null;
  private readonly startedAt: number;
  private running = false;
  /** Where the next poll reads the stored events from; null until the first read. */
  private cursor: string | null = null;
  private readonly stored = new StoredChanges();

  constructor(private readonly options: WatcherOptions) {
    this.startedAt = (options.now ?? Date.now)();
  }

  /** Polls once now, then every `intervalMs` until `stop()`. */
  async start(): Promise<void> {
    this.running = true;
    await this.poll();
    this.schedule();
  }

  /** Stops polling after one last poll, and closes the reporter. */
  async stop(): Promise<WatchState | null> {
    this.running = false;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    try {
      // A poll already in flight may have read the store before the end: read it once more.
      await this.polling?.catch(() => {});
      await this.poll();
    } catch {
      // The store may already be closed (interrupted run); the last state stands.
    }
    this.options.reporter.close(this.last);
    return this.last;
  }

  poll(): Promise<WatchState> {
    this.polling ??= this.read().finally(() => (this.polling = null));
    return this.polling;
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.poll()
        .catch(() => {})
        .finally(() => this.schedule());
    }, this.options.intervalMs ?? WATCH_POLL_MS);
  }

  /** The workflow's stored events after `after`, page by page; moves the cursor past them. */
  private async eventsSince(after: string): Promise<StoredEvent[]> {
    const events: StoredEvent[] = [];
    let cursor = after;
    for (;;) {
      const page = await this.options.registry.readEvents({
        after: cursor,
        workflowId: this.options.workflowId,
        limit: PAGE,
      });
      events.push(...page.events);
      cursor = page.cursor;
      if (page.events.length < PAGE) break;
    }
    this.cursor = cursor;
    return events;
  }

  private async read(): Promise<WatchState> {
    const { registry, workflowId, taskIds } = this.options;
    const first = this.cursor === null;
    // The first read takes the end of the stream before reading the rows (a change landing between
    // shows in both, which StoredChanges sorts out); later ones read the events, then the rows.
    const start = first ? (await registry.readEvents({ limit: 0 })).cursor : this.cursor!;
    const stored = first ? [] : await this.eventsSince(start);
    const workflow = await registry.getRepository('workflows').get(workflowId);
    if (!workflow) throw new Error(`Workflow ${workflowId} is not in the store`);
    const all = await registry.getRepository('tasks').find({ where: { workflowId } });
    const tasks = taskIds ? all.filter((task) => taskIds.has(task.id)) : all;
    const load = await registry.getTaskRouter().getLoad();
    const at = (this.options.now ?? Date.now)();
    const rows = new Map(all.map((task) => [task.id, task]));
    const watched = (taskId: string) => !taskIds || taskIds.has(taskId);
    let events: WatchEvent[];
    if (first) {
      events = this.rowChanges(workflow, tasks);
      this.stored.baseline(workflow, all);
      const between = await this.eventsSince(start);
      events.push(...this.stored.changes(between, workflow, rows, watched, true));
    } else {
      events = this.stored.changes(stored, workflow, rows, watched);
    }
    events.push(...this.waitsBegun(tasks, all));
    const state: WatchState = {
      workflow,
      tasks,
      counts: countByStatus(tasks),
      load,
      agents: this.options.agents,
      elapsedMs: at - this.startedAt,
      at,
    };
    this.last = state;
    this.options.reporter.update(state, events);
    return state;
  }

  /**
   * The first read's lines, from the rows as they are: each task that is not PENDING, in the order
   * things happened to them; the workflow's status before them, or after them once it has ended.
   */
  private rowChanges(workflow: Workflow, tasks: readonly Task[]): WatchEvent[] {
    // Errors already there are history (a retry's or a resume's earlier runs): no line.
    const taskEvents: WatchEvent[] = tasks
      .filter((task) => task.status !== 'PENDING')
      .map((task) => ({ kind: 'task', task, from: null }));
    taskEvents.sort((a, b) => eventTime(a) - eventTime(b));
    const workflowEvent: WatchEvent = { kind: 'workflow', workflow, from: null };
    return isTerminalStatus(workflow.status)
      ? [...taskEvents, workflowEvent]
      : [workflowEvent, ...taskEvents];
  }

  /**
   * The waits for a signal that began since the last poll: PENDING, with their due time stored or
   * every dependency done (COMPLETED or SKIPPED, read among `all` the workflow's tasks).
   */
  private waitsBegun(tasks: readonly Task[], all: readonly Task[]): WatchEvent[] {
    const statuses = new Map(all.map((task) => [task.id, task.status]));
    const done = (id: string) => statuses.get(id) === 'COMPLETED' || statuses.get(id) === 'SKIPPED';
    const events: WatchEvent[] = [];
    for (const task of tasks) {
      const waitFor = task.graph?.waitFor;
      if (!waitFor || task.status !== 'PENDING') {
        // A retried wait waits again: it is told again.
        if (task.status !== 'PENDING') this.waiting.delete(task.id);
        continue;
      }
      if (this.waiting.has(task.id)) continue;
      if (task.runAfter === null && !task.graph!.dependsOn.every(done)) continue;
      this.waiting.add(task.id);
      events.push({ kind: 'waiting', task, signals: waitFor.signals });
    }
    return events;
  }
}
