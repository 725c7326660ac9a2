import { assign, enqueueActions, setup } from 'xstate';
import { backoffDelay, mayRetry, noRetryDelay, type Failure, type RetryRules } from './retry.js';
import type { TaskStatus } from './status.js';

/**
 * The task's own data stays outside: the context holds only counts and delays, so actors of tasks
 * in the same state share one initial snapshot.
 */
export interface TaskMachineContext {
  /** Attempts started so far; never decreases. */
  attempts: number;
  /** Attempts allowed in all, the first included. */
  maxAttempts: number;
  /**
   * Attempts made before this run (earlier executions, before a manual retry): the backoff counts
   * from the first attempt of this run, so a retried task does not wait longer each time.
   */
  priorAttempts: number;
  /** Milliseconds to wait in PENDING before the next attempt may start. */
  retryDelay: number;
  /** Milliseconds an attempt may run before it times out; 0 means no limit. */
  timeoutMs: number;
  /** Attempts interrupted so far (their engine died or stopped while they ran). */
  interruptions: number;
  /** Interruptions after which the task may still run again; one more and it ends FAILED. */
  maxInterruptions: number;
  /** How long to wait between attempts and which failures are never retried. */
  retry: RetryRules;
  /** Its workflow is paused: it starts no attempt until UNHOLD (its status stays as it is). */
  held: boolean;
  /** Milliseconds an attempt's agent may stay silent (no HEARTBEAT) before it is aborted; 0: no limit. */
  heartbeatTimeoutMs: number;
}

/** A time limit of a task's whole life, as ARM sets it and EXPIRE names it. */
export type TimeLimit = 'deadline' | 'close';

export type TaskMachineEvent =
  | { type: 'START'; timeoutMs?: number }
  | { type: 'SUCCEED' }
  /** `interrupted`: the attempt was cut short by its engine, not failed by its agent. */
  | ({ type: 'FAIL'; interrupted?: boolean } & Failure)
  | { type: 'WAIT'; delay: number }
  | { type: 'PAUSE' }
  | { type: 'RESUME' }
  | { type: 'CANCEL' }
  /** A new run of a FAILED or CANCELLED task (a manual retry); its history is kept. */
  | { type: 'RETRY' }
  /** Its workflow was paused / resumed: hold back (or allow again) the next attempt. */
  | { type: 'HOLD' }
  | { type: 'UNHOLD' }
  /** Its workflow graph decided it does not run: its condition was false or a dependency was skipped. */
  | { type: 'SKIP' }
  /** Its workflow graph could not decide whether it runs (its condition failed): it ends FAILED unrun. */
  | { type: 'REJECT' }
  /** A fan-out whose items are all done: it ends COMPLETED unrun, with their outputs. */
  | { type: 'RESOLVE' }
  /**
   * Arms the task's time limits, in ms from now: `deadlineInMs` (schedule-to-start: its run must
   * have started an attempt by then) and `closeInMs` (schedule-to-close: it must have ended by then).
   * When one passes, the machine calls `limitPassed` (the engine sends EXPIRE, or fails the
   * running attempt).
   */
  | { type: 'ARM'; deadlineInMs?: number; closeInMs?: number }
  /** A time limit passed (see ARM): the task ends FAILED, unless the limit no longer applies. */
  | { type: 'EXPIRE'; limit: TimeLimit }
  /** The running attempt's agent reported progress: its heartbeat timeout starts over. */
  | { type: 'HEARTBEAT' }
  /** Raised by the machine itself when an armed limit or the heartbeat timeout passes. */
  | { type: 'LIMIT_DUE'; limit: TimeLimit }
  | { type: 'HEARTBEAT_DUE' };

export interface TaskMachineInput {
  attempts?: number;
  maxAttempts?: number;
  priorAttempts?: number;
  interruptions?: number;
  maxInterruptions?: number;
  retry?: RetryRules;
  held?: boolean;
  heartbeatTimeoutMs?: number;
}

