import { assign, setup } from 'xstate';

/** How the router picks an agent; each value is a state of the router machine. */
export const RoutingStrategy = {
  ROUND_ROBIN: 'ROUND_ROBIN',
  CAPABILITY_MATCH: 'CAPABILITY_MATCH',
  CONTENT_MATCH: 'CONTENT_MATCH',
  LOAD_BALANCED: 'LOAD_BALANCED',
  CUSTOM: 'CUSTOM',
} as const;
export type RoutingStrategy = (typeof RoutingStrategy)[keyof typeof RoutingStrategy];
export const ROUTING_STRATEGIES: readonly RoutingStrategy[] = Object.values(RoutingStrategy);

export interface RouterMachineContext {
  /** The strategy the router starts in. */
  initialStrategy: RoutingStrategy;
  /** Advances on every ROUND_ROBIN pick. */
  cursor: number;
  /** Picks made so far, by any strategy. */
  routed: number;
  lastAgentId: string | null;
}

export type RouterMachineEvent =
  | { type: 'SET_STRATEGY'; strategy: RoutingStrategy }
  /** Agents picked by one routing call, in the order of its tasks. */
  | { type: 'ROUTED'; strategy: RoutingStrategy; agentIds: readonly string[] };

export interface RouterMachineInput {
  strategy: RoutingStrategy;
}

const toStrategy = (choose: 'event' | 'context') =>
  ROUTING_STRATEGIES.map((strategy) => ({
    guard: { type: choose === 'event' ? ('eventIs' as const) : ('initialIs' as const), params: { strategy } },
    target: `#router.${strategy}`,
  }));

/**
 * The router: its state is the current strategy; it counts picks and keeps the round-robin
 * cursor. The picking itself is a pure function of the task, the candidates and the load table.
 */
export const routerMachine = setup({
  types: {
    context: {} as RouterMachineContext,
    events: {} as RouterMachineEvent,
    input: {} as RouterMachineInput,
  },
  guards: {
    eventIs: ({ event }, params: { strategy: RoutingStrategy }) =>
      event.type === 'SET_STRATEGY' && event.strategy === params.strategy,
    initialIs: ({ context }, params: { strategy: RoutingStrategy }) =>
      context.initialStrategy === params.strategy,
  },
}).createMachine({
  id: 'router',
  context: ({ input }) => ({ initialStrategy: input.strategy, cursor: 0, routed: 0, lastAgentId: null }),
  initial: 'starting',
  on: {
    SET_STRATEGY: toStrategy('event'),
    ROUTED: {
      actions: assign({
        cursor: ({ context, event }) =>
          event.strategy === 'ROUND_ROBIN' ? context.cursor + event.agentIds.length : context.cursor,
        routed: ({ context, event }) => context.routed + event.agentIds.length,
        lastAgentId: ({ context, event }) => event.agentIds.at(-1) ?? context.lastAgentId,
      }),
    },
  },
  states: {
    starting: { always: toStrategy('context') },
    ROUND_ROBIN: {},
    CAPABILITY_MATCH: {},
    CONTENT_MATCH: {},
    LOAD_BALANCED: {},
    CUSTOM: {},
  },
});

export type RouterMachine = typeof routerMachine;
