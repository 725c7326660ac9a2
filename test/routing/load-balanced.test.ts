import { describe, expect, it } from 'vitest';
import { loadBalanced } from '../../src/routing/load-balanced.js';
import { agent, inFlight, input, loads } from './fixtures.js';

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

  it('balances on inFlight + queued: a long queue outweighs fewer in flight', () => {
    const candidates = [agent('a', { maxConcurrency: 5 }), agent('b', { maxConcurrency: 5 })];
    // a: 0 running + 3 waiting = 3; b: 2 running = 2.
    const load = loads({ a: { inFlight: 0, queued: 3 }, b: { inFlight: 2 } });
    expect(loadBalanced(input(candidates, { load }))?.id).toBe('b');
    // One queued on each side: a has 1 + 1 = 2, b has 2 + 1 = 3.
    expect(
      loadBalanced(
        input(candidates, { load: loads({ a: { inFlight: 1, queued: 1 }, b: { inFlight: 2, queued: 1 } }) }),
      )?.id,
    ).toBe('a');
  });

  it('breaks an inFlight + queued tie by the lower (inFlight + queued) / maxConcurrency, not by id', () => {
    const candidates = [agent('a', { maxConcurrency: 2 }), agent('b', { maxConcurrency: 8 })];
    // Both have 2 assigned: a is at 2/2, b at 2/8.
    const load = loads({ a: { queued: 2 }, b: { inFlight: 1, queued: 1 } });
    expect(loadBalanced(input(candidates, { load }))?.id).toBe('b');
  });

  it('never refuses an agent for its queue: capacity is judged on inFlight alone', () => {
    const small = agent('small', { maxConcurrency: 1 });
    expect(loadBalanced(input([small], { load: loads({ small: { queued: 50 } }) }))?.id).toBe('small');
    const busy = agent('busy', { maxConcurrency: 1 });
    const load = loads({ small: { queued: 50 }, busy: { inFlight: 1 } });
    expect(loadBalanced(input([busy, small], { load }))?.id).toBe('small');
  });

  it('reads a load entry without queued (a hand-made snapshot) as nothing queued', () => {
    const candidates = [agent('a', { maxConcurrency: 5 }), agent('b', { maxConcurrency: 5 })];
    const load = new Map([
      ['a', { inFlight: 1, completed: 0, failed: 0 }],
      ['b', { inFlight: 0, queued: 2, completed: 0, failed: 0 }],
    ]) as unknown as ReturnType<typeof loads>;
    expect(loadBalanced(input(candidates, { load }))?.id).toBe('a');
  });
});
