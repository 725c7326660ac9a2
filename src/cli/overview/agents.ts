import { transition } from 'xstate';
import { agentMachine } from '../../../machines/agent.machine.js';
import type { AgentConfig } from '../../index.js';
import { applyRateOp, rateCapacity, type RateBucketOp, type RateLimit } from '../../domain/rate-limit.js';
import { agentGate, bucketIds } from '../../engine/rate-limits.js';
import type { StoredBreaker } from '../../repositories/breakers.js';
import type { HeldLoad } from '../../repositories/held-load.js';
import type { Session } from '../store.js';

/** The agent machine's states (machines/agent.machine.ts). */
export type AgentState = 'idle' | 'busy' | 'full';

/** What the store knows of one agent config's load: its unfinished tasks held by live engines. */
export interface AgentLoad {
  running: number;
  pending: number;
  paused: number;
  /** The engines holding them. */
  holders: string[];
}

/** One bucket of an agent's rate limits, as the store has it now. */
export interface RateState {
  limit: RateLimit;
  /** A start (or a token ask) would be granted now. */
  open: boolean;
  /** When not open: ms until the bucket lets one through again. */
  waitMs: number;
}

/** An agent config as `symphony top` and the dashboard show it. */
export interface AgentEntry {
  config: AgentConfig;
  load: AgentLoad;
  /** The agent machine's state for that load: what an agent actor holding all of it would be in. */
  state: AgentState;
  /** Tasks whose latest attempt ran on it, that ended COMPLETED or FAILED. */
  completed: number;
  failed: number;
  /** The breaker's last transition any engine stored; null: none (closed, or no breaker). */
  breaker: StoredBreaker | null;
  /** Its rate-limit buckets; null when it has none (or the store keeps no buckets). */
  rate: RateState[] | null;
}

/**
 * The agent machine's state for a load: the machine's own eventless transitions (isIdle, isBusy,
 * isFull) taken from a snapshot holding that many attempts in flight.
 */
export function agentStateFor(maxConcurrency: number, inFlight: number): AgentState {
  const snapshot = agentMachine.resolveState({
    value: 'idle',
    context: { agentId: '', maxConcurrency, inFlight, completed: 0, failed: 0 },
  });
  const [next] = transition(agentMachine, snapshot, { type: 'SET_LIMIT', maxConcurrency });
  return next.value as AgentState;
}

/** The load of `agentId` in the store's held-load rows. */
export function loadOf(rows: readonly HeldLoad[], agentId: string): AgentLoad {
  const load: AgentLoad = { running: 0, pending: 0, paused: 0, holders: [] };
  for (const row of rows) {
    if (row.agentKey !== agentId) continue;
    load.running += row.running;
    load.pending += row.pending;
    load.paused += row.paused;
    load.holders.push(row.holder);
  }
  return load;
}

/**
 * The rate-limit buckets of an agent config as the store has them now: read only
 * (`Store.readRateBuckets`), then the one bucket law (`applyRateOp`, src/domain/rate-limit.ts)
 * applied to a copy at the store's clock, with a take of one start that spends nothing: whether a
 * start would be granted now, else how long until one would. Nothing is written to the store.
 */
export async function peekRateLimits(session: Session, config: AgentConfig): Promise<RateState[] | null> {
  const limits = config.rateLimits ?? [];
  if (limits.length === 0) return null;
  const keys = bucketIds(agentGate(config.id), limits);
  const read = await session.rateBuckets(keys);
  if (read === null) return null;
  const stored = new Map(read.buckets.map((bucket) => [bucket.key, bucket]));
  return limits.map((limit, i) => {
    const op: RateBucketOp = {
      key: keys[i]!,
      capacity: rateCapacity(limit),
      perMs: limit.per,
      add: 0,
      take: 1,
      spend: false,
      blockMs: 0,
    };
    const { grant } = applyRateOp(stored.get(keys[i]!), op, read.now);
    return { limit, open: grant.granted >= 1, waitMs: grant.waitMs };
  });
}

/**
 * Every agent config of the store with its load across live engines, the agent machine's state for
 * it, its tasks' outcomes, its breaker and (with `rates`) its rate-limit buckets.
 */
export async function listAgentEntries(
  session: Session,
  options: { rates?: boolean } = {},
): Promise<AgentEntry[]> {
  const { registry } = session;
  const configs = await registry.getRepository('agentConfigs').find({ orderBy: 'createdAt' });
  const held = (await session.heldLoad()) ?? [];
  const breakers = new Map((await session.breakers()).map((row) => [row.agentId, row]));
  const tasks = registry.getRepository('tasks');
  const entries: AgentEntry[] = [];
  for (const config of configs) {
    const load = loadOf(held, config.id);
    const [completed = 0, failed = 0] = await Promise.all(
      (['COMPLETED', 'FAILED'] as const).map((status) => tasks.count({ agentId: config.id, status })),
    );
    entries.push({
      config,
      load,
      state: agentStateFor(config.maxConcurrency, load.running),
      completed,
      failed,
      breaker: breakers.get(config.id) ?? null,
      rate: options.rates ? await peekRateLimits(session, config) : null,
    });
  }
  return entries;
}

/** `60 requests / 1 min`, `100,000 tokens / 1 min`. */
export function describeRateLimit(limit: RateLimit): string {
  const what = 'requests' in limit ? 'requests' : 'tokens';
  const per = limit.per % 60_000 === 0 ? `${limit.per / 60_000} min` : `${limit.per / 1000} s`;
  return `${rateCapacity(limit).toLocaleString('en-US')} ${what} / ${per}`;
}

/** The breaker in words: its state, or `CLOSED` for a breaker that never tripped, `-` for none. */
export function describeBreaker(entry: Pick<AgentEntry, 'config' | 'breaker'>): string {
  if (entry.breaker !== null) return entry.breaker.state;
  return entry.config.circuitBreaker === undefined ? '-' : 'CLOSED';
}
