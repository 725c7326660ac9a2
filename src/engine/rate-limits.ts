import {
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

/** What the gate needs of the engine around it. */
export interface RateGateDeps {
  store: Store;
  clock: EngineClock;
  logger: Logger;
  /** Asks the dispatcher to look at its queues again (tokens arrived, or a wait ended). */
  pump(): void;
}

/** The buckets of one agent key and what this engine holds of them. */
interface KeyGate {
  limits: readonly RateLimit[];
  /** The stored bucket of each limit (its key names the limit, so a changed limit is a new bucket). */
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
}

/**
 * Rate limits of agent configs (src/domain/rate-limit.ts), cluster-wide through the store. The
 * dispatcher asks it, where it picks the next executions of a limited agent's queue, how many may
 * start (`admit`): only starts the store granted a moment ago. When it has none it takes them from
 * the store in one batch (one `takeRateTokens` for every bucket of the agent) and pumps the
 * dispatcher when they arrive; when the store grants fewer than asked it waits on the engine's clock
 * for the refill the store named, then pumps again. Queue order is the dispatcher's: the head of a
 * limited queue waits for the next token, and other agents' queues do not wait for it. Usage
 * (`charge`) and retry-after hints (`block`) go to the store with the next operation, or at once
 * when none is pending.
 */
export class RateGate {
  private readonly keys = new Map<string, KeyGate>();
  private stopped = false;
  /** Operations are timed by the store's clock under the system clock, else by the engine's. */
  private readonly engineTime: boolean;

  constructor(private readonly deps: RateGateDeps) {
    this.engineTime = deps.clock !== systemClock;
  }

  /** Notes the rate limits of an agent key (its executions carry them); unlimited keys cost nothing. */
  register(agentKey: string, limits: readonly RateLimit[]): void {
    if (limits.length === 0 || this.keys.get(agentKey)?.limits === limits) return;
    if (typeof this.deps.store.takeRateTokens !== 'function') {
      throw new InvalidArgumentError(
        `Rate limits need a store with takeRateTokens; the ${this.deps.store.kind} store has none`,
      );
    }
    const buckets = limits.map(
      (limit) =>
        `agent:${agentKey}:${'requests' in limit ? 'requests' : 'tokens'}:${rateCapacity(limit)}/${limit.per}`,
    );
    const old = this.keys.get(agentKey);
    this.keys.set(agentKey, {
      limits,
      buckets,
      permits: 0,
      asking: old?.asking ?? false,
      timer: old?.timer ?? null,
      add: limits.map(() => 0),
      blockMs: 0,
    });
  }

  /** Whether the agent key has rate limits. */
  limits(agentKey: string): boolean {
    return this.keys.has(agentKey);
  }

  /**
   * How many of `wanted` executions of the key may start now (at most the permits held), taken from
   * the permits; when they fall short, tokens for the rest are asked of the store.
   */
  admit(agentKey: string, wanted: number): number {
    const gate = this.keys.get(agentKey)!;
    const admitted = Math.min(gate.permits, wanted);
    gate.permits -= admitted;
    if (admitted < wanted && !gate.asking && gate.timer === null)
      void this.ask(agentKey, gate, wanted - admitted);
    return admitted;
  }

  /** Gives back permits a dispatch did not use: held permits are never used later, where they could break a window. */
  giveBack(agentKey: string): void {
    const gate = this.keys.get(agentKey);
    if (!gate || gate.permits === 0) return;
    gate.limits.forEach((limit, i) => {
      if ('requests' in limit) gate.add[i]! += gate.permits;
    });
    gate.permits = 0;
    this.flush(agentKey, gate);
  }

  /** Charges the tokens an attempt of the key reported to its token buckets (they may go into debt). */
  charge(agentKey: string, tokens: number): void {
    const gate = this.keys.get(agentKey);
    if (!gate || !(tokens > 0)) return;
    let charged = false;
    gate.limits.forEach((limit, i) => {
      if ('tokens' in limit) {
        gate.add[i]! -= tokens;
        charged = true;
      }
    });
    if (charged) this.flush(agentKey, gate);
  }

  /** Empties the key's buckets for `ms` (a provider's retry-after), for every engine on the store. */
  block(agentKey: string, ms: number): void {
    const gate = this.keys.get(agentKey);
    if (!gate || !(ms > 0)) return;
    gate.blockMs = Math.max(gate.blockMs, ms);
    this.flush(agentKey, gate);
  }

  /**
   * An attempt of a limited agent ended: the tokens it reported (`context.metadata.usage`, as the AI
   * SDK adapter records it) are charged, and a retry-after hint blocks the agent's buckets.
   */
  settled(exec: Pick<Execution, 'agentKey' | 'lastMetadata'>, retryAfterMs: number | undefined): void {
    if (!this.keys.has(exec.agentKey)) return;
    const usage = exec.lastMetadata?.['usage'] as Partial<TokenUsage> | undefined;
    const total = usage?.totalTokens ?? (usage?.inputTokens ?? 0) + (usage?.outputTokens ?? 0);
    if (typeof total === 'number' && total > 0) this.charge(exec.agentKey, total);
    if (retryAfterMs !== undefined) this.block(exec.agentKey, retryAfterMs);
  }

  /** Stops the waits (the engine stops). */
  stop(): void {
    this.stopped = true;
    for (const gate of this.keys.values()) {
      if (gate.timer !== null) this.deps.clock.clearTimeout(gate.timer);
      gate.timer = null;
    }
  }

  /** Sends pending charges, refunds and blocks now when no operation is under way to carry them. */
  private flush(agentKey: string, gate: KeyGate): void {
    if (!gate.asking) void this.ask(agentKey, gate, 0);
  }

  /** One operation on every bucket of the key: pending adds and block, and a take of `wanted`. */
  private async ask(agentKey: string, gate: KeyGate, wanted: number): Promise<void> {
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
        { agentKey, error: error instanceof Error ? error.message : String(error) },
        'A rate limit could not reach its store; trying again after a second',
      );
      // Charges, refunds and a block are kept for the next operation.
      ops.forEach((op, i) => (gate.add[i]! += op.add));
      gate.blockMs = Math.max(gate.blockMs, ops[0]!.blockMs);
      gate.asking = false;
      this.wait(gate, 1_000);
      return;
    }
    gate.asking = false;
    if (this.keys.get(agentKey) !== gate) return;
    const granted = Math.min(...grants.map((grant) => grant.granted));
    // Request buckets that granted more than the others: the rest goes back at the next operation.
    grants.forEach((grant, i) => {
      if (ops[i]!.spend && grant.granted > granted) gate.add[i]! += grant.granted - granted;
    });
    gate.permits += granted;
    if (granted < wanted) this.wait(gate, Math.max(1, ...grants.map((grant) => grant.waitMs)));
    // What arrived meanwhile (charges, refunds, a block) goes now; an admit that found this
    // operation under way (it asked nothing) gets its turn at the pump.
    if (gate.add.some((add) => add !== 0) || gate.blockMs > 0) void this.ask(agentKey, gate, 0);
    if (granted > 0 || wanted === 0) this.deps.pump();
  }

  /** Pumps the dispatcher again after `ms` on the engine's clock (at most one wait per key). */
  private wait(gate: KeyGate, ms: number): void {
    if (gate.timer !== null || this.stopped) return;
    gate.timer = this.deps.clock.setTimeout(() => {
      gate.timer = null;
      this.deps.pump();
    }, ms);
  }
}
