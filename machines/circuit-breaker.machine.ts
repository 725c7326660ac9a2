import { assign, setup, type SnapshotFrom } from 'xstate';

/** When an agent config's breaker opens, and how it recovers. */
export interface CircuitBreakerOptions {
  /** Failures within `windowMs` that open the breaker (an integer >= 1). */
  failureThreshold: number;
  /** The sliding window the failures are counted in, in ms. */
  windowMs: number;
  /** How long the breaker stays open before it lets probes through, in ms. */
  cooldownMs: number;
  /** Attempts let through while half-open (an integer >= 1). @default 1 */
  halfOpenProbes: number;
}

/** The states of a breaker, as stored and as the machine's state values. */
export const BreakerState = { CLOSED: 'CLOSED', OPEN: 'OPEN', HALF_OPEN: 'HALF_OPEN' } as const;
export type BreakerState = (typeof BreakerState)[keyof typeof BreakerState];

export interface CircuitBreakerContext extends CircuitBreakerOptions {
  agentId: string;
  /** Times of the failures still inside the window (CLOSED only; emptied by every transition). */
  failures: number[];
  /** When the breaker last opened; null before it ever did. */
  openedAt: number | null;
  /** The delay the current OPEN state waits from its entry, in ms (less than `cooldownMs` when taken over from the store). */
  cooldownLeftMs: number;
  /** When the current OPEN state ends (it goes HALF_OPEN): `openedAt + cooldownMs`. */
  halfOpenAt: number | null;
  /** Probes still to be let through (HALF_OPEN). */
  probesLeft: number;
  /** When the state last changed, by the clock of the engine that changed it (-Infinity: never). */
  changedAt: number;
  /** True when the last change was taken over from the store (another engine's), not made here. */
  observed: boolean;
}

export type CircuitBreakerEvent =
  /** An attempt on the agent succeeded, at `at`. */
  | { type: 'SUCCESS'; at: number }
  /** An attempt on the agent failed in a way that counts (see docs/policies.md), at `at`. */
  | { type: 'FAILURE'; at: number }
  /** A half-open breaker let an attempt through. */
  | { type: 'PROBE' }
  /** The state another engine stored for this agent (read from the store at `at`). */
  | { type: 'OBSERVED'; state: BreakerState; openedAt: number | null; changedAt: number; at: number };

export interface CircuitBreakerInput extends CircuitBreakerOptions {
  agentId: string;
}

/** The id and system id of an agent config's breaker actor. */
export function breakerSystemId(agentId: string): string {
  return `breaker:${agentId}`;
}

const inWindow = (context: CircuitBreakerContext, at: number): number[] =>
  context.failures.filter((time) => time > at - context.windowMs);

/** The context of a breaker opened at `openedAt`, entering OPEN at `now`. */
const opened = (context: CircuitBreakerContext, openedAt: number, now: number) => ({
  failures: [],
  openedAt,
  halfOpenAt: openedAt + context.cooldownMs,
  cooldownLeftMs: Math.max(0, openedAt + context.cooldownMs - now),
  changedAt: openedAt,
  observed: false,
});

/**
 * The circuit breaker of one agent config. CLOSED counts the failures of the last `windowMs` and
 * opens at `failureThreshold` of them; OPEN waits `cooldownMs` (a delayed transition on the actor
 * system's clock) and goes HALF_OPEN, which lets `halfOpenProbes` attempts through (PROBE counts
 * one): a success closes it, a failure opens it again. OBSERVED brings in a newer state another
 * engine stored: OPEN (or HALF_OPEN) opens this breaker for what is left of that cool-down, CLOSED
 * closes it. The engine decides which attempts count and sends SUCCESS / FAILURE.
 */
