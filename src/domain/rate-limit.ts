import { InvalidArgumentError } from '../errors/errors.js';

/**
 * A token bucket of an agent config: `requests` attempt starts, or `tokens` LLM tokens (the usage
 * attempts report), per `per` milliseconds. The bucket holds at most that many and refills at that
 * rate; exactly one of `requests` and `tokens` is given.
 * @example
 * const limits: RateLimit[] = [{ requests: 60, per: 60_000 }, { tokens: 100_000, per: 60_000 }];
 */
export type RateLimit = { requests: number; per: number } | { tokens: number; per: number };

/** One operation on one stored bucket (see `Store.takeRateTokens`), applied atomically. */
export interface RateBucketOp {
  /** The bucket's id; a bucket not stored yet starts full. */
  key: string;
  /** Most the bucket holds; it refills `capacity` every `perMs`. */
  capacity: number;
  perMs: number;
  /** Added to the balance first (after the refill); negative to charge usage, positive to refund. */
  add: number;
  /**
   * Tokens wanted, granted only whole and only while the balance is at least 1: `take` of a request
   * bucket grants min(take, floor(balance)) and removes them; of a token bucket (`spend: false`)
   * it grants all of `take` and removes nothing (the usage is charged later with `add`).
   */
  take: number;
  spend: boolean;
  /** When > 0: the bucket is emptied and stays empty until this many ms from now (a retry-after). */
  blockMs: number;
  /** The time of the operation in epoch ms; omitted: the store's own clock. */
  at?: number;
}

/** A bucket's answer: the tokens granted and, when fewer than asked, the ms until the next one. */
export interface RateBucketGrant {
  key: string;
  granted: number;
  /** 0 when all of `take` was granted; else how long until the balance reaches 1 again. */
  waitMs: number;
}

/** A bucket as stored: its balance (negative while in debt) at `updatedAt` (epoch ms, may be ahead while blocked). */
export interface RateBucketState {
  tokens: number;
  updatedAt: number;
}

/** What `Store.readRateBuckets` returns: the stored buckets asked for, and the store's clock. */
export interface RateBucketsRead {
  /** The store's clock at the read (epoch ms): the time to apply a bucket's law at. */
  now: number;
  /** The buckets asked for that are stored (one never used is absent: it is full). */
  buckets: Array<RateBucketState & { key: string }>;
}

/**
 * The law of a bucket, the one rule every store applies (the SQL stores in one statement, see
 * src/repositories/sql/rate-buckets.ts): refill by the time elapsed since `updatedAt`, capped at
 * capacity; add; block; grant.
 */
export function applyRateOp(
  state: RateBucketState | undefined,
  op: RateBucketOp,
  now: number,
): { state: RateBucketState; grant: RateBucketGrant } {
  const updatedAt = state?.updatedAt ?? now;
  const elapsed = Math.max(0, now - updatedAt);
  let tokens = Math.min(op.capacity, (state?.tokens ?? op.capacity) + (elapsed * op.capacity) / op.perMs);
  tokens = Math.min(op.capacity, tokens + op.add);
  let from = Math.max(now, updatedAt);
  if (op.blockMs > 0) {
    tokens = Math.min(tokens, 0);
    from = Math.max(from, now + op.blockMs);
  }
  const open = from <= now && tokens >= 1;
  const granted = !open ? 0 : op.spend ? Math.min(op.take, Math.floor(tokens)) : op.take;
  if (op.spend) tokens -= granted;
  const waitMs = granted >= op.take ? 0 : rateWaitMs(tokens, from, now, op);
  return { state: { tokens, updatedAt: from }, grant: { key: op.key, granted, waitMs } };
}

/** Ms from `now` until a balance of `tokens` at `from` refills to 1. */
export function rateWaitMs(tokens: number, from: number, now: number, op: RateBucketOp): number {
  return Math.ceil(from - now + (Math.max(0, 1 - tokens) * op.perMs) / op.capacity);
}

