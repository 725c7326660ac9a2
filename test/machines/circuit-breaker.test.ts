import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createActor, SimulatedClock } from 'xstate';
import {
  breakerAdmits,
  circuitBreakerMachine,
  cooldownLeft,
  type BreakerState,
  type CircuitBreakerOptions,
} from '../../machines/index.js';

/** The breaker's rule written plainly, as the reference the machine is checked against. */
class ReferenceBreaker {
  state: BreakerState = 'CLOSED';
  failures: number[] = [];
  halfOpenAt: number | null = null;
  probes = 0;
  constructor(private readonly o: CircuitBreakerOptions) {}
  private prune(now: number) {
    this.failures = this.failures.filter((time) => time > now - this.o.windowMs);
  }
  private open(now: number) {
    this.state = 'OPEN';
    this.failures = [];
    this.halfOpenAt = now + this.o.cooldownMs;
  }
  failure(now: number) {
    if (this.state === 'HALF_OPEN') return this.open(now);
    if (this.state !== 'CLOSED') return;
    this.prune(now);
    if (this.failures.length + 1 >= this.o.failureThreshold) this.open(now);
    else this.failures.push(now);
  }
  success(now: number) {
    if (this.state === 'CLOSED') this.prune(now);
    else if (this.state === 'HALF_OPEN') {
      this.state = 'CLOSED';
      this.failures = [];
    }
  }
  probe() {
    if (this.state === 'HALF_OPEN' && this.probes > 0) this.probes -= 1;
  }
  advanceTo(now: number) {
    if (this.state === 'OPEN' && this.halfOpenAt! <= now) {
      this.state = 'HALF_OPEN';
      this.probes = this.o.halfOpenProbes;
    }
  }
  admits() {
    return this.state === 'CLOSED' || (this.state === 'HALF_OPEN' && this.probes > 0);
  }
}

type Step = { kind: 'success' } | { kind: 'failure' } | { kind: 'probe' } | { kind: 'advance'; ms: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.constant({ kind: 'success' as const }),
  fc.constant({ kind: 'failure' as const }),
  fc.constant({ kind: 'probe' as const }),
  fc.integer({ min: 1, max: 120 }).map((ms) => ({ kind: 'advance' as const, ms })),
);

const options: fc.Arbitrary<CircuitBreakerOptions> = fc.record({
  failureThreshold: fc.integer({ min: 1, max: 4 }),
  windowMs: fc.integer({ min: 1, max: 200 }),
  cooldownMs: fc.integer({ min: 0, max: 150 }),
  halfOpenProbes: fc.integer({ min: 1, max: 3 }),
});

function start(o: CircuitBreakerOptions, clock: SimulatedClock) {
  const actor = createActor(circuitBreakerMachine, {
    clock,
    input: { agentId: 'a', ...o },
  });
  actor.start();
  return actor;
}

describe('circuit breaker machine', () => {
  it('follows the reference model on random sequences of outcomes and time advances', () => {
    fc.assert(
      fc.property(options, fc.array(step, { maxLength: 60 }), (o, steps) => {
        const clock = new SimulatedClock();
        clock.set(1_000);
        const actor = start(o, clock);
        const model = new ReferenceBreaker(o);
        for (const s of steps) {
          const at = clock.now();
          if (s.kind === 'success') {
            actor.send({ type: 'SUCCESS', at });
            model.success(at);
          } else if (s.kind === 'failure') {
            actor.send({ type: 'FAILURE', at });
            model.failure(at);
          } else if (s.kind === 'probe') {
            actor.send({ type: 'PROBE' });
            model.probe();
          } else {
            clock.increment(s.ms);
            model.advanceTo(clock.now());
          }
          const snapshot = actor.getSnapshot();
          expect(snapshot.value).toBe(model.state);
          expect(breakerAdmits(snapshot)).toBe(model.admits());
          if (model.state === 'CLOSED') expect(snapshot.context.failures).toEqual(model.failures);
          if (model.state === 'HALF_OPEN') expect(snapshot.context.probesLeft).toBe(model.probes);
          const left = model.state === 'OPEN' ? Math.max(0, model.halfOpenAt! - clock.now()) : 0;
          expect(cooldownLeft(snapshot, clock.now())).toBe(left);
        }
        actor.stop();
      }),
      { numRuns: 300 },
    );
  });

  it('takes over a newer OPEN state from the store for what is left of its cool-down', () => {
    const clock = new SimulatedClock();
    clock.set(10_000);
    const o = { failureThreshold: 3, windowMs: 1_000, cooldownMs: 500, halfOpenProbes: 1 };
    const actor = start(o, clock);
    actor.send({ type: 'OBSERVED', state: 'OPEN', openedAt: 9_800, changedAt: 9_800, at: 10_000 });
    expect(actor.getSnapshot().value).toBe('OPEN');
    expect(actor.getSnapshot().context.observed).toBe(true);
    expect(cooldownLeft(actor.getSnapshot(), clock.now())).toBe(300);
    clock.increment(299);
    expect(actor.getSnapshot().value).toBe('OPEN');
    clock.increment(1);
    expect(actor.getSnapshot().value).toBe('HALF_OPEN');
    // An older record changes nothing; a newer CLOSED closes it.
    actor.send({ type: 'OBSERVED', state: 'OPEN', openedAt: 9_800, changedAt: 9_800, at: 10_300 });
    expect(actor.getSnapshot().value).toBe('HALF_OPEN');
    actor.send({ type: 'OBSERVED', state: 'CLOSED', openedAt: 9_800, changedAt: 10_400, at: 10_400 });
    expect(actor.getSnapshot().value).toBe('CLOSED');
    actor.stop();
  });
});
