import { describe, expect, it } from 'vitest';
import { ROUTING_STRATEGIES, RoutingStrategy } from '../../machines/router.machine.js';
import { ErrorCode, InvalidArgumentError, NoAgentAvailableError } from '../../src/errors/index.js';
import { pickAgent, routingStrategies, type BuiltInRoutingStrategy } from '../../src/routing/strategies.js';
import { agent, inFlight, input, task } from './fixtures.js';

const BUILT_IN = ROUTING_STRATEGIES.filter((s): s is BuiltInRoutingStrategy => s !== RoutingStrategy.CUSTOM);

function thrown(fn: () => unknown): NoAgentAvailableError {
  try {
    fn();
  } catch (error) {
    if (error instanceof NoAgentAvailableError) return error;
    throw error;
  }
  throw new Error('expected NoAgentAvailableError');
}

describe('routingStrategies', () => {
  it('has a function for every strategy but CUSTOM', () => {
    expect(Object.keys(routingStrategies).sort()).toEqual([...BUILT_IN].sort());
    expect(Object.isFrozen(routingStrategies)).toBe(true);
  });
});

describe('pickAgent', () => {
  const free = agent('free', { description: 'summarizes documents', capabilities: ['pdf'] });

  it.each(BUILT_IN)('%s returns the chosen agent synchronously', (strategy) => {
    const t = task({ tags: ['pdf'], inputData: { query: 'summarize' } });
    expect(pickAgent(strategy, input([free], { task: t }))).toBe(free);
  });

  it.each(BUILT_IN)('%s explains that there are no candidates', (strategy) => {
    const error = thrown(() => pickAgent(strategy, input([])));
    expect(error.code).toBe(ErrorCode.NO_AGENT_AVAILABLE);
    expect(error.retryable).toBe(true);
    expect(error.message).toBe(
      `No agent available for task "t1" (${strategy}): there are no candidate agents`,
    );
    expect(error.details).toMatchObject({
      strategy,
      reason: 'no-candidates',
      taskId: 't1',
      candidateIds: [],
    });
  });

  it.each(BUILT_IN)('%s explains that every candidate is at its limit', (strategy) => {
    const candidates = [agent('a'), agent('b', { maxConcurrency: 2 })];
    const error = thrown(() => pickAgent(strategy, input(candidates, { load: inFlight({ a: 1, b: 2 }) })));
    expect(error.message).toContain('all 2 candidate agents are at their maxConcurrency ("a", "b")');
    expect(error.details).toMatchObject({ reason: 'all-at-limit', candidateIds: ['a', 'b'] });
  });

  it('names the capabilities no candidate has', () => {
    const t = task({ tags: ['PDF', 'ocr'] });
    const error = thrown(() =>
      pickAgent('CAPABILITY_MATCH', input([agent('a', { capabilities: ['audio'] })], { task: t })),
    );
    expect(error.message).toContain('none of the 1 candidates has any of the capabilities pdf, ocr');
    expect(error.details).toMatchObject({
      reason: 'missing-capabilities',
      requiredCapabilities: ['pdf', 'ocr'],
    });
  });

  it('says when the agents with the capabilities are all busy', () => {
    const candidates = [
      agent('full', { capabilities: ['pdf', 'ocr'] }),
      agent('half', { capabilities: ['pdf'] }),
    ];
    const i = input(candidates, { task: task({ tags: ['pdf', 'ocr'] }), load: inFlight({ full: 1 }) });
    const error = thrown(() => pickAgent('CAPABILITY_MATCH', i));
    expect(error.message).toContain(
      'the agents with all of the capabilities pdf, ocr ("full") are all at their',
    );
    expect(error.details).toMatchObject({
      reason: 'best-matches-at-limit',
      bestMatchIds: ['full'],
      bestOverlap: 2,
    });
  });

  it('says when no candidate matches the content', () => {
    const i = input([agent('a', { description: 'bakes bread' })], { task: task({ name: 'fix bicycle' }) });
    const error = thrown(() => pickAgent('CONTENT_MATCH', i));
    expect(error.details).toMatchObject({ reason: 'no-content-match', query: 'fix bicycle' });
    const empty = thrown(() => pickAgent('CONTENT_MATCH', input([agent('a')])));
    expect(empty.message).toContain('the task has no text to match');
  });

  it('throws InvalidArgumentError for an unknown strategy', () => {
    expect(() => pickAgent('FASTEST' as RoutingStrategy, input([free]))).toThrow(InvalidArgumentError);
    expect(() => pickAgent('toString' as RoutingStrategy, input([free]))).toThrow(
      /Expected a routing strategy/,
    );
  });

  describe('CUSTOM', () => {
    it('resolves to the agent the function names', async () => {
      await expect(pickAgent('CUSTOM', input([free, agent('b')]), () => 'b')).resolves.toMatchObject({
        id: 'b',
      });
    });

    it('rejects with custom-declined when the function returns undefined', async () => {
      await expect(pickAgent('CUSTOM', input([free]), () => undefined)).rejects.toMatchObject({
        code: ErrorCode.NO_AGENT_AVAILABLE,
        details: { reason: 'custom-declined' },
      });
    });

    it('does not call the function when no candidate is free', async () => {
      let calls = 0;
      const fn = () => {
        calls++;
        return 'free';
      };
      await expect(
        pickAgent('CUSTOM', input([free], { load: inFlight({ free: 1 }) }), fn),
      ).rejects.toMatchObject({
        details: { reason: 'all-at-limit' },
      });
      await expect(pickAgent('CUSTOM', input([]), fn)).rejects.toMatchObject({
        details: { reason: 'no-candidates' },
      });
      expect(calls).toBe(0);
    });

    it('rejects (never throws synchronously) without a custom function', async () => {
      const result = pickAgent('CUSTOM' as RoutingStrategy, input([free]));
      expect(result).toBeInstanceOf(Promise);
      await expect(result).rejects.toBeInstanceOf(InvalidArgumentError);
    });
  });
});
