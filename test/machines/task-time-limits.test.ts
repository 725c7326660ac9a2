/**
 * The task machine's time limits against the rules of docs/policies.md "Delays, deadlines and
 * timeouts", as a fast-check property: random runs of START, SUCCEED, FAIL, PAUSE, RESUME and time
 * advances on a SimulatedClock, with the engine's answers to `limitPassed` (EXPIRE for a waiting
 * task, a non-retryable FAIL for a running attempt past the close limit, as src/engine/time-limits.ts
 * does). The laws: no first attempt starts at or after the deadline; a task not started by its
 * deadline has ended; nothing is RUNNING (or waiting) at or past the close limit; the deadline binds
 * only the first attempt (a retry may start past it, and a task that started never ends by it).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createActor, SimulatedClock } from 'xstate';
import { taskMachine, taskStatusOf, type TaskMachineEvent, type TimeLimit } from '../../machines/index.js';
import { noRetryDelay } from '../../machines/retry.js';

type Command = { kind: 'event'; event: TaskMachineEvent } | { kind: 'advance'; ms: number };

const command: fc.Arbitrary<Command> = fc.oneof(
  fc
    .constantFrom<TaskMachineEvent>(
      { type: 'START' },
      { type: 'SUCCEED' },
      { type: 'FAIL', retryable: true, retryAfterMs: 0 },
      { type: 'FAIL', retryable: true, retryAfterMs: 30 },
      { type: 'FAIL', retryable: false, retryAfterMs: 0 },
      { type: 'PAUSE' },
      { type: 'RESUME' },
    )
    .map((event): Command => ({ kind: 'event', event })),
  fc.integer({ min: 0, max: 120 }).map((ms): Command => ({ kind: 'advance', ms })),
);

const ENDED = new Set(['COMPLETED', 'FAILED', 'CANCELLED']);

interface Limits {
  deadline: number | undefined;
  close: number | undefined;
  maxAttempts: number;
}

/** Runs `commands` on a task actor armed with `limits` at time 0; checks the laws after each step. */
function check(limits: Limits, commands: readonly Command[]): void {
  const clock = new SimulatedClock();
  const passed: TimeLimit[] = [];
  const actor = createActor(
    taskMachine.provide({
      actions: {
        limitPassed: ({ event }) => {
          if (event.type === 'LIMIT_DUE') passed.push(event.limit);
        },
      },
    }),
    { input: { maxAttempts: limits.maxAttempts, retry: { ...noRetryDelay, maxDelayMs: 1_000 } }, clock },
  );
  actor.start();
  let expiredBy: TimeLimit | null = null;
  // As the engine does: a limit already due is expired at once (TimeLimits.expireDue), the others
  // are armed (TimeLimits.arm).
  const due = (at: number | undefined) => at !== undefined && at <= 0;
  if (due(limits.close)) passed.push('close');
  else if (due(limits.deadline)) passed.push('deadline');
  actor.send({
    type: 'ARM',
    ...(limits.deadline === undefined || due(limits.deadline) ? {} : { deadlineInMs: limits.deadline }),
    ...(limits.close === undefined || due(limits.close) ? {} : { closeInMs: limits.close }),
  });
  const status = () => taskStatusOf(actor.getSnapshot().value);
  /** What the engine does when the machine says a limit passed (src/engine/time-limits.ts). */
  const answer = () => {
    for (let limit = passed.shift(); limit !== undefined; limit = passed.shift()) {
      if (status() === 'RUNNING') {
        if (limit === 'close') actor.send({ type: 'FAIL', retryable: false, retryAfterMs: 0 });
        continue;
      }
      const expire = { type: 'EXPIRE', limit } as const;
      if (!actor.getSnapshot().can(expire)) continue;
      actor.send(expire);
      expiredBy = limit;
    }
  };
  answer(); // a limit of 0 ms passes at once
  for (const step of commands) {
    const now = clock.now();
    const before = actor.getSnapshot();
    if (step.kind === 'advance') clock.increment(step.ms);
    else actor.send(step.event);
    answer();
    const after = actor.getSnapshot();
    const started = after.context.attempts > before.context.attempts;
    if (started && before.context.attempts === 0 && limits.deadline !== undefined) {
      expect(now, 'a first attempt started at or after the deadline').toBeLessThan(limits.deadline);
    }
    if (
      step.kind === 'event' &&
      step.event.type === 'START' &&
      before.matches({ PENDING: 'ready' }) &&
      before.context.attempts > 0 &&
      before.context.attempts < limits.maxAttempts
    ) {
      // The deadline binds the first attempt only: a retry starts whenever it is ready.
      expect(started, 'a retry was refused').toBe(true);
    }
    const at = clock.now();
    if (limits.close !== undefined && at >= limits.close) {
      expect(ENDED.has(status()), `${status()} at or past the close limit`).toBe(true);
    }
    if (limits.deadline !== undefined && at >= limits.deadline && after.context.attempts === 0) {
      expect(ENDED.has(status()), `${status()} unstarted at or past the deadline`).toBe(true);
    }
    if (expiredBy === 'deadline') {
      expect(after.context.attempts, 'a started task ended by the deadline').toBe(0);
      expect(status()).toBe('FAILED');
    }
  }
  actor.stop();
}

const limitsArb: fc.Arbitrary<Limits> = fc.record({
  deadline: fc.option(fc.integer({ min: 0, max: 400 }), { nil: undefined }),
  close: fc.option(fc.integer({ min: 0, max: 800 }), { nil: undefined }),
  maxAttempts: fc.integer({ min: 1, max: 4 }),
});

describe('task machine time limits (property)', () => {
  it('a first attempt never starts past its deadline, nothing runs past the close limit, the deadline binds the first attempt only', () => {
    fc.assert(
      fc.property(limitsArb, fc.array(command, { maxLength: 40 }), (limits, commands) =>
        check(limits, commands),
      ),
      { numRuns: 400 },
    );
  });

  it('a retry starts past the deadline when the first attempt started before it', () => {
    check({ deadline: 50, close: undefined, maxAttempts: 2 }, [
      { kind: 'event', event: { type: 'START' } },
      { kind: 'advance', ms: 60 },
      { kind: 'event', event: { type: 'FAIL', retryable: true, retryAfterMs: 0 } },
      { kind: 'advance', ms: 0 },
      { kind: 'event', event: { type: 'START' } },
      { kind: 'event', event: { type: 'SUCCEED' } },
    ]);
  });
});
