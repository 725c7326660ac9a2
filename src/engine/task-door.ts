import {
  getInitialSnapshot,
  transition,
  type ActorOptions,
  type AnyActorLogic,
  type AnyActorRef,
  type SnapshotFrom,
} from 'xstate';
import { noRetryDelay, type RetryRules } from '../../machines/retry.js';
import {
  taskMachine,
  taskStatusOf,
  taskSystemId,
  type TaskMachine,
  type TaskMachineEvent,
} from '../../machines/task.machine.js';
import type { TaskStatus } from '../../machines/status.js';
import type { Task } from '../domain/task.js';
import { InvalidStateError } from '../errors/errors.js';
import { startActor, type TaskActor } from './actors.js';
import type { EngineClock } from './clock.js';
import type { Committer } from './committer.js';
import { announceTaskChange, type EventOutlet, type RateWait } from './engine-events.js';
import type { WorkflowActors } from './workflows.js';

/**
 * The one door through which a task's status changes, live or stored: an event is applied to the
 * task machine (the live actor, or XState's pure `transition()` on the stored row's state), and
 * the row is written from the state the machine reaches, with the bookkeeping that goes with it
 * (attempts, due time, lease, plan, finish time). Refused events throw INVALID_STATE and change
 * nothing. test/architecture/status-writes.test.ts fails when other code assigns a status.
 */

export type TaskSnapshot = SnapshotFrom<TaskMachine>;

/** The status a new task starts in: the task machine's initial state. */
export const INITIAL_TASK_STATUS: TaskStatus = taskStatusOf(getInitialSnapshot(taskMachine, {}).value);

/** What the task machine's rules are bounded by for one execution (unbounded when not given). */
export interface TaskLimits {
  maxAttempts: number;
  /** Attempts made before this run; the retry backoff counts from the run's first attempt. */
  priorAttempts?: number;
  interruptions?: number;
  maxInterruptions?: number;
  retry?: RetryRules;
  /** Its workflow is paused: a PENDING task waits in PENDING.held. */
  held?: boolean;
  /** See the task machine's `heartbeatTimeoutMs`; 0 or absent: none. */
  heartbeatTimeoutMs?: number;
}

/** Who runs an attempt that starts: the agent key and the engine holding the lease, and for how long. */
export interface TaskClaim {
  agentId: string;
  owner: string;
  leaseMs: number;
  /** The start's wait at a rate limit, for its `task.started` event. */
  rateWait?: RateWait | null;
}

const STATE_OF: Record<TaskStatus, string | Record<string, string>> = {
  PENDING: { PENDING: 'ready' },
  RUNNING: { RUNNING: 'unbounded' },
  COMPLETED: 'COMPLETED',
  FAILED: 'FAILED',
  PAUSED: 'PAUSED',
  CANCELLED: 'CANCELLED',
  SKIPPED: 'SKIPPED',
};

type SnapshotCache = WeakMap<RetryRules, Map<string, TaskSnapshot>>;
const initialSnapshots = new WeakMap<TaskMachine, SnapshotCache>();

/**
 * The state of a task machine for a task row. Snapshots are immutable and the context holds no
 * task data, so one is computed per (rules, status, attempts, limits) and shared: building a
 * snapshot costs more than the rest of a short task's life.
 */
function snapshotOf(
  logic: TaskMachine,
  task: Pick<Task, 'status' | 'attempts'>,
  limits: TaskLimits,
): TaskSnapshot {
  let byRules = initialSnapshots.get(logic);
  if (!byRules) initialSnapshots.set(logic, (byRules = new WeakMap()));
  const {
    maxAttempts,
    priorAttempts = 0,
    interruptions = 0,
    maxInterruptions = Number.MAX_SAFE_INTEGER,
    held = false,
    heartbeatTimeoutMs = 0,
  } = limits;
  const retry = limits.retry ?? noRetryDelay;
  let cache = byRules.get(retry);
  if (!cache) byRules.set(retry, (cache = new Map()));
  const key = `${task.status}:${task.attempts}:${maxAttempts}:${priorAttempts}:${interruptions}:${maxInterruptions}:${held}:${heartbeatTimeoutMs}`;
  let snapshot = cache.get(key);
  if (!snapshot) {
    snapshot = logic.resolveState({
      value: held && task.status === 'PENDING' ? { PENDING: 'held' } : STATE_OF[task.status],
      context: {
        attempts: task.attempts,
        maxAttempts,
        priorAttempts,
        retryDelay: 0,
        timeoutMs: 0,
        interruptions,
        maxInterruptions,
        retry,
        held,
        heartbeatTimeoutMs,
      },
    });
    if (cache.size >= 256) cache.clear();
    cache.set(key, snapshot);
  }
  return snapshot;
}