/** The buckets of an agent config: validated copies of `value` (an array of RateLimit, or undefined). */
export function expectRateLimits(name: string, value: unknown): RateLimit[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value))
    throw new InvalidArgumentError(`Expected \`${name}\` to be an array of rate limits`);
  return value.map((item: unknown, i) => {
    const at = `${name}[${i}]`;
    if (typeof item !== 'object' || item === null) {
      throw new InvalidArgumentError(`Expected \`${at}\` to be { requests, per } or { tokens, per }`);
    }
    const { requests, tokens, per, ...rest } = item as Record<string, unknown>;
    const extra = Object.keys(rest);
    if (extra.length > 0) throw new InvalidArgumentError(`Unknown field \`${at}.${extra[0]}\``);
    if ((requests === undefined) === (tokens === undefined)) {
      throw new InvalidArgumentError(`Expected \`${at}\` to have exactly one of \`requests\` and \`tokens\``);
    }
    const perMs = positive(`${at}.per`, per);
    return requests !== undefined
      ? { requests: positive(`${at}.requests`, requests), per: perMs }
      : { tokens: positive(`${at}.tokens`, tokens), per: perMs };
  });
}

function positive(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new InvalidArgumentError(`Expected \`${name}\` to be an integer >= 1, got ${String(value)}`);
  }
  return value;
}

/** The capacity of a limit: its requests or its tokens. */
export function rateCapacity(limit: RateLimit): number {
  return 'requests' in limit ? limit.requests : limit.tokens;
}

/** The gate key of an agent's buckets (its agent key: the agent config id, else the agent id). */
export const agentGate = (agentKey: string): string => `agent:${agentKey}`;

/** The gate key of a fairness key's buckets (`ExecuteOptions.keyRateLimits`). */
export const keyGate = (concurrencyKey: string): string => `key:${concurrencyKey}`;

/** The stored bucket id of a gate's limit: `<gate>:<requests|tokens>:<capacity>/<per>`. */
export function rateBucketId(gateKey: string, limit: RateLimit): string {
  return `${gateKey}:${'requests' in limit ? 'requests' : 'tokens'}:${rateCapacity(limit)}/${limit.per}`;
}

/** Counts above any room a claim asks for: a gate without a request bucket admits that many. */
export const UNBOUNDED_ROOM = 1_000_000_000;

/**
 * How many starts a gate's buckets allow at `now`, less `pending` (its tasks claimed and due but not
 * started, which will take tokens first): for each request bucket the whole tokens it holds, for a
 * token bucket `UNBOUNDED_ROOM` while it holds 1 or more, for a blocked bucket (a retry-after) none;
 * a bucket not stored yet is full. The least over the buckets, less `pending`; may be negative.
 * Store claims take at most this many tasks of the gate (docs/policies.md "Rate limits").
 */
export function gateRoom(
  gateKey: string,
  limits: readonly RateLimit[],
  bucket: (id: string) => RateBucketState | undefined,
  now: number,
  pending: number,
): number {
  if (limits.length === 0) return UNBOUNDED_ROOM;
  let room = UNBOUNDED_ROOM;
  for (const limit of limits) {
    const state = bucket(rateBucketId(gateKey, limit));
    const capacity = rateCapacity(limit);
    const requests = 'requests' in limit;
    let here: number;
    if (state === undefined) here = requests ? capacity : UNBOUNDED_ROOM;
    else if (state.updatedAt > now) here = 0;
    else {
      const balance = Math.min(capacity, state.tokens + ((now - state.updatedAt) * capacity) / limit.per);
      here = balance < 1 ? 0 : requests ? Math.floor(balance) : UNBOUNDED_ROOM;
    }
    room = Math.min(room, here);
  }
  return room - pending;
}

/**
 * Ms from `now` until a gate's buckets could admit start number `need` (counting starts that will
 * take tokens first): each request bucket holding `need` tokens, each token bucket 1, none blocked,
 * at the refill rate. A hint for a worker's next claim; 0 when they could now.
 */
export function gateWaitMs(
  gateKey: string,
  limits: readonly RateLimit[],
  bucket: (id: string) => RateBucketState | undefined,
  now: number,
  need: number,
): number {
  let wait = 0;
  for (const limit of limits) {
    const state = bucket(rateBucketId(gateKey, limit));
    const capacity = rateCapacity(limit);
    const want = 'requests' in limit ? need : 1;
    const from = Math.max(now, state?.updatedAt ?? now);
    const tokens =
      state === undefined
        ? capacity
        : state.updatedAt > now
          ? state.tokens
          : Math.min(capacity, state.tokens + ((now - state.updatedAt) * capacity) / limit.per);
    wait = Math.max(wait, Math.ceil(from - now + (Math.max(0, want - tokens) * limit.per) / capacity));
  }
  return wait;
}
