import { describe, expect, it } from 'vitest';
import {
  ErrorCode,
  InvalidArgumentError,
  NoAgentAvailableError,
  SymphonyError,
} from '../../src/errors/index.js';
import { routeCustom, validateCustomAnswer } from '../../src/routing/custom.js';
import type { CustomRoutingFunction } from '../../src/routing/types.js';
import { agent, inFlight, input } from './fixtures.js';

const a = agent('a');
const b = agent('b', { maxConcurrency: 2 });
const base = input([a, b]);

describe('custom routing adapter', () => {
  it('accepts an id and returns the candidate', async () => {
    await expect(routeCustom(() => 'b', base)).resolves.toBe(b);
  });

  it('accepts a copy of a candidate and returns the candidate itself', async () => {
    await expect(routeCustom(async () => ({ ...a }), base)).resolves.toBe(a);
  });

  it('passes the task, the candidates and the load to the function', async () => {
    const load = inFlight({ a: 0 });
    const seen: unknown[] = [];
    const fn: CustomRoutingFunction = (...args) => {
      seen.push(...args);
      return undefined;
    };
    const i = input([a, b], { load });
    await routeCustom(fn, i);
    expect(seen).toEqual([i.task, i.candidates, load]);
  });

  it('maps undefined and null to "no agent"', async () => {
    await expect(routeCustom(() => undefined, base)).resolves.toBeUndefined();
    expect(validateCustomAnswer(null, base)).toBeUndefined();
  });

  it.each([
    ['an unknown id', 'zzz', 'the id "zzz"'],
    ['an agent that is not a candidate', agent('other'), 'an agent with id "other"'],
    ['a number', 42, '42'],
    ['an object without an id', { name: 'a' }, 'an object without a string `id`'],
  ])('rejects %s with a typed INVALID_ARGUMENT error', async (_label, answer, shown) => {
    const error: unknown = await routeCustom(() => answer as string, base).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(SymphonyError.isInstance(error)).toBe(true);
    const typed = error as InvalidArgumentError;
    expect(typed.code).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(typed.message).toContain(`got ${shown}`);
    expect(typed.message).toContain('"a", "b"');
    expect(typed.details).toMatchObject({ strategy: 'CUSTOM', candidateIds: ['a', 'b'] });
  });

  it('rejects a candidate at its maxConcurrency with a retryable NO_AGENT_AVAILABLE error', () => {
    const busy = input([a, b], { load: inFlight({ b: 2 }) });
    let error: unknown;
    try {
      validateCustomAnswer('b', busy);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(NoAgentAvailableError);
    expect(error).toMatchObject({
      code: ErrorCode.NO_AGENT_AVAILABLE,
      retryable: true,
      details: { reason: 'custom-choice-at-limit', agentId: 'b', inFlight: 2, maxConcurrency: 2 },
    });
  });

  it('lets an error thrown by the function through unchanged', async () => {
    const boom = new Error('boom');
    await expect(
      routeCustom(() => {
        throw boom;
      }, base),
    ).rejects.toBe(boom);
  });
});
