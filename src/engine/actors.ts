import { createActor, type Actor, type ActorOptions, type AnyActorLogic } from 'xstate';
import {
  taskMachine,
  taskStatusOf,
  type TaskMachine,
  type TaskMachineEvent,
} from '../../machines/task.machine.js';
import type { TaskStatus } from '../../machines/status.js';
import type { Task } from '../domain/task.js';
import { InvalidStateError } from '../errors/errors.js';
import { systemClock, type EngineClock } from './clock.js';
import type { ResolvedEngineOptions } from './options.js';

export type TaskActor = Actor<TaskMachine>;

/** Actor options shared by every actor an engine creates; only the keys in use are set. */
export function actorOptions(options: ResolvedEngineOptions): ActorOptions<AnyActorLogic> {
  const result: ActorOptions<AnyActorLogic> = {};
  if (options.clock !== systemClock)
    result.clock = options.clock as EngineClock & ActorOptions<AnyActorLogic>['clock'];
  if (options.inspect) result.inspect = options.inspect;
  return result;
}

const STATE_OF: Record<TaskStatus, string | Record<string, string>> = {
  PENDING: { PENDING: 'ready' },
  RUNNING: { RUNNING: 'unbounded' },
  COMPLETED: 'COMPLETED',
  FAILED: 'FAILED',
  PAUSED: 'PAUSED',
  CANCELLED: 'CANCELLED',
};

/**
 * What a task actor's rules are bounded by: attempts in all, and interruptions so far and allowed
 * (unbounded when not given).
 */
export interface TaskLimits {
  maxAttempts: number;
  interruptions?: number;
  maxInterruptions?: number;
}

const initialSnapshots = new WeakMap<TaskMachine, Map<string, ReturnType<TaskMachine['resolveState']>>>();

/**
 * The snapshot a task actor starts from. Snapshots are immutable and the task machine's context
 * holds no task data, so one is computed per (status, attempts, limit) and shared: building a
 * snapshot costs more than the rest of a short task's life.
 */
function initialSnapshot(logic: TaskMachine, status: TaskStatus, attempts: number, limits: TaskLimits) {
  let cache = initialSnapshots.get(logic);
  if (!cache) initialSnapshots.set(logic, (cache = new Map()));
  const { maxAttempts, interruptions = 0, maxInterruptions = Number.MAX_SAFE_INTEGER } = limits;
  const key = `${status}:${attempts}:${maxAttempts}:${interruptions}:${maxInterruptions}`;
  let snapshot = cache.get(key);
  if (!snapshot) {
    snapshot = logic.resolveState({
      value: STATE_OF[status],
      context: { attempts, maxAttempts, retryDelay: 0, timeoutMs: 0, interruptions, maxInterruptions },
    });
    if (cache.size >= 256) cache.clear();
    cache.set(key, snapshot);
  }
  return snapshot;
}

/** A task actor resumed from a task row: same status, same attempt count. */
export function createTaskActor(
  logic: TaskMachine,
  task: Pick<Task, 'id' | 'status' | 'attempts'>,
  limits: TaskLimits,
  options: ActorOptions<AnyActorLogic>,
): TaskActor {
  const snapshot = initialSnapshot(logic, task.status, task.attempts, limits);
  // A readable id only when someone inspects: each extra actor option costs on the hot path.
  const id = options.inspect ? { id: `task:${task.id}` } : undefined;
  return startActor(logic, { ...options, ...id, snapshot });
}

/** Creates and starts an actor; `options` may carry a snapshot instead of the input. */
export function startActor<TLogic extends AnyActorLogic>(
  logic: TLogic,
  options: ActorOptions<AnyActorLogic>,
): Actor<TLogic> {
  const actor = createActor(logic as AnyActorLogic, options) as Actor<TLogic>;
  actor.start();
  return actor;
}

/** Sends `event` to a live task actor; throws INVALID_STATE when the machine does not take it. */
export function sendOrThrow(actor: TaskActor, event: TaskMachineEvent, taskId: string): TaskStatus {
  const before = actor.getSnapshot();
  // A finished task (final state) takes no event; sending one would only log a warning.
  if (before.status === 'active') actor.send(event);
  const after = actor.getSnapshot();
  if (JSON.stringify(after.value) === JSON.stringify(before.value)) {
    const status = taskStatusOf(before.value);
    throw new InvalidStateError(`A ${status} task does not accept ${event.type}`, {
      taskId,
      status,
      event: event.type,
    });
  }
  return taskStatusOf(after.value);
}

/**
 * Applies one event to a task that has no live actor, through the task machine, and returns the
 * status it leads to; throws INVALID_STATE when the machine does not accept the event.
 */
export function transitionTaskRow(
  task: Pick<Task, 'id' | 'status' | 'attempts'>,
  event: TaskMachineEvent,
  options: ActorOptions<AnyActorLogic>,
): TaskStatus {
  const actor = createTaskActor(taskMachine, task, { maxAttempts: Math.max(1, task.attempts) }, options);
  try {
    return sendOrThrow(actor, event, task.id);
  } finally {
    actor.stop();
  }
}
