import type { TimeLimit } from '../../machines/task.machine.js';
import {
  DeadlineExceededError,
  HeartbeatTimeoutError,
  ScheduleToCloseTimeoutError,
} from '../errors/errors.js';
import { normalizeError } from '../errors/normalize.js';
import type { EngineClock } from './clock.js';
import type { Execution } from './execution.js';
import type { LiveExecutions } from './live-executions.js';
import type { Settling } from './settling.js';
import type { TaskDoor } from './task-door.js';

/** What the time limits need of the engine around them. */
export interface TimeLimitDeps {
  clock: EngineClock;
  door: TaskDoor;
  live: LiveExecutions;
  settling: Settling;
}

/**
 * An execution's time limits (docs/policies.md "Delays, deadlines and timeouts"): the task machine
 * holds the rules and the timers (ARM, LIMIT_DUE, HEARTBEAT_DUE); this arms them on a new task
 * actor from the execution's absolute times and carries out what the machine calls for. An
 * execution without limits costs one null check per task actor.
 */
export class TimeLimits {
  constructor(private readonly deps: TimeLimitDeps) {}

  /** Arms the limits of an execution on its task actor (ms from now on the engine's clock). */
  arm(exec: Execution): void {
    if ((exec.deadline === null && exec.closeBy === null) || !exec.actor) return;
    const now = this.deps.clock.now();
    exec.actor.send({
      type: 'ARM',
      ...(exec.deadline === null ? {} : { deadlineInMs: exec.deadline - now }),
      ...(exec.closeBy === null ? {} : { closeInMs: exec.closeBy - now }),
    });
  }

  /**
   * Ends a task whose limit has passed already (found in the store past it: a worker's claim, a
   * recovery, a late submit) through the door, instead of running it. True when it ended.
   */
  expireDue(exec: Execution): boolean {
    if (exec.deadline === null && exec.closeBy === null) return false;
    const now = this.deps.clock.now();
    if (exec.closeBy !== null && now >= exec.closeBy && this.expire(exec, 'close')) return true;
    return exec.deadline !== null && now >= exec.deadline && this.expire(exec, 'deadline');
  }

  /**
   * The task machine says `limit` passed: a running attempt (close limit) fails, not retried; a
   * waiting task ends FAILED unrun.
   */
  passed(exec: Execution | undefined, limit: TimeLimit): void {
    if (!exec || !this.deps.live.isLive(exec)) return;
    if (this.deps.live.phaseOf(exec) === 'running') {
      if (limit === 'close')
        this.deps.settling.failRunning(exec, new ScheduleToCloseTimeoutError(exec.closeBy!));
      return;
    }
    this.expire(exec, limit);
  }

  /** The task machine says the running attempt fell silent: it is aborted and fails (retryable). */
  heartbeatMissed(exec: Execution | undefined): void {
    if (exec) this.deps.settling.failRunning(exec, new HeartbeatTimeoutError(exec.heartbeatTimeoutMs));
  }

  /** Sends EXPIRE through the door; the machine decides whether the limit still applies. */
  private expire(exec: Execution, limit: TimeLimit): boolean {
    const event = { type: 'EXPIRE', limit } as const;
    const actor = exec.actor;
    if (!actor || actor.getSnapshot().status !== 'active' || !actor.getSnapshot().can(event)) return false;
    const task = exec.task;
    this.deps.door.send(task, event, actor);
    const cause =
      limit === 'deadline'
        ? new DeadlineExceededError(exec.deadline!)
        : new ScheduleToCloseTimeoutError(exec.closeBy!);
    const error = normalizeError(cause, task.attempts, this.deps.clock.now(), false);
    task.errors.push(error);
    this.deps.settling.finish(exec, error);
    return true;
  }
}
