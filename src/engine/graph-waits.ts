import type { Task } from '../domain/task.js';
import { WaitTimeoutError } from '../errors/errors.js';
import type { Store } from '../repositories/store.js';
import type { EngineClock } from './clock.js';
import type { Committer } from './committer.js';
import type { TaskDoor } from './task-door.js';

/** What the waits need of the engine's graphs. */
export interface GraphWaitsDeps {
  store: Store;
  committer: Committer;
  door: TaskDoor;
  clock: EngineClock;
  /** Runs work on a workflow's graph: kept loaded, counted as busy, errors logged, runs told after. */
  working(workflowId: string, work: () => Promise<void>): Promise<void>;
  /** Completes a node unrun with this output and a completion record; false if its task moved on. */
  completeUnrun(task: Task, output: unknown, how: string): boolean;
  /** Fails nodes unrun (REJECT), recording `error` in their tasks' errors. */
  reject(workflowId: string, taskIds: readonly string[], error: Error): Promise<void>;
  /**
   * Whether this engine holds the workflow (runs its graph, or executes its tasks): only then does
   * a wait take a signal, time out, or a sleep end here. Another engine that merely loaded the
   * workflow (to read or steer it) leaves them to the holder; a run started later arms them again.
   */
  holds(workflowId: string): boolean;
  /** Whether the workflow is paused: its waits take no signal and do not time out until it resumes. */
  isPaused(workflowId: string): boolean;
}

/** A wait for signals under way in this engine. */
interface SignalWait {
  workflowId: string;
  signals: readonly string[];
}

/**
 * The graph nodes that wait (docs/workflows.md): durable sleeps and waits for signals. Due times
 * are stored in the task's row (`runAfter`, through the task machine's WAIT), so a restart keeps
 * them; timers run on the engine's clock. A wait takes the oldest signal not yet taken that it
 * names, stored before or after it began to wait, in the commit that completes it: a signal is
 * taken once, and one sent while no engine holds the wait is delivered when one does. A paused
 * workflow's waits take nothing and time out on nothing: on resume (`armWaits`) they take the
 * signals kept meanwhile and, if due, time out.
 */
export class GraphWaits {
  /** The timers of the sleeps and wait timeouts under way, by task id. */
  private readonly timers = new Map<string, unknown>();
  private readonly waits = new Map<string, SignalWait>();
  /** Per workflow, the delivery or timeout under way: they run one at a time, in order. */
  private readonly chains = new Map<string, Promise<void>>();
  private stopped = false;

  constructor(private readonly deps: GraphWaitsDeps) {}

  /**
   * Starts durable sleeps: the due time goes into the task's row unless it is there already (a
   * sleep resumed after a restart keeps its due time); once due, the node completes unrun with
   * `{ sleptUntil }`, unless its task moved meanwhile (cancelled, say).
   */
  async sleep(workflowId: string, taskIds: readonly string[]): Promise<void> {
    const { clock } = this.deps;
    await this.forPending(workflowId, taskIds, (task) => {
      const sleep = task.graph?.sleep;
      if (!sleep || this.timers.has(task.id)) return;
      const due = 'until' in sleep ? sleep.until : clock.now() + sleep.ms;
      this.arm(task, due, (at) => this.wake(workflowId, task.id, at));
    });
  }

  /**
   * Starts waits for signals: each takes the first signal it names (stored before or after now);
   * one with a timeout fails WAIT_TIMED_OUT once it is due without one.
   */
  async wait(workflowId: string, taskIds: readonly string[]): Promise<void> {
    const { clock } = this.deps;
    await this.forPending(workflowId, taskIds, (task) => {
      const waitFor = task.graph?.waitFor;
      if (!waitFor) return;
      this.waits.set(task.id, { workflowId, signals: waitFor.signals });
      if (waitFor.timeoutMs === null || this.timers.has(task.id)) return;
      this.arm(task, clock.now() + waitFor.timeoutMs, () =>
        this.serially(workflowId, () => this.timeOut(workflowId, task.id, waitFor.timeoutMs!)),
      );
    });
    await this.signalled(workflowId);
  }

  /** Signals may have come for the workflow: its waits in this engine take what they name. */
  signalled(workflowId: string): Promise<void> {
    if (!this.isWaiting(workflowId)) return Promise.resolve();
    return this.serially(workflowId, () => this.deliver(workflowId));
  }

  /** The workflows with waits for signals in this engine. */
  waitingWorkflows(): string[] {
    return [...new Set([...this.waits.values()].map((wait) => wait.workflowId))];
  }

  /** The engine stops: timers are let go (due times stay stored), waits forgotten. */
  stop(): void {
    this.stopped = true;
    for (const handle of this.timers.values()) this.deps.clock.clearTimeout(handle);
    this.timers.clear();
    this.waits.clear();
  }

