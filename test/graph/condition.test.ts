import { describe, expect, it } from 'vitest';
import { ConditionError, ConditionFailedError } from '../../src/errors/errors.js';
import {
  compileCondition,
  compileList,
  MAX_CONDITION_BYTES,
  type ConditionScope,
} from '../../src/graph/condition.js';

// CEL conditions of workflow graphs (issue 12, "Conditions and branches"), on @marcbachmann/cel-js.

const scope: ConditionScope = {
  outputs: {
    triage: { label: 'bug', score: 0.9 },
    docs: { items: ['a', 'b', 'c'] },
    'my key': { ok: true },
  },
  input: { limit: 5 },
};

function errorOf(run: () => unknown): Error & { code: string; details: Record<string, unknown> } {
  try {
    run();
  } catch (error) {
    return error as Error & { code: string; details: Record<string, unknown> };
  }
  throw new Error('expected an error');
}

const evaluate = (expression: string, over: ConditionScope = scope) =>
  compileCondition(expression).evaluate(over);

describe('compileCondition', () => {
  it.each<[string, boolean]>([
    ['outputs.triage.label == "bug"', true],
    ['outputs.triage.label == "feature"', false],
    ['size(outputs.docs.items) > 2', true],
    ['size(outputs.docs.items) > 3', false],
    ['outputs["my key"].ok', true],
    ['input.limit > 3', true],
    ['input.limit == 5', true],
    ['outputs.triage.score >= 0.5 && "b" in outputs.docs.items', true],
    ['has(outputs.review) || outputs.triage.label.startsWith("b")', true],
  ])('%s is %s', (expression, expected) => {
    expect(evaluate(expression)).toBe(expected);
  });

  it('keeps the source and compiles a source once', () => {
    const first = compileCondition('input.limit > 3');
    expect(first.source).toBe('input.limit > 3');
    expect(compileCondition('input.limit > 3')).toBe(first);
    expect(first.evaluate({ outputs: {}, input: { limit: 1 } })).toBe(false);
  });

  it('refuses bad syntax with the position cel-js gives', () => {
    const error = errorOf(() => compileCondition('outputs.triage.label == '));
    expect(error).toBeInstanceOf(ConditionError);
    expect(error.code).toBe('INVALID_CONDITION');
    expect(error.details).toEqual({ expression: 'outputs.triage.label == ', position: 24 });
    expect(error.message).toBe(
      'Condition "outputs.triage.label == " does not parse: Unexpected token: EOF at character 25',
    );
  });

  it('refuses what does not type-check: unknown variables, bad operands, non-boolean types', () => {
    const unknown = errorOf(() => compileCondition('triage.label == "bug"'));
    expect(unknown).toBeInstanceOf(ConditionError);
    expect(unknown.message).toContain('does not type-check: Unknown variable: triage at character 1');
    expect(unknown.message).toContain('(a condition reads outputs and input)');
    expect(errorOf(() => compileCondition('1 + "a" == 2')).message).toContain('no such overload');
    const integer = errorOf(() => compileCondition('1 + 2'));
    expect(integer).toBeInstanceOf(ConditionError);
    expect(integer.message).toBe('Condition "1 + 2" gives int, expected a bool');
  });

  it('fails evaluation of a missing key with ConditionFailedError, never retried', () => {
    const error = errorOf(() => evaluate('outputs.review.approved'));
    expect(error).toBeInstanceOf(ConditionFailedError);
    expect(error.code).toBe('CONDITION_FAILED');
    expect((error as ConditionFailedError).retryable).toBe(false);
    expect(error.message).toBe(
      'Condition "outputs.review.approved" failed: No such key: review at character 9',
    );
    expect(error.details).toEqual({ expression: 'outputs.review.approved', position: 8 });
  });

  it('fails evaluation that gives something other than a boolean, saying what it gave', () => {
    const error = errorOf(() => evaluate('outputs.triage.label'));
    expect(error).toBeInstanceOf(ConditionFailedError);
    expect(error.message).toBe('Condition "outputs.triage.label" gave a string ("bug"), expected a boolean');
    expect(errorOf(() => evaluate('outputs.docs.items')).message).toContain('gave a list of 3');
    expect(errorOf(() => evaluate('outputs.triage.score')).message).toContain('gave a double (0.9)');
  });

  it('fails arithmetic between a JSON number (a double) and an int, which CEL does not mix', () => {
    expect(errorOf(() => evaluate('input.limit + 1 > 5'))).toBeInstanceOf(ConditionFailedError);
    expect(evaluate('input.limit + 1.0 > 5')).toBe(true);
  });
});