/** The task machine's state for a stored row that no live actor holds. */
export function storedState(task: Pick<Task, 'status' | 'attempts'>): TaskSnapshot {
  return snapshotOf(taskMachine, task, { maxAttempts: Math.max(1, task.attempts) });
}

const reusing = new WeakMap<TaskMachine, TaskMachine>();

/**
 * The task logic, except that an actor created from one of `snapshotOf`'s snapshots takes it as it
 * is. XState's `restoreSnapshot` rebuilds a persisted snapshot (reviving spawned children and actor
 * refs in the context, recomputing its state nodes); these are already resolved, immutable, with no
 * children and a plain context, so rebuilding one per actor only cost time and a private copy of the
 * snapshot (a fifth of creating a task actor, measured).
 */
function reusingSnapshots(logic: TaskMachine): TaskMachine {
  let wrapped = reusing.get(logic);
  if (!wrapped) {
    wrapped = Object.create(logic, {
      restoreSnapshot: { value: (snapshot: TaskSnapshot) => snapshot },
    }) as TaskMachine;
    reusing.set(logic, wrapped);
  }
  return wrapped;
}

/**
 * A task actor resumed from a task row (same status, same attempt count), in its agent's actor
 * system: `parent` is the agent actor, which sends it START and the attempts' outcomes and stops
 * it; other actors address it by its system id (`task:<id>`). A readable id (the same) only when
 * `readableId`: each extra actor option costs on the hot path.
 */
export function createTaskActor(
  logic: TaskMachine,
  task: Pick<Task, 'id' | 'status' | 'attempts'>,
  limits: TaskLimits,
  parent: AnyActorRef,
  readableId = false,
): TaskActor {
  const snapshot = snapshotOf(logic, task, limits);
  const systemId = taskSystemId(task.id);
  const options: ActorOptions<AnyActorLogic> = readableId
    ? { parent, systemId, id: systemId, snapshot }
    : { parent, systemId, snapshot };
  return startActor(reusingSnapshots(logic), options);
}

/** Throws INVALID_STATE unless the machine in `state` takes `event`. */
export function expectAccepted(task: Pick<Task, 'id'>, state: TaskSnapshot, event: TaskMachineEvent): void {
  // COMPLETED is final: a final state takes no event (sending one would only log a warning).
  if (state.status === 'active' && state.can(event)) return;
  const status = taskStatusOf(state.value);
  throw new InvalidStateError(`A ${status} task does not accept ${event.type}`, {
    taskId: task.id,
    status,
    event: event.type,
  });
}

function inBackoff(state: TaskSnapshot): boolean {
  const value = state.value;
  return typeof value === 'object' && (value as { PENDING?: string }).PENDING === 'backoff';
}

/**
 * Writes the state a task machine reached into the task row: its status and attempts, and the
 * bookkeeping each state implies. Entering RUNNING claims the task (agent, lease); waiting for a
 * retry sets the due time and ends the lease's clock; a final state clears the due time, plan and
 * lease and records the finish; a new run (RETRY) clears what the last run left.
 */
