import {
  agentGate,
  keyGate,
  rateBucketId,
  rateCapacity,
  type RateBucketGrant,
  type RateBucketOp,
  type RateLimit,
} from '../domain/rate-limit.js';
import { InvalidArgumentError } from '../errors/errors.js';
import type { Store } from '../repositories/store.js';
import { systemClock, type EngineClock } from './clock.js';
import type { Execution } from './execution.js';
import type { Logger } from './logger.js';
import type { TokenUsage } from '../ai/usage.js';

/** Where a gate is (see `RateGate.state`). */
export type GateState = 'permit' | 'asking' | 'waiting' | 'idle';

/** What the gate needs of the engine around it. */
export interface RateGateDeps {
  store: Store;
  clock: EngineClock;
  logger: Logger;
  /** Asks the dispatcher to look at its queues again (tokens arrived, or a wait ended). */
  pump(): void;
}

export { agentGate, keyGate };

/**
 * The time a store's rate buckets are read at for an engine on `clock` (`RateBucketOp.at`,
 * `ClaimRunnableOptions.ratesAt`): the engine's clock when it is injected, else undefined (the
 * store's own clock).
 */
export function rateTime(clock: EngineClock): number | undefined {
  return clock === systemClock ? undefined : clock.now();
}

/**
 * An engine's gate of a fairness key's tasks that declare `limits`: one per key and limits, so that
 * each task takes its tokens from the buckets of its own limits (tasks of one key may declare
 * different ones: docs/policies.md "Rate limits"). Its buckets are the key's (`keyGate`) of those
 * limits, shared with every engine and claim that meets the same.
 */
export const keyLimitsGate = (key: string, limits: readonly RateLimit[]): string =>
  `${keyGate(key)} ${JSON.stringify(limits)}`;

/** The stored bucket ids of a gate's limits (see `rateBucketId`). */
export const bucketIds = (gateKey: string, limits: readonly RateLimit[]): string[] =>
  limits.map((limit) => rateBucketId(gateKey, limit));

/** The buckets of one gate (an agent's, or a fairness key's) and what this engine holds of them. */
interface Gate {
  limits: readonly RateLimit[];
  /** The stored bucket of each limit (its id names the limit, so a changed limit is a new bucket). */
  buckets: readonly string[];
  /** Starts granted by the store and not used yet: used by the next dispatch only, then given back. */
  permits: number;
  asking: boolean;
  /** The wait for the buckets to refill (on the engine's clock), or null. */
  timer: unknown;
  /** Tokens to add to each bucket at the next operation: usage charged (negative), refunds. */
  add: number[];
  /** A retry-after to block the buckets for at the next operation (ms), or 0. */
  blockMs: number;
  /** Since when (engine clock) the gate holds back starts the dispatcher wanted; null: it does not. */
  heldSince: number | null;
  /** The kind of the bucket that last granted fewer starts than asked; null: none did yet. */
  short: 'requests' | 'tokens' | null;
}

/**
 * Rate limits (src/domain/rate-limit.ts), cluster-wide through the store: an agent config's
 * (`agentGate`) and a fairness key's (`keyGate`, `ExecuteOptions.keyRateLimits`). The dispatcher,
 * where it picks the next executions of a queue, starts a head only on a permit of each gate it
 * has (`state`, `use`): starts the store granted a moment ago. When a gate has none it takes them
 * from the store (`request`: one `takeRateTokens` for every bucket of the gate, for a batch of
 * starts) and pumps the dispatcher when they arrive; when the store grants fewer than asked it
 * waits on the engine's clock for the refill the store named, then pumps again. Queue order is
 * the dispatcher's: the head of a limited agent's queue waits for the next token, and other
 * agents' queues do not wait for it; a limited key waiting for a token is passed over, and the
 * other keys of its agent's queue start meanwhile. Unused permits go back after each dispatch
 * (`giveBack`). Usage (`charge`) and retry-after hints (`block`) go to the store with the next
 * operation, or at once when none is pending.
 */