describe('compileCondition on hostile input', () => {
  it('refuses an expression over 4 KB before parsing it', () => {
    const long = `input.limit > 3${' || true'.repeat(600)}`;
    const error = errorOf(() => compileCondition(long));
    expect(error).toBeInstanceOf(ConditionError);
    expect(error.message).toContain(`expected at most ${MAX_CONDITION_BYTES} bytes, got ${long.length}`);
  });

  it.each([
    ['parentheses', `${'('.repeat(200)}true${')'.repeat(200)}`],
    ['lists', `size(${'['.repeat(200)}1${']'.repeat(200)}) > 0`],
    ['negations', `${'!'.repeat(4000)}true`],
    ['minus signs', `${'-'.repeat(4000)}1 > 0`],
  ])('refuses deep nesting of %s with ConditionError, without overflowing the stack', (_what, expression) => {
    const error = errorOf(() => compileCondition(expression));
    expect(error).toBeInstanceOf(ConditionError);
    expect(error.message).toMatch(/nested too deeply|maxDepth/);
  });

  it('reads own keys only: __proto__, constructor and toString reach no prototype', () => {
    const outputs = JSON.parse('{"__proto__": {"polluted": true}, "a": {"ok": true}}') as Record<
      string,
      unknown
    >;
    const over = { outputs, input: {} };
    // The own "__proto__" key is data like any other key...
    expect(evaluate('outputs["__proto__"].polluted', over)).toBe(true);
    // ...and nothing leaks from Object.prototype or into it.
    expect(errorOf(() => evaluate('outputs.a.polluted', over))).toBeInstanceOf(ConditionFailedError);
    for (const name of ['constructor', 'toString', 'hasOwnProperty']) {
      expect(
        errorOf(() => evaluate(`has(outputs.a.${name}) || outputs.a.${name} == 1`, over)),
      ).toBeInstanceOf(ConditionFailedError);
    }
    expect(evaluate('has(input.constructor)', over)).toBe(false);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('reads nothing through a prototype set by assigning __proto__', () => {
    const outputs: Record<string, unknown> = {};
    outputs['__proto__'] = { label: 'bug' }; // what a careless merge of outputs does
    expect(errorOf(() => evaluate('outputs.label == "bug"', { outputs, input: {} }))).toBeInstanceOf(
      ConditionFailedError,
    );
    expect(evaluate('has(outputs.label)', { outputs, input: {} })).toBe(false);
  });

  it('keeps at most 1,000 compiled conditions, the least recently used going first', () => {
    const kept = compileCondition('input.kept == 1.0');
    const dropped = compileCondition('input.dropped == 1.0');
    for (let i = 0; i < 999; i++) {
      if (i % 100 === 0) compileCondition('input.kept == 1.0');
      compileCondition(`input.n == ${i}`);
    }
    expect(compileCondition('input.kept == 1.0')).toBe(kept);
    expect(compileCondition('input.dropped == 1.0')).not.toBe(dropped);
  });

  it('takes null-prototype objects as maps', () => {
    const outputs = Object.create(null) as Record<string, unknown>;
    outputs.triage = { label: 'bug' };
    expect(evaluate('outputs.triage.label == "bug"', { outputs, input: {} })).toBe(true);
  });
});

describe('compileList', () => {
  const scope: ConditionScope = { outputs: { fetch: { documents: ['a', 'b'] } }, input: {} };
  it('gives JSON data: CEL ints as numbers, maps as objects, nested', () => {
    expect(compileList('[1, 2, -3]').evaluate(scope)).toEqual([1, 2, -3]);
    expect(compileList('[{"n": [1], "tags": [2]}]').evaluate(scope)).toEqual([{ n: [1], tags: [2] }]);
    expect(compileList('outputs.fetch.documents').evaluate(scope)).toEqual(['a', 'b']);
  });
  it('fails an int JSON cannot hold exactly', () => {
    expect(() => compileList('[9007199254740993]').evaluate(scope)).toThrow(ConditionFailedError);
  });
});
