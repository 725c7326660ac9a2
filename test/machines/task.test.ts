import { describe, expect, it, vi } from 'vitest';
import { createActor, SimulatedClock, transition } from 'xstate';
import {
  TASK_STATUSES,
  taskMachine,
  taskStatusOf,
  type TaskMachineEvent,
  type TaskMachineInput,
} from '../../machines/index.js';
import { noRetryDelay, type RetryRules } from '../../machines/retry.js';

/** Rules under which a FAIL's `retryAfterMs` is the delay, unchanged (no cap, no jitter). */
const HINTED: RetryRules = { ...noRetryDelay, maxDelayMs: Number.MAX_SAFE_INTEGER };

/** The engine's queue as the task actor drives it: `ready` enqueues, `unready` unqueues. */
type QueueCall = 'ready' | 'unready';

/** Mocks of the engine's `ready` / `unready` that also log their calls in order. */
function queueActions() {
  const log: QueueCall[] = [];
  const ready = vi.fn(() => {
    log.push('ready');
  });
  const unready = vi.fn(() => {
    log.push('unready');
  });
  return { log, ready, unready };
}

/** Whether the calls so far leave the task in its agent's queue (entries minus exits). */
const queued = (log: readonly QueueCall[]) =>
  log.filter((call) => call === 'ready').length - log.filter((call) => call === 'unready').length;

function startTask(input: TaskMachineInput = {}) {
  const clock = new SimulatedClock();
  const { log, ready, unready } = queueActions();
  const timedOut = vi.fn();
  const actor = createActor(taskMachine.provide({ actions: { ready, unready, timedOut } }), {
    input: { retry: HINTED, ...input },
    clock,
  });
  actor.start();
  return { actor, clock, log, ready, unready, timedOut };
}

const ALL_EVENTS: readonly TaskMachineEvent[] = [
  { type: 'START' },
  { type: 'START', timeoutMs: 100 },
  { type: 'SUCCEED' },
  { type: 'FAIL', retryable: true, retryAfterMs: 10 },
  { type: 'FAIL', retryable: false, retryAfterMs: 0 },
  { type: 'WAIT', delay: 10 },
  { type: 'PAUSE' },
  { type: 'RESUME' },
  { type: 'CANCEL' },
  { type: 'RETRY' },
  { type: 'SKIP' },
  { type: 'REJECT' },
  { type: 'RESOLVE' },
];