export class RateGate {
  private readonly gates = new Map<string, Gate>();
  /** The gates holding permits now. */
  private readonly holding = new Set<string>();
  private stopped = false;
  /** Gates that held back a start, and gates a start took a permit of, in the dispatch under way. */
  private readonly heldNow = new Set<string>();
  private readonly usedNow = new Set<string>();
  /** Operations are timed by the store's clock under the system clock, else by the engine's. */
  private readonly engineTime: boolean;

  constructor(private readonly deps: RateGateDeps) {
    this.engineTime = deps.clock !== systemClock;
  }

  /**
   * Notes the rate limits of a gate (its executions carry them); unlimited gates cost nothing.
   * Limits of the same buckets as the gate's (equal content, each execution of a key carries its
   * own copy) keep the gate as it is: its permits and pending charges.
   */
  register(gateKey: string, limits: readonly RateLimit[], bucketKey: string = gateKey): void {
    const old = this.gates.get(gateKey);
    if (limits.length === 0 || old?.limits === limits) return;
    const buckets = bucketIds(bucketKey, limits);
    if (old && sameBuckets(old.buckets, buckets)) return;
    if (typeof this.deps.store.takeRateTokens !== 'function') {
      throw new InvalidArgumentError(
        `Rate limits need a store with takeRateTokens; the ${this.deps.store.kind} store has none`,
      );
    }
    this.gates.set(gateKey, {
      limits,
      buckets,
      permits: 0,
      asking: false,
      timer: null,
      add: limits.map(() => 0),
      blockMs: 0,
      heldSince: null,
      short: null,
    });
    if (old) {
      this.holding.delete(gateKey);
      this.retire(gateKey, old);
    }
  }

  /** Whether any gate has rate limits. */
  any(): boolean {
    return this.gates.size > 0;
  }

  /** Whether the gate has rate limits. */
  limits(gateKey: string): boolean {
    return this.gates.has(gateKey);
  }

  /**
   * Where the gate is: holding a permit (an execution may start, `use` takes it), asking the store
   * for tokens, waiting on the engine's clock for the refill, or idle (`request` asks).
   */
  state(gateKey: string): GateState {
    const gate = this.gates.get(gateKey)!;
    if (gate.permits > 0) return 'permit';
    if (gate.asking) return 'asking';
    return gate.timer === null ? 'idle' : 'waiting';
  }

  /** Asks the store for tokens for up to `wanted` starts, unless the gate is asking or waiting already. */
  request(gateKey: string, wanted: number): void {
    const gate = this.gates.get(gateKey)!;
    if (!gate.asking && gate.timer === null) void this.ask(gateKey, gate, Math.max(1, wanted));
  }

  /** The engine's clock now: an execution of a limited gate is queued (`Execution.readyAt`). */
  now(): number {
    return this.deps.clock.now();
  }

  /**
   * The gate has no permit for a start the dispatcher wanted (it asks, or waits for the refill):
   * the start waits at the rate limit from now on, unless it did already.
   */
  held(gateKey: string): void {
    const gate = this.gates.get(gateKey)!;
    gate.heldSince ??= this.deps.clock.now();
    this.heldNow.add(gateKey);
  }

  /**
   * Takes one permit: an execution of the gate starts. Returns how long it waited at the gate for
   * it, from when the gate held it back (or from `readyAt`, when it was queued, if later).
   */
  use(
    gateKey: string,
    readyAt = Number.NEGATIVE_INFINITY,
  ): { ms: number; kind: 'requests' | 'tokens' | null } {
    const gate = this.gates.get(gateKey)!;
    gate.permits -= 1;
    if (gate.permits === 0) this.holding.delete(gateKey);
    this.usedNow.add(gateKey);
    if (gate.heldSince === null) return { ms: 0, kind: null };
    const ms = Math.max(0, this.deps.clock.now() - Math.max(readyAt, gate.heldSince));
    return { ms, kind: ms > 0 ? gate.short : null };
  }

  /**
   * A dispatch ended: a gate whose starts took permits and that held none back no longer holds
   * its queue back, so a start's wait counts again from the next time it does.
   */
  dispatched(): void {
    for (const gateKey of this.usedNow) {
      const gate = this.gates.get(gateKey);
      if (gate !== undefined && !this.heldNow.has(gateKey)) gate.heldSince = null;
    }
    this.usedNow.clear();
    this.heldNow.clear();
  }

