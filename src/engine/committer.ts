import type { Task } from '../domain/task.js';
import type { Workflow } from '../domain/workflow.js';
import type { StoreError } from '../errors/errors.js';
import {
  isEmptyBatch,
  type CommandAck,
  type CompletionRecord,
  type ControlCommand,
  type EngineBeat,
  type Signal,
  type SignalTake,
  type Store,
  type StoreBatch,
  type TaskFence,
  type WorkflowDerivation,
} from '../repositories/store.js';
import type { EventRecord } from '../repositories/events.js';
import { systemClock, type EngineClock } from './clock.js';
import { Announcements } from './announcements.js';
import type { EventDraft, EventOutlet } from './engine-events.js';
import type { Fences } from './fences.js';
import type { CoordinatedWorkflows } from './coordinated-workflows.js';
import { silentLogger, type Logger } from './logger.js';
import { Staging, type Callback, type Taken } from './staging.js';
import { CommitOutage, isTransientStoreError } from './commit-outage.js';
import {
  abandonFlights,
  deliverEnded,
  ownFences,
  PART_ROWS,
  SPLIT_MIN_ROWS,
  taskIdsInFlight,
  withParts,
  type Flight,
} from './commit-flights.js';

/** Told the task rows of each batch as it is taken; what it returns is called once that commit ended. */
export type TaskRowsWatcher = (rows: readonly Task[]) => (() => void) | null;

export interface CommitterOptions {
  /** Times the outage and arms the retries. */
  clock: EngineClock;
  /** Jitter of the retry delays, in [0, 1). */
  random: () => number;
  /** How long a commit failing with a retryable store error is retried; 0: not at all. */
  retryMs: number;
  logger: Logger;
  /** The fences of the engine's writes of tasks it holds (none: no write is fenced). */
  fences: Fences | null;
  /** Where announced events go (none: nowhere). */
  events: EventOutlet | null;
  /** Names the engine in the events it writes. */
  engineId: string;
  /** Rows of a part when a large batch is split in more than two (see `PART_ROWS`). */
  partRows: number;
}

/** The next turn of the event loop; `setTimeout(0)` where there is no `setImmediate` (browsers). */
const nextTurn: (fn: () => void) => void =
  typeof setImmediate === 'function' ? (fn) => setImmediate(fn) : (fn) => setTimeout(fn, 0);

/**
 * Group commit: rows staged during one turn of the event loop are written in one `store.commit`
 * (one transaction), and the callbacks waiting on them run only after it has committed. A row
 * staged twice in a turn is written once, in its latest form.
 *
 * A commit that fails because the store is unreachable (a retryable STORE_UNAVAILABLE or
 * STORE_BUSY) is retried with backoff and jitter for `retryMs`: the failed batch goes back in
 * front of what was staged since, its callbacks keep waiting, and the next try writes the rows as
 * the engine holds them then (a batch is idempotent, so one that did commit although the client
 * saw an error is written again to the same effect). Past `retryMs` every waiting callback gets a
 * STORE_UNAVAILABLE error, everything staged is dropped, and the give-up hooks run.
 */
export class Committer {
  private readonly staged = new Staging();
  private scheduled = false;
  /** True while the before-flush hooks run: what they stage joins the batch being taken. */
  private taking = false;
  /** Batches taken whose waiters have not all been called, oldest first; some still in flight. */
  private flights: Flight[] = [];
  /** Batches in flight. */
  private inFlight = 0;
  /** The ids of the tasks of the batches in flight, once someone asked. */
  private inFlightIds: Set<string> | null = null;
  /** Commits the store may have in flight at once (`Store.commitLanes`). */
  private readonly lanes: number;
  private readonly beforeFlush: Array<() => void> = [];
  private readonly giveUp: Array<(error: StoreError) => void> = [];
  private readonly taskWatchers: Array<TaskRowsWatcher> = [];
  private readonly options: CommitterOptions;
  /** The workflows this engine coordinates, once it runs a worker (see fenceCoordination). */
  private coordinated: CoordinatedWorkflows | null = null;
  /** The workflow machine's rule for stored rows, once the engine shares workflows (see deriveWorkflowStatuses). */
  private deriveStatus: WorkflowDerivation['status'] | null = null;
  private readonly outage: CommitOutage;
  private readonly events: Announcements;

  constructor(
    private readonly store: Store,
    options: Partial<CommitterOptions> = {},
  ) {
    this.options = {
      clock: options.clock ?? systemClock,
      random: options.random ?? Math.random,
      retryMs: options.retryMs ?? 0,
      logger: options.logger ?? silentLogger,
      fences: options.fences ?? null,
      events: options.events ?? null,
      engineId: options.engineId ?? 'engine',
      partRows: options.partRows ?? PART_ROWS,
    };
    this.events = new Announcements(this.options.events, this.options.engineId);
    this.outage = new CommitOutage(this.options);
    const lanes = store.commitLanes ?? 1;
    this.lanes = Number.isInteger(lanes) && lanes > 1 ? lanes : 1;
  }

