import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { ROUTING_STRATEGIES, routerMachine, type RoutingStrategy } from '../../machines/index.js';

const startRouter = (strategy: RoutingStrategy) =>
  createActor(routerMachine, { input: { strategy } }).start();

describe('router machine', () => {
  it.each(ROUTING_STRATEGIES)('starts in the strategy given as input: %s', (strategy) => {
    const actor = startRouter(strategy);
    expect(actor.getSnapshot().value).toBe(strategy);
    expect(actor.getSnapshot().context).toEqual({
      initialStrategy: strategy,
      cursor: 0,
      routed: 0,
      lastAgentId: null,
    });
  });

  it('has one state per strategy besides the transient starting state', () => {
    expect(Object.keys(routerMachine.root.states).sort()).toEqual(['starting', ...ROUTING_STRATEGIES].sort());
  });

  describe('SET_STRATEGY', () => {
    for (const from of ROUTING_STRATEGIES) {
      it(`switches from ${from} to every strategy`, () => {
        for (const to of ROUTING_STRATEGIES) {
          const actor = startRouter(from);
          actor.send({ type: 'SET_STRATEGY', strategy: to });
          expect(actor.getSnapshot().value).toBe(to);
        }
      });
    }

    it('keeps the counters and the cursor across switches', () => {
      const actor = startRouter('ROUND_ROBIN');
      actor.send({ type: 'ROUTED', strategy: 'ROUND_ROBIN', agentIds: ['a1'] });
      actor.send({ type: 'SET_STRATEGY', strategy: 'LOAD_BALANCED' });
      actor.send({ type: 'SET_STRATEGY', strategy: 'ROUND_ROBIN' });
      expect(actor.getSnapshot().context).toMatchObject({ cursor: 1, routed: 1, lastAgentId: 'a1' });
    });
  });

  describe('ROUTED', () => {
    it('advances the cursor for ROUND_ROBIN picks only, and counts every pick', () => {
      const actor = startRouter('ROUND_ROBIN');
      actor.send({ type: 'ROUTED', strategy: 'ROUND_ROBIN', agentIds: ['a1'] });
      actor.send({ type: 'ROUTED', strategy: 'ROUND_ROBIN', agentIds: ['a2'] });
      expect(actor.getSnapshot().context).toMatchObject({ cursor: 2, routed: 2, lastAgentId: 'a2' });
      for (const strategy of ROUTING_STRATEGIES.filter((s) => s !== 'ROUND_ROBIN')) {
        actor.send({ type: 'SET_STRATEGY', strategy });
        actor.send({ type: 'ROUTED', strategy, agentIds: [`by-${strategy}`] });
        expect(actor.getSnapshot().context).toMatchObject({ cursor: 2, lastAgentId: `by-${strategy}` });
      }
      expect(actor.getSnapshot().context.routed).toBe(2 + ROUTING_STRATEGIES.length - 1);
    });

    it('counts every agent of a batch pick, advances the cursor by as many, and keeps the last one', () => {
      const actor = startRouter('ROUND_ROBIN');
      actor.send({ type: 'ROUTED', strategy: 'ROUND_ROBIN', agentIds: ['a1', 'a2', 'a1'] });
      expect(actor.getSnapshot().context).toMatchObject({ cursor: 3, routed: 3, lastAgentId: 'a1' });
      actor.send({ type: 'ROUTED', strategy: 'LOAD_BALANCED', agentIds: ['a3', 'a2'] });
      expect(actor.getSnapshot().context).toMatchObject({ cursor: 3, routed: 5, lastAgentId: 'a2' });
    });

    it('an empty pick changes no count and keeps the last agent', () => {
      const actor = startRouter('ROUND_ROBIN');
      actor.send({ type: 'ROUTED', strategy: 'ROUND_ROBIN', agentIds: ['a1'] });
      actor.send({ type: 'ROUTED', strategy: 'ROUND_ROBIN', agentIds: [] });
      expect(actor.getSnapshot().context).toMatchObject({ cursor: 1, routed: 1, lastAgentId: 'a1' });
    });

    it('does not change the strategy', () => {
      const actor = startRouter('CONTENT_MATCH');
      actor.send({ type: 'ROUTED', strategy: 'CONTENT_MATCH', agentIds: ['a1'] });
      expect(actor.getSnapshot().value).toBe('CONTENT_MATCH');
    });
  });
});