  /**
   * Gives back the permits a dispatch did not use, but those of the gates in `keep`: permits are
   * not held for later, where they could break a window. (The dispatcher keeps an agent's while
   * a key its queue passed over is asking for tokens: the answer pumps it at once.)
   */
  giveBack(keep: ReadonlySet<string> = NONE): void {
    for (const gateKey of this.holding) {
      if (keep.has(gateKey)) continue;
      const gate = this.gates.get(gateKey)!;
      this.refund(gateKey, gate);
      this.flush(gateKey, gate);
    }
  }

  /** Charges the tokens an attempt reported to the gate's token buckets (they may go into debt). */
  charge(gateKey: string, tokens: number): void {
    const gate = this.gates.get(gateKey);
    if (!gate || !(tokens > 0)) return;
    let charged = false;
    gate.limits.forEach((limit, i) => {
      if ('tokens' in limit) {
        gate.add[i]! -= tokens;
        charged = true;
      }
    });
    if (charged) this.flush(gateKey, gate);
  }

  /** Empties the gate's buckets for `ms` (a provider's retry-after), for every engine on the store. */
  block(gateKey: string, ms: number): void {
    const gate = this.gates.get(gateKey);
    if (!gate || !(ms > 0)) return;
    gate.blockMs = Math.max(gate.blockMs, ms);
    this.flush(gateKey, gate);
  }

  /**
   * An attempt ended: the tokens it reported (`context.metadata.usage`, as the AI SDK adapter
   * records it) are charged to its agent's and its fairness key's token buckets, and a retry-after
   * hint blocks its agent's buckets (a provider's limit: the key's stay as they are) for
   * `retryAfterMs`, the wait its retry policy grants it (machines/retry.ts `retryAfterDelay`).
   */
  settled(
    exec: Pick<Execution, 'agentKey' | 'concurrencyKey' | 'keyRateLimits' | 'lastMetadata'>,
    retryAfterMs: number | undefined,
  ): void {
    const agent = agentGate(exec.agentKey);
    const key =
      exec.concurrencyKey !== null && exec.keyRateLimits.length > 0
        ? keyLimitsGate(exec.concurrencyKey, exec.keyRateLimits)
        : null;
    const usage = exec.lastMetadata?.['usage'] as Partial<TokenUsage> | undefined;
    const total = usage?.totalTokens ?? (usage?.inputTokens ?? 0) + (usage?.outputTokens ?? 0);
    if (typeof total === 'number' && total > 0) {
      this.charge(agent, total);
      if (key !== null) this.charge(key, total);
    }
    if (retryAfterMs !== undefined) this.block(agent, retryAfterMs);
  }

  /** Stops the waits (the engine stops). */
  stop(): void {
    this.stopped = true;
    for (const gate of this.gates.values()) {
      if (gate.timer !== null) this.deps.clock.clearTimeout(gate.timer);
      gate.timer = null;
    }
  }

  /**
   * A gate whose limits changed (new buckets): its wait ends, and what it owes its old buckets
   * (charges, refunds, a block) still reaches them, with its permits given back.
   */
  private retire(gateKey: string, gate: Gate): void {
    if (gate.timer !== null) this.deps.clock.clearTimeout(gate.timer);
    gate.timer = null;
    this.refund(gateKey, gate);
    this.flush(gateKey, gate);
  }

  /**
   * Puts a gate's unused permits back on its request buckets' next operation. Its wait for the
   * refill ends: the buckets hold a token again, which the next ask takes with the refund.
   */
  private refund(gateKey: string, gate: Gate): void {
    if (gate.permits === 0) return;
    gate.limits.forEach((limit, i) => {
      if ('requests' in limit) gate.add[i]! += gate.permits;
    });
    gate.permits = 0;
    if (this.gates.get(gateKey) === gate) this.holding.delete(gateKey);
    if (gate.timer !== null) this.deps.clock.clearTimeout(gate.timer);
    gate.timer = null;
  }