  /**
   * From now on each batch has the store derive again the status of the workflows whose rows it
   * writes, from their stored tasks, in its transaction (`StoreBatch.deriveWorkflows`): for engines
   * that share workflows with others (workers), whose in-memory counts miss the others' changes.
   */
  deriveWorkflowStatuses(status: WorkflowDerivation['status']): void {
    this.deriveStatus = status;
  }

  /**
   * Whether the store derives workflow statuses (see deriveWorkflowStatuses): then their
   * `workflow.status` events are the store's, made from the rows it changed, not the engine's.
   */
  get derivesStatuses(): boolean {
    return this.deriveStatus !== null;
  }

  /**
   * From now on each batch that writes a workflow `coordinated` holds carries the coordinator fence
   * (`StoreBatch.coordination`), and the workflows a commit reports lost are dropped there.
   */
  fenceCoordination(coordinated: CoordinatedWorkflows): void {
    this.coordinated = coordinated;
  }

  /** True while commits fail and are being retried. */
  get retrying(): boolean {
    return this.outage.active;
  }

  /** Runs just before each batch is taken, to stage derived rows (workflow statuses). */
  onBeforeFlush(fn: () => void): void {
    this.beforeFlush.push(fn);
  }

  /**
   * Runs when the store stayed unreachable past `retryMs`, after every waiting callback got the
   * error: the engine lets go of the work whose state could not be recorded.
   */
  onGiveUp(fn: (error: StoreError) => void): void {
    this.giveUp.push(fn);
  }

  /**
   * Calls `fn` with the task rows of each batch as it is taken, in the form they are written (a
   * batch put back after a failed try is told again); what `fn` returns is called once the batch's
   * commit has ended, committed or not.
   */
  onTaskRows(fn: TaskRowsWatcher): void {
    this.taskWatchers.push(fn);
  }

  /** Stages a task row to be written whole: a new row, or a change of fields beyond its state. */
  stageTask(task: Task): void {
    this.staged.task(task);
    this.schedule();
  }

  /**
   * Stages a change of a stored task's lifecycle fields only (`TASK_STATE_FIELDS`: status,
   * attempts, lease...), a narrower write; it stays a whole-row write if one is staged already.
   */
  stageTaskState(task: Task): void {
    this.staged.taskState(task);
    this.schedule();
  }

  stageWorkflow(workflow: Workflow): void {
    this.staged.workflow(workflow);
    this.schedule();
  }

  stageCompletion(record: CompletionRecord): void {
    this.staged.append('completions', record);
    this.schedule();
  }

  stageCommand(command: ControlCommand): void {
    this.staged.append('commands', command);
    this.schedule();
  }

  stageBeat(beat: EngineBeat): void {
    this.staged.beat(beat);
    this.schedule();
  }

  stageAck(ack: CommandAck): void {
    this.staged.append('acks', ack);
    this.schedule();
  }

  stageSignal(signal: Signal): void {
    this.staged.append('signals', signal);
    this.schedule();
  }

  /** A wait takes a signal: stage it with the wait's completion, so both commit or neither. */
  stageSignalTake(take: SignalTake): void {
    this.staged.append('signalTakes', take);
    this.schedule();
  }

  /**
   * Builds events with the batch that takes everything staged so far: the store writes them in
   * that batch's transaction (if events are stored), and this engine's listeners hear them once it
   * has committed, before the callbacks waiting on the commit; never if the commit fails for good,
   * nor if the store refused the write of `taskId` (another engine holds it).
   */
  announce(taskId: string | null, build: () => EventDraft[]): void {
    this.staged.announce({ taskId, build, drafts: null, token: null });
    this.schedule();
  }

  /** Whether rows or records are staged for the next batch (announced events aside). */
  hasRowsStaged(): boolean {
    return this.staged.hasRows();
  }

  /** Calls `fn` once everything staged so far has committed (or with the error if it failed). */
  afterCommit(fn: Callback): void {
    this.staged.wait({ fn, taskIds: null });
    this.schedule();
  }

  /**
   * Calls `fn` once the writes of these tasks staged so far have committed (or with the error if
   * they failed), which on a store with several commit lanes may be before batches taken earlier
   * have: for an attempt that may run once its start is on record. Waits as `afterCommit` does
   * when none of them has a write staged.
   */
  afterTasksCommit(taskIds: readonly string[], fn: Callback): void {
    if (this.lanes === 1 || !taskIds.every((id) => this.staged.has(id))) {
      this.afterCommit(fn);
      return;
    }
    this.staged.wait({ fn, taskIds });
    this.schedule();
  }