/**
 * The lifecycle of one task: PENDING -> RUNNING -> COMPLETED | FAILED, RUNNING -> PENDING for a
 * retry (after `retryDelay`), PENDING <-> PAUSED, CANCELLED from PENDING, RUNNING or PAUSED, and
 * FAILED | CANCELLED -> PENDING on RETRY (a manual retry). COMPLETED is final. WAIT puts a ready
 * task back into backoff until a recorded due time (used when resuming from a store). A node of a
 * workflow graph that is not to run ends SKIPPED (final) on SKIP, and FAILED on REJECT, from
 * PENDING or PAUSED: its workflow actor decides (docs/workflows.md). A fan-out whose items are done
 * ends COMPLETED on RESOLVE, from PENDING, without an attempt.
 *
 * The retry rules are in the context (`retry`): a FAIL is retried when the rules allow its error
 * and attempts are left, after a delay the machine computes from the rules, the attempt number,
 * the error's `retryAfterMs` hint and the engine's random sample carried by the event.
 *
 * An interrupted attempt (FAIL with `interrupted`) counts in `interruptions`; once a task was
 * interrupted more than `maxInterruptions` times it ends FAILED (BullMQ's `maxStalledCount`), even
 * with attempts left. Interrupted attempts count against `maxAttempts` like any other.
 *
 * PENDING.ready is where a task may start: its entry action `ready` and exit action `unready` tell
 * the engine to put it in its agent's queue and to take it out (whatever the way in: a new run,
 * a retry whose delay passed, RESUME, UNHOLD; the way out: START, PAUSE, HOLD, CANCEL, WAIT). A
 * task actor restored in `ready` runs no entry action (the engine queues it as it creates it), and
 * a stopped one runs no exit action (the engine takes it out as it stops it). Those two
 * and `timedOut` (the running attempt passed its deadline) are no-ops here; the engine provides
 * them.
 *
 * Time limits (Temporal's): ARM schedules the task's deadline (schedule-to-start) and its
 * schedule-to-close limit as delayed events of the machine itself (they survive state changes;
 * stopping the actor drops them). When the deadline passes while the run has not started an
 * attempt (PENDING or PAUSED, `attempts === priorAttempts`), or the close limit passes before the
 * task ended, the machine calls `limitPassed` and the engine answers with EXPIRE (the task ends
 * FAILED) or, for a running attempt, a non-retryable FAIL. The deadline covers the first attempt's
 * start only: a retry's start is bounded by the close limit. With `heartbeatTimeoutMs`, each
 * attempt must send HEARTBEAT at least that often; when it falls silent the machine calls
 * `heartbeatMissed` and the engine fails the attempt (retryable).
 */
