import { describe, expect, it } from 'vitest';
import { roundRobin } from '../../src/routing/round-robin.js';
import { agent, inFlight, input } from './fixtures.js';

const a = agent('a');
const b = agent('b');
const c = agent('c');

describe('roundRobin', () => {
  it('orders candidates by id whatever order they come in', () => {
    const picks = [0, 1, 2, 3].map((cursor) => roundRobin(input([c, a, b], { cursor }))?.id);
    expect(picks).toEqual(['a', 'b', 'c', 'a']);
  });

  it('skips agents at their maxConcurrency and rotates among the rest', () => {
    const load = inFlight({ b: 1 });
    const picks = [0, 1, 2, 3].map((cursor) => roundRobin(input([a, b, c], { cursor, load }))?.id);
    expect(picks).toEqual(['a', 'c', 'a', 'c']);
  });

  it('returns undefined when every candidate is at its limit or there are none', () => {
    expect(roundRobin(input([a, b], { load: inFlight({ a: 1, b: 1 }) }))).toBeUndefined();
    expect(roundRobin(input([]))).toBeUndefined();
  });

  it('accepts negative, fractional and non-finite cursors', () => {
    expect(roundRobin(input([a, b, c], { cursor: -1 }))?.id).toBe('c');
    expect(roundRobin(input([a, b, c], { cursor: 4.9 }))?.id).toBe('b');
    expect(roundRobin(input([a, b, c], { cursor: Number.NaN }))?.id).toBe('a');
  });

  it('spreads 3,000 consecutive picks evenly over 3 free agents', () => {
    const counts = new Map<string, number>();
    for (let cursor = 0; cursor < 3_000; cursor++) {
      const id = roundRobin(input([b, c, a], { cursor }))!.id;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    expect(Object.fromEntries(counts)).toEqual({ a: 1_000, b: 1_000, c: 1_000 });
  });

  it('does not reorder the caller array', () => {
    const candidates = [c, a, b];
    roundRobin(input(candidates));
    expect(candidates.map((x) => x.id)).toEqual(['c', 'a', 'b']);
  });
});