  /** Resolves once everything staged so far has committed. */
  settle(): Promise<void> {
    return new Promise((resolve, reject) => this.afterCommit((error) => (error ? reject(error) : resolve())));
  }

  /** True while a write of the task is staged or in flight: the store's row may be older. */
  isUncommitted(taskId: string): boolean {
    if (this.staged.has(taskId)) return true;
    return this.inFlight > 0 && this.inFlightTaskIds().has(taskId);
  }

  /** The ids of the tasks whose writes are in flight. */
  private inFlightTaskIds(): Set<string> {
    return (this.inFlightIds ??= taskIdsInFlight(this.flights));
  }

  /** Resolves once this engine's writes of these tasks have committed (at once if there are none). */
  async settleTasks(taskIds: readonly string[]): Promise<void> {
    if (taskIds.some((id) => this.isUncommitted(id))) await this.settle();
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.lanes || this.taking || this.outage.waiting) return;
    this.scheduled = true;
    nextTurn(() => this.flush());
  }

  /** Whether the staged batch may commit while others are in flight: tasks only, none of theirs. */
  private mayOverlap(): boolean {
    return (
      !this.outage.active &&
      this.staged.tasksOnly(this.coordinated) &&
      !this.staged.touches(this.inFlightTaskIds())
    );
  }

  /**
   * Takes everything staged and commits it. One batch at a time, unless the store has several
   * commit lanes (`Store.commitLanes`): then a batch of task writes only may commit beside those
   * in flight when it shares no task with them, and a large one is split in two when nothing is in
   * flight. Two batches writing one row never race: on a store with several connections an older
   * state could commit last.
   */
  private flush(): void {
    this.scheduled = false;
    this.sendWaiting();
    // The flush in flight reschedules when it ends.
    if (this.inFlight >= this.lanes || this.outage.waiting) return;
    this.taking = true;
    try {
      for (const fn of this.beforeFlush) fn();
    } finally {
      this.taking = false;
    }
    if (this.inFlight > 0 && !this.mayOverlap()) return;
    // The fences first: they are of the staged writes, which taking them empties (and one fence
    // for every part of a split: taking a part's fences forgets released holds of the others').
    const fences = this.takeFences();
    const count = this.partCount();
    const taken = count === 1 ? [this.staged.take()] : this.staged.takeParts(count, this.options.partRows);
    const flights: Flight[] = [];
    for (const part of taken) flights.push(this.commit(part, fences, flights.slice()));
    this.sendWaiting();
  }

  /**
   * In how many batches to take what is staged: 1, unless the store has several lanes, none is
   * in flight, the store is reachable and the batch is of task writes only and large enough.
   */
  private partCount(): number {
    const rows = this.staged.taskCount;
    if (this.lanes === 1 || this.inFlight > 0 || this.outage.active || rows < SPLIT_MIN_ROWS) return 1;
    if (!this.staged.tasksOnly(this.coordinated)) return 1;
    const { partRows } = this.options;
    return rows > 2 * partRows ? Math.ceil(rows / partRows) : 2;
  }

  /** The fences of the staged task writes (see Fences.take). */
  private takeFences(): Map<string, TaskFence> | undefined {
    const fences = this.options.fences;
    if (!fences) return undefined;
    const ids = this.staged.stateIds();
    return fences.take(ids, this.inFlight > 0 ? this.inFlightTaskIds() : undefined);
  }

  /**
   * Registers a batch taken for commit (`fences`: of its state writes, or of more; `parts`: the
   * earlier parts of the batch it is a part of), to be sent once a lane is free (`sendWaiting`).
   */
  private commit(
    taken: Taken,
    allFences: ReadonlyMap<string, TaskFence> | undefined,
    parts: readonly Flight[] = [],
  ): Flight {
    const flight: Flight = {
      rows: [taken.tasks, taken.taskStates],
      waiters: taken.waiters,
      own: this.lanes === 1 ? 0 : taken.waiters.filter((waiter) => waiter.taskIds !== null).length,
      ended: false,
      failure: null,
      parts,
      redirect: false,
      givenUp: null,
      publish: null,
      send: () => this.write(taken, allFences, flight),
    };
    this.flights.push(flight);
    this.inFlightIds = null;
    return flight;
  }

  /** Sends the batches taken and waiting for a lane, oldest first, while lanes are free. */
  private sendWaiting(): void {
    for (const flight of this.flights) {
      if (this.inFlight >= this.lanes) return;
      const send = flight.send;
      if (send === null) continue;
      flight.send = null;
      this.inFlight += 1;
      void send();
    }
  }

  private async write(
    taken: Taken,
    allFences: ReadonlyMap<string, TaskFence> | undefined,
    flight: Flight,
  ): Promise<void> {
    // The rows go as they are: a store reads them before its first await (see Store.commit), so a
    // later state never reaches the store ahead of the records that go with it.
    const { waiters: _waiting, announcements: _told, ...rows } = taken;
    const fences = allFences && ownFences(allFences, taken.taskStates);
    const batch: StoreBatch = fences?.size ? { ...rows, fences } : rows;
    const coordination = this.coordinated?.fenceOf([...taken.tasks, ...taken.taskStates], taken.workflows);
    if (coordination) batch.coordination = coordination;
    if (taken.announcements.length > 0) {
      const events = this.events.records(taken.announcements);
      if (events.length > 0) batch.events = events;
    }
    if (this.deriveStatus && taken.workflows.length > 0) {
      const workflowIds = taken.workflows.map((workflow) => workflow.id);
      batch.deriveWorkflows = { workflowIds, status: this.deriveStatus, at: this.options.clock.now() };
      // The workflow.status events of these workflows: the changes the commit made to their rows,
      // as the store derived them (the engine announces none of its own, see derivesStatuses).
      if (this.events.wanted('workflow.status')) {
        batch.deriveWorkflows.eventsBy = this.options.engineId;
        if (!this.events.stored) batch.deriveWorkflows.storeEvents = false;
      }
    }
    let failure: unknown = null;
    let refused: readonly string[] = [];
    let derived: readonly EventRecord[] = [];
    let lostWorkflows: readonly string[] = [];
    const ended = this.watchTasks(taken);
    try {
      if (!isEmptyBatch(batch)) {
        const result = await this.store.commit(batch);
        refused = result?.fenced ?? [];
        derived = result?.derived ?? [];
        lostWorkflows = result?.lost ?? [];
      }
    } catch (error) {
      failure = error;
    }
    this.inFlight -= 1;
    this.inFlightIds = null;
    for (const fn of ended) fn();
    if (failure !== null && flight.givenUp === null && this.outage.retryLater(failure, () => this.flush())) {
      this.flights.splice(this.flights.indexOf(flight), 1);
      // The last part of a split batch goes back: its waiters on everything still hear the others'.
      if (flight.parts.length > 0)
        taken.waiters = taken.waiters.map((waiter) => withParts(waiter, flight.parts));
      this.staged.putBack(taken);
      // The waiters on everything of batches taken after it, still in flight, wait for it too.
      for (const other of this.flights) other.redirect = true;
      this.deliver();
      this.sendWaiting();
      return;
    }
    let lost: StoreError | null = null;
    if (failure === null) {
      // A batch with nothing to write (callers waiting, say) proves nothing of the store.
      if (!isEmptyBatch(batch)) this.outage.end();
      // Before the waiters: an execution whose write was refused is dropped before its agent runs.
      if (fences?.size) this.options.fences!.committed(fences, refused);
      if (lostWorkflows.length > 0) this.coordinated?.lost(lostWorkflows);
      const stored = (batch.events?.length ?? 0) > 0;
      flight.publish = () => this.events.published(taken.announcements, refused, derived, stored);
    } else if (flight.givenUp !== null && isTransientStoreError(failure)) {
      // In flight when the engine gave up on the store: it fails as everything else did then.
      failure = flight.givenUp;
    } else if (isTransientStoreError(failure)) {
      // Given up: nothing staged can be recorded, so everyone waiting hears it now.
      lost = this.outage.giveUp(failure);
      failure = lost;
      abandonFlights(this.flights, lost);
      const staged = this.staged.take().waiters;
      flight.own += staged.filter((waiter) => waiter.taskIds !== null).length;
      flight.waiters = [...flight.waiters, ...staged];
    } else {
      // The store answered (a refused row, a corrupt file): an outage in progress is over.
      this.outage.reset();
      this.options.logger.error({ err: failure }, 'A commit failed; the calls waiting on it are rejected');
    }
    flight.ended = true;
    flight.failure = failure;
    this.inFlightIds = null;
    this.deliver();
    if (lost) for (const fn of this.giveUp) fn(lost);
    this.sendWaiting();
    if (this.staged.hasAny()) {
      this.schedule();
    }
  }

  /** Calls the waiters of the batches that ended (see `deliverEnded`). */
  private deliver(): void {
    deliverEnded(this.flights, (waiters) => this.staged.waitBefore(waiters));
  }

  /** Tells the watchers of task rows a batch's rows; what to call once its commit ended. */
  private watchTasks(taken: Taken): Array<() => void> {
    const ended: Array<() => void> = [];
    if (this.taskWatchers.length === 0 || taken.tasks.length + taken.taskStates.length === 0) return ended;
    const rows = taken.tasks.length === 0 ? taken.taskStates : [...taken.tasks, ...taken.taskStates];
    for (const watch of this.taskWatchers) {
      const fn = watch(rows);
      if (fn !== null) ended.push(fn);
    }
    return ended;
  }
}
