import { describe, expect, it } from 'vitest';
import { loadBalanced } from '../../src/routing/load-balanced.js';
import { agent, inFlight, input } from './fixtures.js';

describe('loadBalanced', () => {
  it('picks the agent with the fewest executions in flight', () => {
    const candidates = [agent('a', { maxConcurrency: 5 }), agent('b', { maxConcurrency: 5 })];
    expect(loadBalanced(input(candidates, { load: inFlight({ a: 2, b: 1 }) }))?.id).toBe('b');
  });

  it('breaks an inFlight tie by the lower inFlight / maxConcurrency', () => {
    const candidates = [agent('a', { maxConcurrency: 2 }), agent('b', { maxConcurrency: 8 })];
    expect(loadBalanced(input(candidates, { load: inFlight({ a: 1, b: 1 }) }))?.id).toBe('b');
  });

  it('breaks a full tie by the lowest id', () => {
    const candidates = [agent('b', { maxConcurrency: 3 }), agent('a', { maxConcurrency: 3 })];
    expect(loadBalanced(input(candidates))?.id).toBe('a');
  });

  it('never picks an agent at or over its limit, even the least loaded one', () => {
    const candidates = [agent('idle', { maxConcurrency: 0 }), agent('busy', { maxConcurrency: 4 })];
    expect(loadBalanced(input(candidates, { load: inFlight({ busy: 3 }) }))?.id).toBe('busy');
    expect(loadBalanced(input(candidates, { load: inFlight({ busy: 4 }) }))).toBeUndefined();
    expect(loadBalanced(input(candidates, { load: inFlight({ busy: 9 }) }))).toBeUndefined();
  });

  it('treats an agent missing from the load snapshot as idle', () => {
    const candidates = [agent('a', { maxConcurrency: 5 }), agent('z', { maxConcurrency: 5 })];
    expect(loadBalanced(input(candidates, { load: inFlight({ a: 1 }) }))?.id).toBe('z');
  });
});