export const circuitBreakerMachine = setup({
  types: {
    context: {} as CircuitBreakerContext,
    events: {} as CircuitBreakerEvent,
    input: {} as CircuitBreakerInput,
  },
  delays: {
    cooldown: ({ context }) => context.cooldownLeftMs,
  },
  guards: {
    reachesThreshold: ({ context, event }) =>
      event.type === 'FAILURE' && inWindow(context, event.at).length + 1 >= context.failureThreshold,
    hasProbes: ({ context }) => context.probesLeft > 0,
    newerOpen: ({ context, event }) =>
      event.type === 'OBSERVED' && event.state !== 'CLOSED' && event.changedAt > context.changedAt,
    newerClosed: ({ context, event }) =>
      event.type === 'OBSERVED' && event.state === 'CLOSED' && event.changedAt > context.changedAt,
  },
  actions: {
    openHere: assign(({ context, event }) => {
      const { at } = event as { at: number };
      return opened(context, at, at);
    }),
    takeOverOpen: assign(({ context, event }) => {
      const { openedAt, changedAt, at } = event as Extract<CircuitBreakerEvent, { type: 'OBSERVED' }>;
      return { ...opened(context, openedAt ?? changedAt, at), changedAt, observed: true };
    }),
    closeHere: assign(({ event }) => ({
      failures: [],
      changedAt: (event as { at: number }).at,
      observed: false,
    })),
    takeOverClosed: assign(({ event }) => ({
      failures: [],
      changedAt: (event as { changedAt: number }).changedAt,
      observed: true,
    })),
  },
}).createMachine({
  id: 'circuitBreaker',
  context: ({ input }) => ({
    agentId: input.agentId,
    failureThreshold: input.failureThreshold,
    windowMs: input.windowMs,
    cooldownMs: input.cooldownMs,
    halfOpenProbes: input.halfOpenProbes,
    failures: [],
    openedAt: null,
    halfOpenAt: null,
    cooldownLeftMs: input.cooldownMs,
    probesLeft: 0,
    // Never changed: any state stored by another engine is newer.
    changedAt: Number.NEGATIVE_INFINITY,
    observed: false,
  }),
  initial: 'CLOSED',
  on: {
    OBSERVED: [
      { guard: 'newerOpen', target: '.OPEN', reenter: true, actions: 'takeOverOpen' },
      { guard: 'newerClosed', target: '.CLOSED', actions: 'takeOverClosed' },
    ],
  },
  states: {
    CLOSED: {
      on: {
        FAILURE: [
          { guard: 'reachesThreshold', target: 'OPEN', actions: 'openHere' },
          {
            actions: assign({ failures: ({ context, event }) => [...inWindow(context, event.at), event.at] }),
          },
        ],
        SUCCESS: { actions: assign({ failures: ({ context, event }) => inWindow(context, event.at) }) },
      },
    },
    OPEN: {
      after: {
        cooldown: {
          target: 'HALF_OPEN',
          actions: assign({
            changedAt: ({ context }) => context.halfOpenAt ?? context.changedAt,
            observed: false,
          }),
        },
      },
    },
    HALF_OPEN: {
      entry: assign({ probesLeft: ({ context }) => context.halfOpenProbes }),
      on: {
        PROBE: {
          guard: 'hasProbes',
          actions: assign({ probesLeft: ({ context }) => context.probesLeft - 1 }),
        },
        SUCCESS: { target: 'CLOSED', actions: 'closeHere' },
        FAILURE: { target: 'OPEN', actions: 'openHere' },
      },
    },
  },
});

export type CircuitBreakerMachine = typeof circuitBreakerMachine;
export type CircuitBreakerSnapshot = SnapshotFrom<CircuitBreakerMachine>;

/** Whether a breaker lets an attempt through now: CLOSED, or HALF_OPEN with probes left. */
export function breakerAdmits(snapshot: CircuitBreakerSnapshot): boolean {
  const state = snapshot.value as BreakerState;
  return state === 'CLOSED' || (state === 'HALF_OPEN' && snapshot.context.probesLeft > 0);
}

/** The cool-down an OPEN breaker has left at `now`, in ms (0 for a breaker that is not OPEN). */
export function cooldownLeft(snapshot: CircuitBreakerSnapshot, now: number): number {
  const { halfOpenAt } = snapshot.context;
  if (snapshot.value !== 'OPEN' || halfOpenAt === null) return 0;
  return Math.max(0, halfOpenAt - now);
}