  /** Sends pending charges, refunds and blocks now when no operation is under way to carry them. */
  private flush(gateKey: string, gate: Gate): void {
    if (!gate.asking && wantsFlush(gate)) void this.ask(gateKey, gate, 0);
  }

  /** One operation on every bucket of the gate: pending adds and block, and a take of `wanted`. */
  private async ask(gateKey: string, gate: Gate, wanted: number): Promise<void> {
    gate.asking = true;
    const at = this.engineTime ? this.deps.clock.now() : undefined;
    const ops: RateBucketOp[] = gate.limits.map((limit, i) => ({
      key: gate.buckets[i]!,
      capacity: rateCapacity(limit),
      perMs: limit.per,
      add: gate.add[i]!,
      take: wanted,
      spend: 'requests' in limit,
      blockMs: gate.blockMs,
      ...(at === undefined ? {} : { at }),
    }));
    gate.add = gate.limits.map(() => 0);
    gate.blockMs = 0;
    let grants: RateBucketGrant[];
    try {
      grants = await this.deps.store.takeRateTokens!(ops);
    } catch (error) {
      this.deps.logger.warn(
        { gate: gateKey, error: error instanceof Error ? error.message : String(error) },
        'A rate limit could not reach its store; trying again after a second',
      );
      // Charges, refunds and a block are kept for the next operation.
      ops.forEach((op, i) => (gate.add[i]! += op.add));
      gate.blockMs = Math.max(gate.blockMs, ops[0]!.blockMs);
      gate.asking = false;
      this.wait(gate, 1_000);
      // Permits kept for this answer go back at the next dispatch.
      this.deps.pump();
      return;
    }
    gate.asking = false;
    const current = this.gates.get(gateKey) === gate;
    // A retired gate's grants all go back (its buckets are no longer used here).
    const granted = current ? Math.min(...grants.map((grant) => grant.granted)) : 0;
    // Request buckets that granted more than the others: the rest goes back at the next operation.
    grants.forEach((grant, i) => {
      if (ops[i]!.spend && grant.granted > granted) gate.add[i]! += grant.granted - granted;
    });
    if (!current) {
      if (wantsFlush(gate)) void this.ask(gateKey, gate, 0);
      return;
    }
    gate.permits += granted;
    if (gate.permits > 0) this.holding.add(gateKey);
    if (granted < wanted) gate.short = shortKind(gate.limits, grants, granted);
    if (granted < wanted) this.wait(gate, Math.max(1, ...grants.map((grant) => grant.waitMs)));
    // What arrived meanwhile (charges, refunds, a block) goes now; a request that found this
    // operation under way (it asked nothing) gets its turn at the pump, and so do permits another
    // gate kept for this one's answer (see `giveBack`), given back then when none came.
    if (wantsFlush(gate)) void this.ask(gateKey, gate, 0);
    this.deps.pump();
  }

  /** Pumps the dispatcher again after `ms` on the engine's clock (at most one wait per gate). */
  private wait(gate: Gate, ms: number): void {
    if (gate.timer !== null || this.stopped) return;
    gate.timer = this.deps.clock.setTimeout(() => {
      gate.timer = null;
      this.deps.pump();
    }, ms);
  }
}

const NONE: ReadonlySet<string> = new Set();

/** The kind of the bucket that held a gate back: of those granting least, the one with the longest wait. */
function shortKind(
  limits: readonly RateLimit[],
  grants: readonly RateBucketGrant[],
  granted: number,
): 'requests' | 'tokens' {
  let at = 0;
  let longest = -1;
  grants.forEach((grant, i) => {
    if (grant.granted === granted && grant.waitMs > longest) [at, longest] = [i, grant.waitMs];
  });
  return 'requests' in limits[at]! ? 'requests' : 'tokens';
}

/** Whether a gate has charges, refunds or a block to send. */
const wantsFlush = (gate: Gate): boolean => gate.add.some((add) => add !== 0) || gate.blockMs > 0;

const sameBuckets = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && a.every((id, i) => id === b[i]);