function writeState(task: Task, state: TaskSnapshot, now: number, claim: TaskClaim | null): void {
  const previous = task.status;
  const status = taskStatusOf(state.value);
  task.status = status;
  task.attempts = state.context.attempts;
  task.updatedAt = now;
  switch (status) {
    case 'RUNNING':
      task.startedAt ??= now;
      task.runAfter = null;
      if (claim) {
        task.agentId = claim.agentId;
        task.leaseOwner = claim.owner;
        task.leaseExpiresAt = now + claim.leaseMs;
      }
      return;
    case 'PENDING':
      if (inBackoff(state)) {
        task.runAfter = now + state.context.retryDelay;
        task.leaseExpiresAt = null;
      } else if (previous === 'FAILED' || previous === 'CANCELLED') {
        task.finishedAt = null;
        clearRun(task);
      }
      return;
    case 'PAUSED':
      return;
    default:
      task.finishedAt = now;
      clearRun(task);
  }
}

/** Clears what a run leaves in the row: its due time, execution plan and lease. */
function clearRun(task: Task): void {
  task.runAfter = null;
  task.execution = null;
  task.leaseOwner = null;
  task.leaseExpiresAt = null;
}

/**
 * The door of one engine: it applies events, writes the rows, stages them for the next commit
 * and tells the task's workflow actor of the change.
 */
export class TaskDoor {
  constructor(
    private readonly committer: Committer,
    private readonly workflows: WorkflowActors,
    private readonly clock: EngineClock,
    private readonly events: EventOutlet | null = null,
    /** Told of each write of a stored row (one no live actor holds); see TouchedTasks.rewritten. */
    private readonly rowWritten: (taskId: string) => void = () => undefined,
  ) {}

  /** Makes a new task row in the machine's initial status and stages it whole. */
  create(fields: Omit<Task, 'status'>): Task {
    const task: Task = { ...fields, status: INITIAL_TASK_STATUS };
    this.committer.stageTask(task);
    this.workflows.change(task, task.workflowId, null, task.status);
    this.announce(task, null);
    return task;
  }

  /**
   * Makes a task join a workflow: the row is staged whole, and the workflow counts it (and has
   * started, if the task made attempts before).
   */
  join(task: Task, workflowId: string): void {
    task.workflowId = workflowId;
    task.updatedAt = this.clock.now();
    this.committer.stageTask(task);
    this.workflows.change(task, workflowId, null, task.status, task.attempts > 0);
  }

  /**
   * Applies `event` to the task: through its live actor when there is one, else on the row's
   * stored state. Returns the status reached; throws INVALID_STATE when the machine refuses.
   * `claim` names who runs the attempt an accepted START begins.
   */
  send(task: Task, event: TaskMachineEvent, actor?: TaskActor | null, claim?: TaskClaim): TaskStatus {
    if (actor) {
      expectAccepted(task, actor.getSnapshot(), event);
      actor.send(event);
      return this.write(task, actor.getSnapshot(), claim ?? null);
    }
    const state = storedState(task);
    expectAccepted(task, state, event);
    this.rowWritten(task.id);
    return this.write(task, transition(taskMachine, state, event)[0], claim ?? null);
  }

  /**
   * Writes the row from the state its live actor reached on an event another actor sent it (the
   * agent's START, SUCCEED or FAIL); the caller checks that the state reached is the one the
   * event leads to.
   */
  record(task: Task, actor: TaskActor, claim?: TaskClaim): TaskStatus {
    return this.write(task, actor.getSnapshot(), claim ?? null);
  }

  private write(task: Task, state: TaskSnapshot, claim: TaskClaim | null): TaskStatus {
    const from = task.status;
    writeState(task, state, this.clock.now(), claim);
    this.committer.stageTaskState(task);
    this.workflows.change(task, task.workflowId, from, task.status);
    this.announce(task, from, claim?.rateWait ?? null);
    return task.status;
  }

  /** Announces the change's events: stored with its commit, published once it has committed. */
  private announce(task: Task, from: Task['status'] | null, rateWait: RateWait | null = null): void {
    if (this.events === null) return;
    const committer = this.committer;
    announceTaskChange(
      this.events,
      (taskId, build) => committer.announce(taskId, build),
      task,
      from,
      task.status,
      task.updatedAt,
      rateWait,
    );
  }
}