describe('task machine', () => {
  it('starts PENDING.ready with the startable and waiting tags and defaults from input', () => {
    const actor = createActor(taskMachine, { input: {} }).start();
    const snapshot = actor.getSnapshot();
    expect(snapshot.value).toEqual({ PENDING: 'ready' });
    expect(snapshot.hasTag('startable')).toBe(true);
    expect(snapshot.hasTag('waiting')).toBe(true);
    expect(snapshot.context).toEqual({
      attempts: 0,
      maxAttempts: 1,
      priorAttempts: 0,
      retryDelay: 0,
      timeoutMs: 0,
      interruptions: 0,
      maxInterruptions: Number.MAX_SAFE_INTEGER,
      retry: noRetryDelay,
      held: false,
      heartbeatTimeoutMs: 0,
    });
    expect(taskStatusOf(snapshot.value)).toBe('PENDING');
  });

  it('HOLD keeps a waiting task from starting (PENDING.held, status PENDING) until UNHOLD', () => {
    const actor = createActor(taskMachine, { input: { maxAttempts: 2 } }).start();
    actor.send({ type: 'HOLD' });
    expect(actor.getSnapshot().value).toEqual({ PENDING: 'held' });
    expect(actor.getSnapshot().hasTag('startable')).toBe(false);
    expect(actor.getSnapshot().hasTag('waiting')).toBe(true);
    expect(actor.getSnapshot().can({ type: 'START' })).toBe(false);
    expect(taskStatusOf(actor.getSnapshot().value)).toBe('PENDING');
    actor.send({ type: 'START' });
    expect(actor.getSnapshot().context.attempts).toBe(0);
    actor.send({ type: 'UNHOLD' });
    expect(actor.getSnapshot().value).toEqual({ PENDING: 'ready' });
    actor.send({ type: 'START' });
    expect(actor.getSnapshot().value).toEqual({ RUNNING: 'unbounded' });
  });

  it('a running attempt held by its workflow finishes; its retry waits in PENDING.held', () => {
    const clock = new SimulatedClock();
    const actor = createActor(taskMachine, {
      clock,
      input: { maxAttempts: 2, retry: { ...noRetryDelay, initialDelayMs: 10, maxDelayMs: 100 } },
    }).start();
    actor.send({ type: 'START' });
    actor.send({ type: 'HOLD' });
    expect(actor.getSnapshot().value).toEqual({ RUNNING: 'unbounded' });
    actor.send({ type: 'FAIL', retryable: true, random: 0 });
    expect(actor.getSnapshot().value).toEqual({ PENDING: 'backoff' });
    clock.increment(1_000);
    expect(actor.getSnapshot().value).toEqual({ PENDING: 'held' });
    actor.send({ type: 'UNHOLD' });
    expect(actor.getSnapshot().hasTag('startable')).toBe(true);
  });

  it('WAIT puts a held task into backoff; once due it is held again', () => {
    const clock = new SimulatedClock();
    const actor = createActor(taskMachine, { clock, input: { held: true } }).start();
    expect(actor.getSnapshot().value).toEqual({ PENDING: 'held' });
    actor.send({ type: 'WAIT', delay: 5 });
    expect(actor.getSnapshot().value).toEqual({ PENDING: 'backoff' });
    clock.increment(5);
    expect(actor.getSnapshot().value).toEqual({ PENDING: 'held' });
  });

  it('counts interrupted attempts and fails the task once they pass maxInterruptions, attempts left or not', () => {
    const { actor, clock } = startTask({ maxAttempts: 10, maxInterruptions: 2 });
    for (let i = 1; i <= 2; i += 1) {
      actor.send({ type: 'START' });
      actor.send({ type: 'FAIL', retryable: true, retryAfterMs: 0, interrupted: true });
      expect(actor.getSnapshot().context).toMatchObject({ interruptions: i, attempts: i });
      expect(taskStatusOf(actor.getSnapshot().value)).toBe('PENDING');
      clock.increment(1);
    }
    // An agent's own failure does not count as an interruption.
    actor.send({ type: 'START' });
    actor.send({ type: 'FAIL', retryable: true, retryAfterMs: 0 });
    expect(actor.getSnapshot().context.interruptions).toBe(2);
    clock.increment(1);
    actor.send({ type: 'START' });
    actor.send({ type: 'FAIL', retryable: true, retryAfterMs: 0, interrupted: true });
    expect(actor.getSnapshot().value).toBe('FAILED');
    expect(actor.getSnapshot().context).toMatchObject({ interruptions: 3, attempts: 4 });
  });

  it('resumes the interruption count given as input (read from the stored errors)', () => {
    const { actor } = startTask({ maxAttempts: 5, interruptions: 1, maxInterruptions: 1 });
    actor.send({ type: 'START' });
    actor.send({ type: 'FAIL', retryable: true, retryAfterMs: 0, interrupted: true });
    expect(actor.getSnapshot().value).toBe('FAILED');
  });

  it('keeps attempts and maxAttempts given as input', () => {
    const { actor } = startTask({ attempts: 2, maxAttempts: 5 });
    expect(actor.getSnapshot().context).toMatchObject({ attempts: 2, maxAttempts: 5 });
  });

  it('START without a timeout runs unbounded and counts the attempt', () => {
    const { actor, clock, timedOut } = startTask();
    actor.send({ type: 'START' });
    const snapshot = actor.getSnapshot();
    expect(snapshot.value).toEqual({ RUNNING: 'unbounded' });
    expect(snapshot.context.attempts).toBe(1);
    expect(snapshot.context.timeoutMs).toBe(0);
    expect(snapshot.hasTag('startable')).toBe(false);
    expect(snapshot.hasTag('waiting')).toBe(false);
    clock.increment(1_000_000);
    expect(timedOut).not.toHaveBeenCalled();
  });

  it('START with timeoutMs 0 runs unbounded', () => {
    const { actor } = startTask();
    actor.send({ type: 'START', timeoutMs: 0 });
    expect(actor.getSnapshot().value).toEqual({ RUNNING: 'unbounded' });
  });

  it('fires timedOut once after timeoutMs on the simulated clock while RUNNING.bounded', () => {
    const { actor, clock, timedOut } = startTask();
    actor.send({ type: 'START', timeoutMs: 500 });
    expect(actor.getSnapshot().value).toEqual({ RUNNING: 'bounded' });
    expect(actor.getSnapshot().context.timeoutMs).toBe(500);
    clock.increment(499);
    expect(timedOut).not.toHaveBeenCalled();
    clock.increment(1);
    expect(timedOut).toHaveBeenCalledTimes(1);
    // The timeout only reports; the engine decides the outcome, so the task is still running.
    expect(actor.getSnapshot().value).toEqual({ RUNNING: 'bounded' });
    clock.increment(10_000);
    expect(timedOut).toHaveBeenCalledTimes(1);
  });

  it('does not fire timedOut when the attempt settles before its deadline', () => {
    const { actor, clock, timedOut } = startTask();
    actor.send({ type: 'START', timeoutMs: 500 });
    clock.increment(200);
    actor.send({ type: 'SUCCEED' });
    clock.increment(1_000);
    expect(timedOut).not.toHaveBeenCalled();
    expect(actor.getSnapshot().value).toBe('COMPLETED');
  });

  it('SUCCEED from RUNNING completes the task', () => {
    const { actor } = startTask();
    actor.send({ type: 'START' });
    actor.send({ type: 'SUCCEED' });
    expect(actor.getSnapshot().value).toBe('COMPLETED');
    expect(actor.getSnapshot().status).toBe('done');
  });

  it('a retryable FAIL goes to PENDING.backoff and becomes ready after retryDelay, firing ready', () => {
    const { actor, clock, log } = startTask({ maxAttempts: 3 });
    actor.send({ type: 'START' });
    actor.send({ type: 'FAIL', retryable: true, retryAfterMs: 1_000 });
    expect(log).toEqual(['ready', 'unready']);
    let snapshot = actor.getSnapshot();
    expect(snapshot.value).toEqual({ PENDING: 'backoff' });
    expect(snapshot.context.retryDelay).toBe(1_000);
    expect(snapshot.hasTag('waiting')).toBe(true);
    expect(snapshot.hasTag('startable')).toBe(false);

    // START is not accepted while backing off.
    actor.send({ type: 'START' });
    expect(actor.getSnapshot().value).toEqual({ PENDING: 'backoff' });
    expect(actor.getSnapshot().context.attempts).toBe(1);

    clock.increment(999);
    expect(log).toEqual(['ready', 'unready']);
    expect(actor.getSnapshot().value).toEqual({ PENDING: 'backoff' });
    clock.increment(1);
    expect(log).toEqual(['ready', 'unready', 'ready']);
    snapshot = actor.getSnapshot();
    expect(snapshot.value).toEqual({ PENDING: 'ready' });
    expect(snapshot.hasTag('startable')).toBe(true);

    actor.send({ type: 'START' });
    expect(actor.getSnapshot().value).toEqual({ RUNNING: 'unbounded' });
    expect(actor.getSnapshot().context.attempts).toBe(2);
    expect(log).toEqual(['ready', 'unready', 'ready', 'unready']);
  });

  it('WAIT takes a ready task out of the queue into backoff until the delay has passed, then fires ready', () => {
    const { actor, clock, log } = startTask({ attempts: 1, maxAttempts: 3 });
    actor.send({ type: 'WAIT', delay: 250 });
    expect(actor.getSnapshot().value).toEqual({ PENDING: 'backoff' });
    expect(actor.getSnapshot().context).toMatchObject({ retryDelay: 250, attempts: 1 });
    expect(log).toEqual(['ready', 'unready']);
    clock.increment(249);
    expect(log).toEqual(['ready', 'unready']);
    clock.increment(1);
    expect(log).toEqual(['ready', 'unready', 'ready']);
    expect(actor.getSnapshot().value).toEqual({ PENDING: 'ready' });
  });

  it('WAIT clamps a negative delay to 0 and is ignored outside PENDING.ready', () => {
    const { actor, clock, ready } = startTask({ maxAttempts: 2 });
    actor.send({ type: 'WAIT', delay: -10 });
    expect(actor.getSnapshot().context.retryDelay).toBe(0);
    expect(ready).toHaveBeenCalledTimes(1);
    clock.increment(0);
    expect(ready).toHaveBeenCalledTimes(2);
    expect(actor.getSnapshot().value).toEqual({ PENDING: 'ready' });
    actor.send({ type: 'START' });
    actor.send({ type: 'WAIT', delay: 100 });
    expect(actor.getSnapshot().value).toEqual({ RUNNING: 'unbounded' });
    actor.send({ type: 'FAIL', retryable: true, retryAfterMs: 100 });
    actor.send({ type: 'WAIT', delay: 5 });
    clock.increment(5);
    expect(actor.getSnapshot().value).toEqual({ PENDING: 'backoff' });
    actor.send({ type: 'PAUSE' });
    actor.send({ type: 'WAIT', delay: 5 });
    expect(actor.getSnapshot().value).toBe('PAUSED');
  });

  it('computes the delay from its retry rules: exponential, capped, jittered by the sample, or the hint', () => {
    const retry: RetryRules = {
      initialDelayMs: 100,
      backoffFactor: 2,
      maxDelayMs: 1_000,
      jitter: 0.5,
      nonRetryableErrors: [],
    };
    const { actor, clock } = startTask({ maxAttempts: 6, retry });
    const delays: number[] = [];
    for (const random of [0.5, 0.5, 0, 0.99, 0.5]) {
      actor.send({ type: 'START' });
      actor.send({ type: 'FAIL', retryable: true, random });
      delays.push(actor.getSnapshot().context.retryDelay);
      clock.increment(actor.getSnapshot().context.retryDelay);
    }
    // 100, 200, 400 - 50 %, 800 + 49 % capped at 1,000, 1,600 capped.
    expect(delays).toEqual([100, 200, 200, 1_000, 1_000]);
    actor.send({ type: 'START' });
    actor.send({ type: 'FAIL', retryable: true, random: 0, retryAfterMs: 2_500.2 });
    expect(actor.getSnapshot().value).toBe('FAILED');
    const hinted = startTask({ maxAttempts: 2, retry }).actor;
    hinted.send({ type: 'START' });
    hinted.send({ type: 'FAIL', retryable: true, random: 0, retryAfterMs: 300.2 });
    expect(hinted.getSnapshot().context.retryDelay).toBe(301);
  });

  it('counts the backoff from the first attempt of this run, not from earlier runs', () => {
    const retry: RetryRules = { ...noRetryDelay, initialDelayMs: 100, backoffFactor: 2, maxDelayMs: 10_000 };
    // Four attempts made in earlier runs; this run allows three more.
    const { actor, clock } = startTask({ attempts: 4, priorAttempts: 4, maxAttempts: 7, retry });
    const delays: number[] = [];
    for (let i = 0; i < 2; i += 1) {
      actor.send({ type: 'START' });
      actor.send({ type: 'FAIL', retryable: true });
      delays.push(actor.getSnapshot().context.retryDelay);
      clock.increment(actor.getSnapshot().context.retryDelay);
    }
    expect(delays).toEqual([100, 200]);
  });

  it('never retries an error its rules list by name or code', () => {
    const retry: RetryRules = { ...HINTED, nonRetryableErrors: ['AuthError', 'E_QUOTA'] };
    for (const failure of [{ errorName: 'AuthError' }, { errorCode: 'E_QUOTA' }]) {
      const { actor } = startTask({ maxAttempts: 3, retry });
      actor.send({ type: 'START' });
      actor.send({ type: 'FAIL', retryable: true, ...failure });
      expect(actor.getSnapshot().value).toBe('FAILED');
    }
    const { actor } = startTask({ maxAttempts: 3, retry });
    actor.send({ type: 'START' });
    actor.send({ type: 'FAIL', retryable: true, errorName: 'Error', errorCode: 'E_OTHER' });
    expect(actor.getSnapshot().value).toEqual({ PENDING: 'backoff' });
  });

  it('RETRY gives a FAILED or CANCELLED task a new run in PENDING.ready, attempts kept', () => {
    const failed = startTask({ maxAttempts: 1 }).actor;
    failed.send({ type: 'START' });
    failed.send({ type: 'FAIL', retryable: true });
    expect(failed.getSnapshot().value).toBe('FAILED');
    failed.send({ type: 'RETRY' });
    expect(failed.getSnapshot().value).toEqual({ PENDING: 'ready' });
    expect(failed.getSnapshot().context.attempts).toBe(1);
    const cancelled = startTask().actor;
    cancelled.send({ type: 'CANCEL' });
    cancelled.send({ type: 'RETRY' });
    expect(cancelled.getSnapshot().value).toEqual({ PENDING: 'ready' });
    // RETRY means nothing before a run ended.
    const pending = startTask().actor;
    expect(pending.getSnapshot().can({ type: 'RETRY' })).toBe(false);
  });

  it('clamps a negative retryDelay to 0', () => {
    const { actor, clock, log } = startTask({ maxAttempts: 2 });
    actor.send({ type: 'START' });
    actor.send({ type: 'FAIL', retryable: true, retryAfterMs: -50 });
    expect(actor.getSnapshot().context.retryDelay).toBe(0);
    expect(log).toEqual(['ready', 'unready']);
    clock.increment(0);
    expect(log).toEqual(['ready', 'unready', 'ready']);
    expect(actor.getSnapshot().value).toEqual({ PENDING: 'ready' });
  });

  it('a non-retryable FAIL fails the task even with attempts left', () => {
    const { actor, clock, log } = startTask({ maxAttempts: 5 });
    actor.send({ type: 'START' });
    actor.send({ type: 'FAIL', retryable: false, retryAfterMs: 10 });
    expect(actor.getSnapshot().value).toBe('FAILED');
    clock.increment(100);
    expect(log).toEqual(['ready', 'unready']);
  });

  it('a retryable FAIL on the last attempt (attempts == maxAttempts) fails the task', () => {
    const { actor, clock } = startTask({ maxAttempts: 2 });
    actor.send({ type: 'START' });
    actor.send({ type: 'FAIL', retryable: true, retryAfterMs: 5 });
    clock.increment(5);
    actor.send({ type: 'START' });
    expect(actor.getSnapshot().context.attempts).toBe(2);
    actor.send({ type: 'FAIL', retryable: true, retryAfterMs: 5 });
    expect(actor.getSnapshot().value).toBe('FAILED');
    expect(actor.getSnapshot().context.attempts).toBe(2);
  });

  it('with the default maxAttempts of 1 a retryable FAIL fails at once', () => {
    const { actor } = startTask();
    actor.send({ type: 'START' });
    actor.send({ type: 'FAIL', retryable: true, retryAfterMs: 5 });
    expect(actor.getSnapshot().value).toBe('FAILED');
  });

  it('pauses a ready task and resumes it to ready (PAUSE fires unready, RESUME fires ready)', () => {
    const { actor, log } = startTask();
    actor.send({ type: 'PAUSE' });
    expect(actor.getSnapshot().value).toBe('PAUSED');
    expect(log).toEqual(['ready', 'unready']);
    expect(actor.getSnapshot().hasTag('waiting')).toBe(true);
    expect(actor.getSnapshot().hasTag('startable')).toBe(false);
    actor.send({ type: 'START' });
    expect(actor.getSnapshot().value).toBe('PAUSED');
    expect(actor.getSnapshot().context.attempts).toBe(0);
    actor.send({ type: 'RESUME' });
    expect(actor.getSnapshot().value).toEqual({ PENDING: 'ready' });
    expect(log).toEqual(['ready', 'unready', 'ready']);
  });

  it('pausing during backoff cancels the pending retry timer (no ready while PAUSED)', () => {
    const { actor, clock, log } = startTask({ maxAttempts: 2 });
    actor.send({ type: 'START' });
    actor.send({ type: 'FAIL', retryable: true, retryAfterMs: 100 });
    actor.send({ type: 'PAUSE' });
    expect(actor.getSnapshot().value).toBe('PAUSED');
    clock.increment(1_000);
    expect(log).toEqual(['ready', 'unready']);
    expect(actor.getSnapshot().value).toBe('PAUSED');
  });

  it('RESUME after a pause during backoff returns straight to ready (the rest of the delay is skipped)', () => {
    // Current behaviour, pinned so a change is deliberate: RESUME targets PENDING, whose initial
    // state is `ready`: RESUME queues the task at once, and the old backoff timer fires nothing.
    const { actor, clock, log } = startTask({ maxAttempts: 2 });
    actor.send({ type: 'START' });
    actor.send({ type: 'FAIL', retryable: true, retryAfterMs: 1_000 });
    clock.increment(10);
    actor.send({ type: 'PAUSE' });
    expect(log).toEqual(['ready', 'unready']);
    actor.send({ type: 'RESUME' });
    expect(actor.getSnapshot().value).toEqual({ PENDING: 'ready' });
    expect(log).toEqual(['ready', 'unready', 'ready']);
    clock.increment(10_000);
    expect(log).toEqual(['ready', 'unready', 'ready']);
  });

  // Regression (fixed in 2fc216e): START had no guard on attempts < maxAttempts, so a task
  // restored as PENDING with its attempts used up started an attempt beyond maxAttempts.
  it('START never takes attempts beyond maxAttempts (restored task with attempts used up)', () => {
    const { actor, log } = startTask({ attempts: 2, maxAttempts: 2 });
    actor.send({ type: 'START' });
    actor.send({ type: 'START', timeoutMs: 100 });
    expect(actor.getSnapshot().context.attempts).toBe(2);
    expect(actor.getSnapshot().value).toEqual({ PENDING: 'ready' });
    // A refused START leaves it queued.
    expect(log).toEqual(['ready']);
    // It can still be cancelled, which takes it out of the queue.
    actor.send({ type: 'CANCEL' });
    expect(actor.getSnapshot().value).toBe('CANCELLED');
    expect(log).toEqual(['ready', 'unready']);
  });

  it('pauses pending tasks but lets running ones finish (PAUSE is ignored while RUNNING)', () => {
    const { actor } = startTask();
    actor.send({ type: 'START', timeoutMs: 100 });
    actor.send({ type: 'PAUSE' });
    expect(actor.getSnapshot().value).toEqual({ RUNNING: 'bounded' });
    actor.send({ type: 'RESUME' });
    expect(actor.getSnapshot().value).toEqual({ RUNNING: 'bounded' });
    actor.send({ type: 'SUCCEED' });
    expect(actor.getSnapshot().value).toBe('COMPLETED');
  });

  it('ignores RESUME when not paused and SUCCEED/FAIL when not running', () => {
    const { actor } = startTask();
    for (const event of [
      { type: 'RESUME' },
      { type: 'SUCCEED' },
      { type: 'FAIL', retryable: false, retryAfterMs: 0 },
    ] as const) {
      actor.send(event);
      expect(actor.getSnapshot().value).toEqual({ PENDING: 'ready' });
    }
  });

  describe('CANCEL from every non-terminal state', () => {
    const reach: Record<string, (ctx: ReturnType<typeof startTask>) => void> = {
      'PENDING.ready': () => {},
      'PENDING.backoff': ({ actor }) => {
        actor.send({ type: 'START' });
        actor.send({ type: 'FAIL', retryable: true, retryAfterMs: 100 });
      },
      'RUNNING.unbounded': ({ actor }) => actor.send({ type: 'START' }),
      'RUNNING.bounded': ({ actor }) => actor.send({ type: 'START', timeoutMs: 100 }),
      PAUSED: ({ actor }) => actor.send({ type: 'PAUSE' }),
    };
    for (const [state, drive] of Object.entries(reach)) {
      it(`cancels from ${state}, leaves the task unqueued and fires no pending timer afterwards`, () => {
        const ctx = startTask({ maxAttempts: 3 });
        drive(ctx);
        expect(ctx.actor.getSnapshot().matches(state as never)).toBe(true);
        expect(queued(ctx.log)).toBe(state === 'PENDING.ready' ? 1 : 0);
        ctx.actor.send({ type: 'CANCEL' });
        expect(ctx.actor.getSnapshot().value).toBe('CANCELLED');
        expect(queued(ctx.log)).toBe(0);
        const calls = ctx.log.length;
        ctx.clock.increment(10_000);
        expect(ctx.log).toHaveLength(calls);
        expect(ctx.timedOut).not.toHaveBeenCalled();
      });
    }
  });

  describe('SKIP and REJECT end a waiting task unrun (its workflow graph decided)', () => {
    const reach: Record<string, (ctx: ReturnType<typeof startTask>) => void> = {
      'PENDING.ready': () => {},
      'PENDING.held': ({ actor }) => actor.send({ type: 'HOLD' }),
      'PENDING.backoff': ({ actor }) => {
        actor.send({ type: 'START' });
        actor.send({ type: 'FAIL', retryable: true, retryAfterMs: 100 });
      },
      PAUSED: ({ actor }) => actor.send({ type: 'PAUSE' }),
    };
    for (const [state, drive] of Object.entries(reach)) {
      for (const [type, ended] of [
        ['SKIP', 'SKIPPED'],
        ['REJECT', 'FAILED'],
      ] as const) {
        it(`${type} from ${state} ends it ${ended}, unqueued, attempts kept, no timer left`, () => {
          const ctx = startTask({ maxAttempts: 3 });
          drive(ctx);
          expect(ctx.actor.getSnapshot().matches(state as never)).toBe(true);
          const attempts = ctx.actor.getSnapshot().context.attempts;
          ctx.actor.send({ type });
          const after = ctx.actor.getSnapshot();
          expect(after.value).toBe(ended);
          expect(after.status).toBe(ended === 'SKIPPED' ? 'done' : 'active');
          expect(after.context.attempts).toBe(attempts);
          expect(queued(ctx.log)).toBe(0);
          const calls = ctx.log.length;
          ctx.clock.increment(10_000);
          expect(ctx.log).toHaveLength(calls);
        });
      }
    }

    it('a running task takes neither (the graph only ends nodes that have not run)', () => {
      const ctx = startTask();
      ctx.actor.send({ type: 'START', timeoutMs: 100 });
      for (const type of ['SKIP', 'REJECT'] as const) {
        expect(ctx.actor.getSnapshot().can({ type })).toBe(false);
        ctx.actor.send({ type });
        expect(ctx.actor.getSnapshot().value).toEqual({ RUNNING: 'bounded' });
      }
    });

    it('a REJECTed task takes RETRY like any FAILED one; a SKIPPED one takes nothing', () => {
      const rejected = startTask();
      rejected.actor.send({ type: 'REJECT' });
      rejected.actor.send({ type: 'RETRY' });
      expect(rejected.actor.getSnapshot().value).toEqual({ PENDING: 'ready' });
      const skipped = startTask();
      skipped.actor.send({ type: 'SKIP' });
      expect(skipped.actor.getSnapshot().can({ type: 'RETRY' })).toBe(false);
    });
  });

  describe('RESOLVE completes a fan-out whose items are done, unrun, from PENDING only', () => {
    const pending: Record<string, (ctx: ReturnType<typeof startTask>) => void> = {
      'PENDING.ready': () => {},
      'PENDING.held': ({ actor }) => actor.send({ type: 'HOLD' }),
      'PENDING.backoff': ({ actor }) => actor.send({ type: 'WAIT', delay: 100 }),
    };
    for (const [state, drive] of Object.entries(pending)) {
      it(`RESOLVE from ${state} ends it COMPLETED (final), unqueued, no attempt made, no timer left`, () => {
        const ctx = startTask({ maxAttempts: 3 });
        drive(ctx);
        expect(ctx.actor.getSnapshot().matches(state as never)).toBe(true);
        ctx.actor.send({ type: 'RESOLVE' });
        const after = ctx.actor.getSnapshot();
        expect(after.value).toBe('COMPLETED');
        expect(after.status).toBe('done');
        expect(after.context.attempts).toBe(0);
        expect(queued(ctx.log)).toBe(0);
        const calls = ctx.log.length;
        ctx.clock.increment(10_000);
        expect(ctx.log).toHaveLength(calls);
      });
    }

    it('a running, paused or ended task does not take it', () => {
      const reach: Record<string, (ctx: ReturnType<typeof startTask>) => void> = {
        RUNNING: ({ actor }) => actor.send({ type: 'START', timeoutMs: 100 }),
        PAUSED: ({ actor }) => actor.send({ type: 'PAUSE' }),
        FAILED: ({ actor }) => actor.send({ type: 'REJECT' }),
        CANCELLED: ({ actor }) => actor.send({ type: 'CANCEL' }),
        SKIPPED: ({ actor }) => actor.send({ type: 'SKIP' }),
      };
      for (const [state, drive] of Object.entries(reach)) {
        const ctx = startTask();
        drive(ctx);
        const before = ctx.actor.getSnapshot();
        expect(taskStatusOf(before.value), state).toBe(state);
        expect(before.can({ type: 'RESOLVE' }), state).toBe(false);
        const [after, actions] = transition(taskMachine, before, { type: 'RESOLVE' });
        expect(after.value, state).toEqual(before.value);
        expect(actions, state).toEqual([]);
      }
    });
  });

  describe('ended states absorb every event but RETRY; COMPLETED and SKIPPED are final', () => {
    const reach: Record<string, (ctx: ReturnType<typeof startTask>) => void> = {
      COMPLETED: ({ actor }) => {
        actor.send({ type: 'START' });
        actor.send({ type: 'SUCCEED' });
      },
      FAILED: ({ actor }) => {
        actor.send({ type: 'START' });
        actor.send({ type: 'FAIL', retryable: false, retryAfterMs: 0 });
      },
      CANCELLED: ({ actor }) => actor.send({ type: 'CANCEL' }),
      SKIPPED: ({ actor }) => actor.send({ type: 'SKIP' }),
    };
    for (const [state, drive] of Object.entries(reach)) {
      const final = state === 'COMPLETED' || state === 'SKIPPED';
      it(`${state} ${final ? 'is final' : 'takes only RETRY'}`, () => {
        const ctx = startTask({ maxAttempts: 3 });
        drive(ctx);
        const before = ctx.actor.getSnapshot();
        expect(before.value).toBe(state);
        expect(before.status).toBe(final ? 'done' : 'active');
        expect(taskMachine.getStateNodeById(`task.${state}`).type).toBe(final ? 'final' : 'atomic');
        // The pure transition function, so the check is about the machine and not about a stopped actor.
        for (const event of ALL_EVENTS) {
          const [after, actions] = transition(taskMachine, before, event);
          const retried = event.type === 'RETRY' && !final;
          expect(after.value).toEqual(retried ? { PENDING: 'ready' } : state);
          expect(after.status).toBe(before.status);
          expect(after.context).toEqual(before.context);
          // RETRY's only action is the entry into ready (the new run is queued).
          expect(actions.map(({ type }) => type)).toEqual(retried ? ['ready'] : []);
        }
        expect(queued(ctx.log)).toBe(0);
        const calls = ctx.log.length;
        ctx.clock.increment(10_000);
        expect(ctx.log).toHaveLength(calls);
        expect(ctx.timedOut).not.toHaveBeenCalled();
      });
    }
  });

  // The engine keeps an execution in its agent's queue exactly while its task actor is in
  // PENDING.ready: entry `ready` enqueues, exit `unready` unqueues.
  describe('ready / unready: in the queue exactly while in PENDING.ready', () => {
    it('a fresh actor fires ready once as it starts, not as it is created', () => {
      const { log, ready, unready } = queueActions();
      const actor = createActor(taskMachine.provide({ actions: { ready, unready } }), { input: {} });
      expect(log).toEqual([]);
      actor.start();
      expect(log).toEqual(['ready']);
      expect(actor.getSnapshot().value).toEqual({ PENDING: 'ready' });
    });

    it('a fresh actor of a held task passes through ready: ready then unready, left in PENDING.held', () => {
      const { log } = startTask({ held: true });
      expect(log).toEqual(['ready', 'unready']);
      expect(queued(log)).toBe(0);
    });

    it('START fires unready, with or without a timeout', () => {
      for (const start of [{ type: 'START' }, { type: 'START', timeoutMs: 100 }] as const) {
        const { actor, log } = startTask();
        actor.send(start);
        expect(actor.getSnapshot().matches('RUNNING')).toBe(true);
        expect(log).toEqual(['ready', 'unready']);
      }
    });

    it('RESUME from PAUSED fires ready; PAUSE from backoff fires nothing (it was not queued)', () => {
      const { actor, log } = startTask({ maxAttempts: 2 });
      actor.send({ type: 'START' });
      actor.send({ type: 'FAIL', retryable: true, retryAfterMs: 100 });
      actor.send({ type: 'PAUSE' });
      expect(log).toEqual(['ready', 'unready']);
      actor.send({ type: 'RESUME' });
      expect(actor.getSnapshot().value).toEqual({ PENDING: 'ready' });
      expect(log).toEqual(['ready', 'unready', 'ready']);
    });

    it('HOLD from ready fires unready, UNHOLD fires ready; repeated HOLD / UNHOLD fire nothing', () => {
      const { actor, log } = startTask();
      actor.send({ type: 'UNHOLD' });
      expect(log).toEqual(['ready']);
      actor.send({ type: 'HOLD' });
      expect(actor.getSnapshot().value).toEqual({ PENDING: 'held' });
      expect(log).toEqual(['ready', 'unready']);
      actor.send({ type: 'HOLD' });
      expect(log).toEqual(['ready', 'unready']);
      actor.send({ type: 'UNHOLD' });
      expect(actor.getSnapshot().value).toEqual({ PENDING: 'ready' });
      expect(log).toEqual(['ready', 'unready', 'ready']);
      actor.send({ type: 'UNHOLD' });
      expect(log).toEqual(['ready', 'unready', 'ready']);
    });

    it('a held task whose backoff ends, resumes or is retried passes through ready (ready then unready)', () => {
      const { actor, clock, log } = startTask({ maxAttempts: 2 });
      actor.send({ type: 'START' });
      actor.send({ type: 'HOLD' });
      actor.send({ type: 'FAIL', retryable: true, retryAfterMs: 10 });
      clock.increment(10);
      expect(actor.getSnapshot().value).toEqual({ PENDING: 'held' });
      expect(log).toEqual(['ready', 'unready', 'ready', 'unready']);
      actor.send({ type: 'PAUSE' });
      actor.send({ type: 'RESUME' });
      expect(actor.getSnapshot().value).toEqual({ PENDING: 'held' });
      expect(log).toEqual(['ready', 'unready', 'ready', 'unready', 'ready', 'unready']);
      actor.send({ type: 'CANCEL' });
      actor.send({ type: 'RETRY' });
      expect(actor.getSnapshot().value).toEqual({ PENDING: 'held' });
      expect(log).toHaveLength(8);
      expect(queued(log)).toBe(0);
    });

    it('RETRY from FAILED or CANCELLED fires ready', () => {
      const failed = startTask();
      failed.actor.send({ type: 'START' });
      failed.actor.send({ type: 'FAIL', retryable: false });
      failed.actor.send({ type: 'RETRY' });
      expect(failed.log).toEqual(['ready', 'unready', 'ready']);
      const cancelled = startTask();
      cancelled.actor.send({ type: 'CANCEL' });
      expect(cancelled.log).toEqual(['ready', 'unready']);
      cancelled.actor.send({ type: 'RETRY' });
      expect(cancelled.log).toEqual(['ready', 'unready', 'ready']);
    });

    it('a snapshot restored in ready fires no ready at start (the engine queues it); START still fires unready', () => {
      const persisted = JSON.parse(
        JSON.stringify(startTask({ maxAttempts: 2 }).actor.getPersistedSnapshot()),
      );
      const { log, ready, unready } = queueActions();
      const restored = createActor(taskMachine.provide({ actions: { ready, unready } }), {
        snapshot: persisted,
        input: {},
      }).start();
      expect(restored.getSnapshot().value).toEqual({ PENDING: 'ready' });
      expect(log).toEqual([]);
      restored.send({ type: 'START' });
      expect(restored.getSnapshot().value).toEqual({ RUNNING: 'unbounded' });
      expect(log).toEqual(['unready']);
    });

    it('stopping an actor in ready fires no unready (whoever stops it unqueues it)', () => {
      // XState v5 runs no exit actions on stop: pinned, so an engine relying on it learns of a change.
      const { actor, log } = startTask();
      actor.stop();
      expect(log).toEqual(['ready']);
    });
  });

  it('has exactly the seven task statuses as top-level states', () => {
    expect(Object.keys(taskMachine.root.states).sort()).toEqual([...TASK_STATUSES].sort());
  });

  it('taskStatusOf reads the top-level state of nested and flat values', () => {
    expect(taskStatusOf({ PENDING: 'backoff' })).toBe('PENDING');
    expect(taskStatusOf({ RUNNING: 'bounded' })).toBe('RUNNING');
    expect(taskStatusOf('PAUSED')).toBe('PAUSED');
  });

  it('restores a persisted mid-backoff snapshot with its context, but not its timer', () => {
    const { actor } = startTask({ maxAttempts: 3 });
    actor.send({ type: 'START' });
    actor.send({ type: 'FAIL', retryable: true, retryAfterMs: 50 });
    const persisted = JSON.parse(JSON.stringify(actor.getPersistedSnapshot()));
    const clock = new SimulatedClock();
    const { log, ready, unready } = queueActions();
    const restored = createActor(taskMachine.provide({ actions: { ready, unready } }), {
      snapshot: persisted,
      input: {},
      clock,
    }).start();
    expect(restored.getSnapshot().value).toEqual({ PENDING: 'backoff' });
    expect(restored.getSnapshot().context).toEqual(actor.getSnapshot().context);
    // `after` timers are not part of the persisted record (FACTS.md): whoever restores a task must
    // re-arm its deadline from the store. This guards that assumption.
    clock.increment(1_000);
    expect(log).toEqual([]);
    expect(restored.getSnapshot().value).toEqual({ PENDING: 'backoff' });
    restored.send({ type: 'CANCEL' });
    expect(restored.getSnapshot().value).toBe('CANCELLED');
    expect(log).toEqual([]);
  });
});
