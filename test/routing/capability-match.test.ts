import { describe, expect, it } from 'vitest';
import { capabilityMatch, requiredCapabilities } from '../../src/routing/capability-match.js';
import { agent, inFlight, input, loads, task } from './fixtures.js';

const withTags = (...tags: string[]) => task({ tags });

describe('capabilityMatch', () => {
  it('breaks a tie within the tier by inFlight + queued, and a queue never makes an agent busy', () => {
    const candidates = [
      agent('a', { capabilities: ['pdf'], maxConcurrency: 2 }),
      agent('b', { capabilities: ['pdf'], maxConcurrency: 2 }),
      agent('c', { capabilities: ['text'], maxConcurrency: 9 }),
    ];
    const t = withTags('pdf');
    // a: 3 waiting; b: 1 running. Counting only inFlight would pick a.
    const load = loads({ a: { queued: 3 }, b: { inFlight: 1 } });
    expect(capabilityMatch(input(candidates, { task: t, load }))?.id).toBe('b');
    // b at its limit: a is still free however long its queue, and c never qualifies.
    const full = loads({ a: { queued: 30 }, b: { inFlight: 2 } });
    expect(capabilityMatch(input(candidates, { task: t, load: full }))?.id).toBe('a');
  });

  it('sends a task without tags to the free agent with the fewest inFlight + queued', () => {
    const candidates = [agent('a', { maxConcurrency: 4 }), agent('b', { maxConcurrency: 4 })];
    const load = loads({ a: { inFlight: 1, queued: 2 }, b: { inFlight: 2 } });
    expect(capabilityMatch(input(candidates, { task: withTags(), load }))?.id).toBe('b');
  });

  it('prefers an agent with every required capability over one with more unrelated ones', () => {
    const candidates = [
      agent('a-many', { capabilities: ['pdf', 'ocr', 'translate', 'audio'] }),
      agent('z-full', { capabilities: ['PDF', 'Summarize'] }),
    ];
    const picked = capabilityMatch(input(candidates, { task: withTags('pdf', 'summarize', 'SUMMARIZE') }));
    expect(picked?.id).toBe('z-full');
  });

  it('never picks an agent lacking a capability while some candidate has them all', () => {
    const candidates = [
      agent('a', { capabilities: ['pdf'], maxConcurrency: 9 }),
      agent('b', { capabilities: ['pdf', 'ocr'] }),
    ];
    const t = withTags('pdf', 'ocr');
    expect(capabilityMatch(input(candidates, { task: t }))?.id).toBe('b');
    // b is busy: a lacks `ocr`, so there is no agent rather than a worse one.
    expect(capabilityMatch(input(candidates, { task: t, load: inFlight({ b: 1 }) }))).toBeUndefined();
  });

  it('compares tags and capabilities ignoring case', () => {
    const candidates = [agent('a', { capabilities: ['Image-Gen'] }), agent('b', { capabilities: ['text'] })];
    expect(capabilityMatch(input(candidates, { task: withTags('image-gen') }))?.id).toBe('a');
  });

  it('falls back to the best partial overlap when no agent has every capability', () => {
    const candidates = [
      agent('one', { capabilities: ['pdf'] }),
      agent('two', { capabilities: ['pdf', 'ocr'] }),
      agent('none', { capabilities: ['audio'] }),
    ];
    expect(capabilityMatch(input(candidates, { task: withTags('pdf', 'ocr', 'translate') }))?.id).toBe('two');
  });

  it('returns undefined when no candidate shares any capability', () => {
    const candidates = [agent('a', { capabilities: ['audio'] })];
    expect(capabilityMatch(input(candidates, { task: withTags('pdf') }))).toBeUndefined();
  });

  it('breaks ties between equal matches by fewest in flight, then id', () => {
    const candidates = ['c', 'b', 'a'].map((id) => agent(id, { capabilities: ['pdf'], maxConcurrency: 5 }));
    const t = withTags('pdf');
    expect(capabilityMatch(input(candidates, { task: t }))?.id).toBe('a');
    expect(capabilityMatch(input(candidates, { task: t, load: inFlight({ a: 2, b: 1, c: 1 }) }))?.id).toBe(
      'b',
    );
  });

  it('gives a task without tags to the least loaded free agent', () => {
    const candidates = [agent('a', { maxConcurrency: 3 }), agent('b', { maxConcurrency: 3 }), agent('c')];
    const load = inFlight({ a: 2, b: 1, c: 1 });
    expect(capabilityMatch(input(candidates, { load }))?.id).toBe('b');
  });

  it('ignores agents at their limit within the best tier', () => {
    const candidates = [
      agent('a', { capabilities: ['pdf'], maxConcurrency: 1 }),
      agent('b', { capabilities: ['pdf'], maxConcurrency: 2 }),
    ];
    expect(
      capabilityMatch(input(candidates, { task: withTags('pdf'), load: inFlight({ a: 1, b: 1 }) }))?.id,
    ).toBe('b');
  });
});

describe('requiredCapabilities', () => {
  it('lower-cases tags and drops duplicates and empty strings', () => {
    expect(requiredCapabilities(withTags('PDF', 'pdf', '', 'Ocr'))).toEqual(['pdf', 'ocr']);
  });
});
