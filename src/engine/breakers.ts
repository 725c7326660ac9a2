import { expectCircuitBreaker } from './circuit-breaker-options.js';
import type { Actor } from 'xstate';
import {
  breakerAdmits,
  cooldownLeft,
  type BreakerState,
  type CircuitBreakerMachine,
  type CircuitBreakerOptions,
  type CircuitBreakerSnapshot,
} from '../../machines/circuit-breaker.machine.js';
import type { Failure } from '../../machines/retry.js';
import { ErrorCode } from '../errors/codes.js';
import { CircuitOpenError } from '../errors/errors.js';
import type { StoredBreaker } from '../repositories/breakers.js';
import type { Store } from '../repositories/store.js';
import type { Logger } from './logger.js';

type BreakerActor = Actor<CircuitBreakerMachine>;

/** What the breakers need of their engine. */
export interface BreakersDeps {
  engineId: string;
  store: Pick<Store, 'saveBreaker' | 'breakers'>;
  clock: { now(): number };
  logger: Logger;
  /** Spawns the breaker actor in the engine's system and returns it (REGISTER_BREAKER). */
  spawn(agentId: string, options: CircuitBreakerOptions): BreakerActor | undefined;
  /** How long a read of the store stays fresh, in ms: the engine's control poll. */
  maxAgeMs(): number;
  /** A breaker changed state (`observed`: read from the store, made by another engine's breaker). */
  changed?(agentId: string, from: BreakerState, to: BreakerState, observed: boolean): void;
}

/**
 * Whether a failed attempt counts against its agent's breaker: a failure the agent ran into (its
 * error, a timeout). Not an attempt its engine cut short (interrupted), not one the breaker itself
 * refused (CIRCUIT_OPEN: the agent never ran), not a non-retryable error (the input's fault, not
 * the agent's). Cancelled attempts never reach here.
 */
export function countsAgainstBreaker(failure: Failure, interrupted: boolean): boolean {
  return !interrupted && failure.retryable && failure.errorCode !== ErrorCode.CIRCUIT_OPEN;
}

/**
 * The circuit breakers of the agent configs that have one: one live actor each in the engine's
 * system (machines/circuit-breaker.machine.ts holds the rule). The engine tells them attempt
 * outcomes; routing and the start of an attempt ask them. Each transition made here is written to
 * the store; `refresh()` reads the other engines' at most once per control poll and feeds them to
 * the actors as OBSERVED. An engine with no breaker configured has none and pays nothing.
 */
export class Breakers {
  private readonly actors = new Map<string, BreakerActor>();
  private readAt: number | null = null;
  private reading: Promise<void> | null = null;
  private writes: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: BreakersDeps) {}

  /** How many breakers this engine runs. */
  get size(): number {
    return this.actors.size;
  }

  /** Starts the breaker of an agent config that has options and no breaker yet. */
  ensure(agentId: string, options: Partial<CircuitBreakerOptions> | undefined): void {
    if (options === undefined || options === null || this.actors.has(agentId)) return;
    // An agent defined in code is used as given: a partial breaker gets the defaults it leaves out.
    const actor = this.deps.spawn(agentId, expectCircuitBreaker(options));
    if (actor === undefined) return;
    this.actors.set(agentId, actor);
    let last = actor.getSnapshot().value;
    actor.subscribe((snapshot) => {
      if (snapshot.value === last) return;
      const from = last;
      last = snapshot.value;
      if (!snapshot.context.observed) this.write(snapshot);
      this.deps.changed?.(agentId, from, snapshot.value, snapshot.context.observed);
    });
  }

  /** The snapshot of an agent's breaker; undefined when it has none. */
  snapshot(agentId: string): CircuitBreakerSnapshot | undefined {
    return this.actors.get(agentId)?.getSnapshot();
  }

  /** Whether routing may pick the agent: no breaker, CLOSED, or HALF_OPEN with probes left. */
  admits(agentId: string): boolean {
    const snapshot = this.snapshot(agentId);
    return snapshot === undefined || breakerAdmits(snapshot);
  }

  /** The cool-down an agent's breaker has left, in ms; undefined when it is not OPEN. */
  retryAfterMs(agentId: string): number | undefined {
    const snapshot = this.snapshot(agentId);
    if (snapshot === undefined || snapshot.value !== 'OPEN') return undefined;
    return cooldownLeft(snapshot, this.deps.clock.now());
  }

  /**
   * Asks to start an attempt on the agent: null lets it through (a HALF_OPEN breaker counts it as a
   * probe), else the CIRCUIT_OPEN error it fails fast with.
   */
  refuse(agentId: string): CircuitOpenError | null {
    const actor = this.actors.get(agentId);
    if (actor === undefined) return null;
    const snapshot = actor.getSnapshot();
    if (!breakerAdmits(snapshot)) return new CircuitOpenError([agentId], this.retryAfterMs(agentId));
    if (snapshot.value === 'HALF_OPEN') actor.send({ type: 'PROBE' });
    return null;
  }

  /** Tells an agent's breaker an attempt's outcome: a success, or a failure that counts. */
  record(agentId: string, ok: boolean): void {
    const actor = this.actors.get(agentId);
    if (actor === undefined) return;
    actor.send({ type: ok ? 'SUCCESS' : 'FAILURE', at: this.deps.clock.now() });
  }

  /** Reads the other engines' breaker states unless the last read is fresh, and feeds them in. */
  async refresh(): Promise<void> {
    if (this.actors.size === 0 || this.reading !== null) return this.reading ?? undefined;
    const { store, clock } = this.deps;
    if (store.breakers === undefined) return;
    const now = clock.now();
    if (this.readAt !== null && now - this.readAt < this.deps.maxAgeMs()) return;
    this.reading = (async () => {
      try {
        const rows = await store.breakers!();
        this.readAt = now;
        this.observe(rows, clock.now());
      } finally {
        this.reading = null;
      }
    })();
    return this.reading;
  }

  /** Feeds stored rows of other engines to the local breakers (the machine ignores older ones). */
  observe(rows: readonly StoredBreaker[], at: number): void {
    for (const row of rows) {
      if (row.changedBy === this.deps.engineId) continue;
      const actor = this.actors.get(row.agentId);
      if (actor === undefined) continue;
      const { state, openedAt, changedAt } = row;
      actor.send({ type: 'OBSERVED', state, openedAt, changedAt, at });
    }
  }

  /** Writes are serialized; a failed write is logged, the local breaker goes on. */
  private write(snapshot: CircuitBreakerSnapshot): void {
    const { store, engineId, logger } = this.deps;
    if (store.saveBreaker === undefined) return;
    const { agentId, openedAt, failures, changedAt } = snapshot.context;
    const row: StoredBreaker = {
      agentId,
      state: snapshot.value as BreakerState,
      openedAt,
      failures: failures.length,
      changedAt,
      changedBy: engineId,
    };
    this.writes = this.writes
      .then(() => store.saveBreaker!(row))
      .catch((error: unknown) => logger.warn({ error, agentId }, 'Could not store a circuit breaker state'));
  }

  /** Resolves once the writes started so far have ended. */
  flushed(): Promise<void> {
    return this.writes.then(() => {});
  }
}