  /** Calls `start` for each of these tasks that is PENDING, as this engine's writes left it. */
  private async forPending(
    workflowId: string,
    taskIds: readonly string[],
    start: (task: Task) => void,
  ): Promise<void> {
    const { store, committer } = this.deps;
    await this.deps.working(workflowId, async () => {
      await committer.settleTasks(taskIds);
      for (const task of await store.tasks.getMany(taskIds)) {
        if (task.status === 'PENDING' && !this.stopped) start(task);
      }
      await committer.settle();
    });
  }

  /**
   * Arms a node's timer for its stored due time, or for `due` (then stored through WAIT) when it
   * has none.
   */
  private arm(task: Task, due: number, onDue: (at: number) => Promise<void>): void {
    const { clock, door } = this.deps;
    const now = clock.now();
    let at = task.runAfter;
    if (at === null) {
      at = due;
      door.send(task, { type: 'WAIT', delay: Math.max(0, at - now) });
    }
    const when = at;
    const handle = clock.setTimeout(
      () => {
        this.timers.delete(task.id);
        void onDue(when);
      },
      Math.max(0, when - now),
    );
    this.timers.set(task.id, handle);
  }

  private isWaiting(workflowId: string): boolean {
    for (const wait of this.waits.values()) if (wait.workflowId === workflowId) return true;
    return false;
  }

  /** Runs `work` after the workflow's earlier deliveries and timeouts. */
  private serially(workflowId: string, work: () => Promise<void>): Promise<void> {
    const next = (this.chains.get(workflowId) ?? Promise.resolve()).then(work);
    this.chains.set(workflowId, next);
    void next.finally(() => {
      if (this.chains.get(workflowId) === next) this.chains.delete(workflowId);
    });
    return next;
  }

  /** Forgets a wait and its timer. */
  private forget(taskId: string): void {
    this.waits.delete(taskId);
    const handle = this.timers.get(taskId);
    if (handle !== undefined) this.deps.clock.clearTimeout(handle);
    this.timers.delete(taskId);
  }

  /**
   * Gives the workflow's pending signals to its waits, oldest signal first, each to the first wait
   * that names it; a wait whose task is no longer PENDING (paused, cancelled) is forgotten (a
   * resume starts it again). The take commits with the wait's completion. While the workflow is
   * paused nothing is taken: the signals stay stored until it resumes.
   */
  private async deliver(workflowId: string): Promise<void> {
    const { store, committer, clock } = this.deps;
    if (!this.deps.holds(workflowId) || this.deps.isPaused(workflowId)) return;
    await this.deps.working(workflowId, async () => {
      const waiting = [...this.waits].filter(([, wait]) => wait.workflowId === workflowId);
      if (waiting.length === 0) return;
      const signals = await store.signals(workflowId, { pending: true });
      if (signals.length === 0 || this.stopped) return;
      const ids = waiting.map(([taskId]) => taskId);
      await committer.settleTasks(ids);
      const rows = new Map((await store.tasks.getMany(ids)).map((row) => [row.id, row]));
      const taken = new Set<string>();
      for (const [taskId, wait] of waiting) {
        const task = rows.get(taskId);
        if (task?.status !== 'PENDING' || this.waits.get(taskId) !== wait) {
          if (this.waits.get(taskId) === wait) this.forget(taskId);
          continue;
        }
        const signal = signals.find((s) => !taken.has(s.id) && wait.signals.includes(s.name));
        if (!signal) continue;
        const output = { signal: signal.name, payload: signal.payload, sentAt: signal.sentAt };
        this.forget(taskId);
        if (!this.deps.completeUnrun(task, output, 'signal')) continue;
        committer.stageSignalTake({ signalId: signal.id, taskId, at: clock.now() });
        taken.add(signal.id);
      }
      await committer.settle();
    });
  }

  /** A wait is due: it takes a signal that came meanwhile, or fails WAIT_TIMED_OUT. */
  private async timeOut(workflowId: string, taskId: string, timeoutMs: number): Promise<void> {
    await this.deliver(workflowId);
    const wait = this.waits.get(taskId);
    if (!wait || this.stopped) return;
    // Paused: the wait stays, without its timer; the resume arms it again on the stored due time.
    if (this.deps.isPaused(workflowId)) return;
    this.forget(taskId);
    // Not held here: the holder times it out (its own timer, on the stored due time).
    if (!this.deps.holds(workflowId)) return;
    const error = new WaitTimeoutError(
      `Task ${taskId} waited ${timeoutMs} ms for ${wait.signals.join(' or ')}; none came`,
      { taskId, signals: [...wait.signals], timeoutMs },
    );
    await this.deps.reject(workflowId, [taskId], error);
  }

  /** A sleep is due: its node completes unrun, unless its task moved meanwhile (cancelled, say). */
  private async wake(workflowId: string, taskId: string, due: number): Promise<void> {
    const { store, committer } = this.deps;
    if (!this.deps.holds(workflowId)) return;
    await this.deps.working(workflowId, async () => {
      await committer.settleTasks([taskId]);
      const task = await store.tasks.get(taskId);
      if (!task || task.status !== 'PENDING' || this.stopped) return;
      if (this.deps.completeUnrun(task, { sleptUntil: due }, 'sleep')) await committer.settle();
    });
  }
}
