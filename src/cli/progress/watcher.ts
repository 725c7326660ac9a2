import { isTerminalStatus, type TaskStatus, type WorkflowStatus } from '../../../machines/status.js';
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

export type WatchEvent =
  | { kind: 'workflow'; workflow: Workflow; from: WorkflowStatus | null }
  /** A wait for a signal (`waitFor`) began: its dependencies are done (or its due time is stored). */
  | { kind: 'waiting'; task: Task; signals: string[] }
  | { kind: 'task'; task: Task; from: TaskStatus | null }
  | { kind: 'attempt-failed'; task: Task; error: AttemptError; willRetry: boolean };

/**
 * When an event happened, as the store recorded it (epoch ms): a failed attempt's time, the time a
 * task or workflow row took its status (`updatedAt`: a task's first start or a later one, a finished
 * task's `finishedAt`), not when a poll noticed it.
 */
export function eventTime(event: WatchEvent): number {
  if (event.kind === 'workflow') return event.workflow.updatedAt;
  if (event.kind === 'attempt-failed') return event.error.at;
  return event.task.finishedAt ?? event.task.updatedAt;
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

interface Seen {
  status: TaskStatus;
  errors: number;
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

/**
 * Polls the store for a workflow's row and tasks and turns the differences into events: one per
 * workflow status change, task status change and failed attempt. Reading the store (not the
 * engine) shows what every process did, pauses from another terminal included.
 */
export class WorkflowWatcher {
  private readonly seen = new Map<string, Seen>();
  /** Waits already told as begun (once each). */
  private readonly waiting = new Set<string>();
  private workflowStatus: WorkflowStatus | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private polling: Promise<WatchState> | null = null;
  private last: WatchState | null = null;
  private readonly startedAt: number;
  private running = false;

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

  private async read(): Promise<WatchState> {
    const { registry, workflowId, taskIds } = this.options;
    const workflow = await registry.getRepository('workflows').get(workflowId);
    if (!workflow) throw new Error(`Workflow ${workflowId} is not in the store`);
    const all = await registry.getRepository('tasks').find({ where: { workflowId } });
    const tasks = taskIds ? all.filter((task) => taskIds.has(task.id)) : all;
    const load = await registry.getTaskRouter().getLoad();
    const at = (this.options.now ?? Date.now)();
    const taskEvents: WatchEvent[] = [];
    let workflowEvent: WatchEvent | null = null;
    if (workflow.status !== this.workflowStatus) {
      workflowEvent = { kind: 'workflow', workflow, from: this.workflowStatus };
      this.workflowStatus = workflow.status;
    }
    // A workflow that starts or pauses is told before its tasks; one that finishes, after them.
    const last = workflowEvent !== null && isTerminalStatus(workflow.status);
    // Errors already there at the first poll are history (a retry's or a resume's earlier runs).
    const first = this.last === null;
    for (const task of tasks) {
      const before = this.seen.get(task.id);
      for (let i = before?.errors ?? (first ? task.errors.length : 0); i < task.errors.length; i += 1) {
        const error = task.errors[i]!;
        taskEvents.push({ kind: 'attempt-failed', task, error, willRetry: error.retryable });
      }
      const changed = before ? before.status !== task.status : task.status !== 'PENDING';
      const again =
        before?.status === 'RUNNING' && task.status === 'RUNNING' && task.errors.length > before.errors;
      if (changed || again) taskEvents.push({ kind: 'task', task, from: before?.status ?? null });
      this.seen.set(task.id, { status: task.status, errors: task.errors.length });
    }
    taskEvents.push(...this.waitsBegun(tasks, all));
    // Tasks in the order things happened to them (ties keep the order above: a failed attempt
    // before the wait for its retry).
    taskEvents.sort((a, b) => eventTime(a) - eventTime(b));
    const events: WatchEvent[] = [];
    if (workflowEvent !== null && !last) events.push(workflowEvent);
    events.push(...taskEvents);
    if (workflowEvent !== null && last) events.push(workflowEvent);
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
   * The waits for a signal that began since the last poll: PENDING, with their due time stored or
   * every dependency done (COMPLETED or SKIPPED, read among `all` the workflow's tasks).
   */
  private waitsBegun(tasks: readonly Task[], all: readonly Task[]): WatchEvent[] {
    const statusOf = new Map(all.map((task) => [task.id, task.status]));
    const done = (id: string) => statusOf.get(id) === 'COMPLETED' || statusOf.get(id) === 'SKIPPED';
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