export const taskMachine = setup({
  types: {
    context: {} as TaskMachineContext,
    events: {} as TaskMachineEvent,
    input: {} as TaskMachineInput,
  },
  actions: {
    ready: () => {},
    unready: () => {},
    timedOut: () => {},
    limitPassed: () => {},
    heartbeatMissed: () => {},
    // Delayed events of the machine, on the actor's clock like `after`: unlike `after`, they
    // outlive the state that scheduled them (a limit runs across PENDING, RUNNING and PAUSED).
    armLimits: enqueueActions(({ event, enqueue }) => {
      if (event.type !== 'ARM') return;
      for (const [limit, inMs] of [
        ['deadline', event.deadlineInMs],
        ['close', event.closeInMs],
      ] as const) {
        if (inMs === undefined) continue;
        enqueue.cancel(limit);
        enqueue.raise({ type: 'LIMIT_DUE', limit }, { id: limit, delay: Math.max(0, inMs) });
      }
    }),
    armHeartbeat: enqueueActions(({ context, enqueue }) => {
      if (context.heartbeatTimeoutMs <= 0) return;
      enqueue.cancel('heartbeat');
      enqueue.raise({ type: 'HEARTBEAT_DUE' }, { id: 'heartbeat', delay: context.heartbeatTimeoutMs });
    }),
    disarmHeartbeat: enqueueActions(({ context, enqueue }) => {
      if (context.heartbeatTimeoutMs > 0) enqueue.cancel('heartbeat');
    }),
    disarmLimits: enqueueActions(({ enqueue }) => {
      enqueue.cancel('deadline');
      enqueue.cancel('close');
    }),
    setRetryDelay: assign({
      retryDelay: ({ context, event }) =>
        event.type === 'WAIT' ? Math.max(0, event.delay) : context.retryDelay,
    }),
    countInterruption: assign({
      interruptions: ({ context, event }) =>
        event.type === 'FAIL' && event.interrupted === true
          ? context.interruptions + 1
          : context.interruptions,
    }),
  },
  guards: {
    canRetry: ({ context, event }) =>
      event.type === 'FAIL' &&
      mayRetry(context.retry, event) &&
      context.attempts < context.maxAttempts &&
      !(event.interrupted === true && context.interruptions >= context.maxInterruptions),
    hasTimeout: ({ context, event }) =>
      event.type === 'START' && (event.timeoutMs ?? 0) > 0 && context.attempts < context.maxAttempts,
    hasAttemptsLeft: ({ context }) => context.attempts < context.maxAttempts,
    isHeld: ({ context }) => context.held,
    isNotHeld: ({ context }) => !context.held,
    /** The close limit always binds; the deadline binds a run until its first attempt starts. */
    deadlineApplies: ({ context, event }) =>
      event.type === 'LIMIT_DUE' || event.type === 'EXPIRE'
        ? event.limit === 'close' || context.attempts === context.priorAttempts
        : false,
  },
  delays: {
    retryDelay: ({ context }) => context.retryDelay,
    timeout: ({ context }) => context.timeoutMs,
  },
}).createMachine({
  id: 'task',
  context: ({ input = {} }) => ({
    attempts: input.attempts ?? 0,
    maxAttempts: input.maxAttempts ?? 1,
    priorAttempts: input.priorAttempts ?? 0,
    retryDelay: 0,
    timeoutMs: 0,
    interruptions: input.interruptions ?? 0,
    maxInterruptions: input.maxInterruptions ?? Number.MAX_SAFE_INTEGER,
    retry: input.retry ?? noRetryDelay,
    held: input.held ?? false,
    heartbeatTimeoutMs: input.heartbeatTimeoutMs ?? 0,
  }),
  initial: 'PENDING',
  // A workflow's pause reaches its live tasks: a held task waits in PENDING.held instead of
  // starting (a running attempt finishes; its retry, if any, waits there too).
  on: {
    HOLD: { actions: assign({ held: true }) },
    UNHOLD: { actions: assign({ held: false }) },
    ARM: { actions: 'armLimits' },
  },
  states: {
    PENDING: {
      tags: ['waiting'],
      initial: 'ready',
      states: {
        ready: {
          tags: ['startable'],
          entry: 'ready',
          exit: 'unready',
          always: { guard: 'isHeld', target: 'held' },
          on: {
            START: [
              {
                guard: 'hasTimeout',
                target: '#task.RUNNING.bounded',
                actions: assign({
                  attempts: ({ context }) => context.attempts + 1,
                  timeoutMs: ({ event }) => event.timeoutMs ?? 0,
                }),
              },
              {
                guard: 'hasAttemptsLeft',
                target: '#task.RUNNING.unbounded',
                actions: assign({ attempts: ({ context }) => context.attempts + 1, timeoutMs: 0 }),
              },
            ],
            WAIT: { target: 'backoff', actions: 'setRetryDelay' },
          },
        },
        held: {
          always: { guard: 'isNotHeld', target: 'ready' },
          on: { WAIT: { target: 'backoff', actions: 'setRetryDelay' } },
        },
        backoff: {
          after: { retryDelay: 'ready' },
        },
      },
      on: {
        PAUSE: 'PAUSED',
        CANCEL: 'CANCELLED',
        SKIP: 'SKIPPED',
        REJECT: 'FAILED',
        RESOLVE: 'COMPLETED',
        LIMIT_DUE: {
          guard: 'deadlineApplies',
          actions: 'limitPassed',
        },
        EXPIRE: { guard: 'deadlineApplies', target: 'FAILED' },
      },
    },
    RUNNING: {
      entry: 'armHeartbeat',
      exit: 'disarmHeartbeat',
      initial: 'unbounded',
      states: {
        unbounded: {},
        bounded: {
          after: { timeout: { actions: 'timedOut' } },
        },
      },
      on: {
        SUCCEED: 'COMPLETED',
        FAIL: [
          {
            guard: 'canRetry',
            target: 'PENDING.backoff',
            actions: [
              assign({
                retryDelay: ({ context, event }) =>
                  backoffDelay(context.retry, context.attempts - context.priorAttempts, event),
              }),
              'countInterruption',
            ],
          },
          { target: 'FAILED', actions: 'countInterruption' },
        ],
        CANCEL: 'CANCELLED',
        HEARTBEAT: { actions: 'armHeartbeat' },
        HEARTBEAT_DUE: { actions: 'heartbeatMissed' },
        // A running attempt past the close limit is failed by the engine (non-retryable FAIL).
        LIMIT_DUE: {
          guard: 'deadlineApplies',
          actions: 'limitPassed',
        },
      },
    },
    PAUSED: {
      tags: ['waiting'],
      on: {
        RESUME: 'PENDING',
        CANCEL: 'CANCELLED',
        SKIP: 'SKIPPED',
        REJECT: 'FAILED',
        LIMIT_DUE: {
          guard: 'deadlineApplies',
          actions: 'limitPassed',
        },
        EXPIRE: { guard: 'deadlineApplies', target: 'FAILED' },
      },
    },
    COMPLETED: { type: 'final' },
    SKIPPED: { type: 'final' },
    // A task that ended drops its armed limits; a new run (RETRY) is armed again by the engine.
    FAILED: { entry: 'disarmLimits', on: { RETRY: 'PENDING' } },
    CANCELLED: { entry: 'disarmLimits', on: { RETRY: 'PENDING' } },
  },
});

export type TaskMachine = typeof taskMachine;

/** The system id of a live task actor: how the agent running it addresses it. */
export function taskSystemId(taskId: string): string {
  return `task:${taskId}`;
}

/** The status a task machine snapshot stands for: its top-level state. */
export function taskStatusOf(value: unknown): TaskStatus {
  return (typeof value === 'string' ? value : Object.keys(value as object)[0]) as TaskStatus;
}
