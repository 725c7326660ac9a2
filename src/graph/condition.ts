import { Environment } from '@marcbachmann/cel-js';
import { ConditionError, ConditionFailedError } from '../errors/errors.js';

/** What a condition reads: its dependencies' outputs by key (or task id), and the task's input. */
export interface ConditionScope {
  outputs: Record<string, unknown>;
  input: Record<string, unknown>;
}

/** A CEL condition, parsed and type-checked once, evaluated as often as needed. */
export interface CompiledCondition {
  readonly source: string;
  /** True or false; throws `ConditionFailedError` when it throws or gives something else. */
  evaluate(scope: ConditionScope): boolean;
}

/** Longest condition accepted, in UTF-8 bytes. */
export const MAX_CONDITION_BYTES = 4096;
/** Deepest nesting of a condition's syntax tree (parentheses, calls, operators, `!` and `-`). */
export const MAX_CONDITION_DEPTH = 50;
/** Compiled conditions kept, by source; the least recently used goes first. */
const CACHE_SIZE = 1000;

const cache = new Map<string, CompiledCondition>();
let environment: Environment | undefined;

/** `outputs` and `input` are maps whose values are `dyn`; built on first use. */
function celEnvironment(): Environment {
  environment ??= new Environment({ limits: { maxDepth: MAX_CONDITION_DEPTH } })
    .registerVariable('outputs', 'map')
    .registerVariable('input', 'map');
  return environment;
}

const clip = (text: string, width = 100) => (text.length <= width ? text : `${text.slice(0, width)}…`);

/** The facts of a cel-js error: its one-line summary and where it starts (0-based), if it says. */
function explain(error: unknown): { summary: string; position?: number } {
  const { summary, message, range } = (error ?? {}) as {
    summary?: unknown;
    message?: unknown;
    range?: { start?: unknown };
  };
  const text = typeof summary === 'string' ? summary : typeof message === 'string' ? message : String(error);
  const position = typeof range?.start === 'number' ? range.start : undefined;
  return position === undefined ? { summary: text } : { summary: text, position };
}

const at = (position: number | undefined) => (position === undefined ? '' : ` at character ${position + 1}`);

/** A node of cel-js's syntax tree, as far as the depth check needs it. */
interface AstLike {
  op: string;
  args: unknown;
}

const isNode = (value: unknown): value is AstLike =>
  typeof value === 'object' && value !== null && 'op' in value && 'args' in value;

/**
 * The depth of a syntax tree, walked without recursion: cel-js limits the nesting of parentheses
 * and calls, not of unary operators, and its checker recurses (`!!!…!true` overflowed the stack).
 */
function depthOf(root: unknown): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[root, 1]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (isNode(value)) {
      deepest = Math.max(deepest, depth);
      stack.push([value.args, depth + 1]);
    } else if (Array.isArray(value)) {
      for (const item of value as unknown[]) stack.push([item, depth]);
    }
  }
  return deepest;
}

/** What a condition gave instead of a boolean, for the message. */
function describeResult(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (typeof value === 'bigint') return `an int (${value})`;
  if (typeof value === 'number') return `a double (${value})`;
  if (typeof value === 'string') return `a string (${JSON.stringify(clip(value, 40))})`;
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (value instanceof Uint8Array) return 'bytes';
  if (value instanceof Date) return 'a timestamp';
  if (typeof value === 'object') return 'a map';
  return typeof value;
}

/** A CEL expression that gives a list: a fan-out's `forEach` (docs/workflows.md). */
export interface CompiledList {
  readonly source: string;
  /** The list; throws `ConditionFailedError` when it throws or gives something else. */
  evaluate(scope: ConditionScope): unknown[];
}

/** What an expression must give: a condition a bool, a fan-out a list. */
type Expected = 'bool' | 'list';

function compile(expression: string): CompiledCondition {
  const evaluate = compileAs(expression, 'bool');
  return { source: expression, evaluate: (scope) => evaluate(scope) as boolean };
}

function compileAs(expression: string, expected: Expected): (scope: ConditionScope) => unknown {
  const shown = JSON.stringify(clip(expression));
  const bytes = Buffer.byteLength(expression, 'utf8');
  if (bytes > MAX_CONDITION_BYTES) {
    throw new ConditionError(
      `Condition ${shown} is too long: expected at most ${MAX_CONDITION_BYTES} bytes, got ${bytes}`,
      { expression: clip(expression, 200), bytes },
    );
  }
  const env = celEnvironment();
  let parsed: ReturnType<Environment['parse']>;
  try {
    parsed = env.parse(expression);
  } catch (error) {
    const { summary, position } = explain(error);
    throw new ConditionError(`Condition ${shown} does not parse: ${summary}${at(position)}`, {
      expression,
      ...(position === undefined ? {} : { position }),
    });
  }
  if (depthOf(parsed.ast) > MAX_CONDITION_DEPTH) {
    throw new ConditionError(
      `Condition ${shown} is nested too deeply: expected at most ${MAX_CONDITION_DEPTH} levels`,
      { expression },
    );
  }
  let checked: { valid: boolean; type?: string; error?: unknown };
  try {
    checked = parsed.check();
  } catch (error) {
    checked = { valid: false, error };
  }
  if (!checked.valid) {
    const { summary, position } = explain(checked.error);
    const hint = /unknown variable/i.test(summary) ? ' (a condition reads outputs and input)' : '';
    throw new ConditionError(`Condition ${shown} does not type-check: ${summary}${at(position)}${hint}`, {
      expression,
      ...(position === undefined ? {} : { position }),
    });
  }
  const type = checked.type ?? 'dyn';
  if (type !== 'dyn' && (expected === 'bool' ? type !== 'bool' : !type.startsWith('list'))) {
    throw new ConditionError(`Condition ${shown} gives ${type}, expected a ${expected}`, {
      expression,
      type,
    });
  }
  return (scope: ConditionScope): unknown => {
    let result: unknown;
    try {
      // A fresh object with exactly two own properties: nothing else is in reach.
      result = parsed({ outputs: scope.outputs, input: scope.input });
    } catch (error) {
      const { summary, position } = explain(error);
      throw new ConditionFailedError(`Condition ${shown} failed: ${summary}${at(position)}`, {
        cause: error,
        details: { expression, ...(position === undefined ? {} : { position }) },
      });
    }
    if (expected === 'bool' ? typeof result !== 'boolean' : !Array.isArray(result)) {
      const what = expected === 'bool' ? 'a boolean' : 'a list';
      throw new ConditionFailedError(`Condition ${shown} gave ${describeResult(result)}, expected ${what}`, {
        details: { expression, result: describeResult(result) },
      });
    }
    return result;
  };
}

const lists = new Map<string, CompiledList>();

/**
 * A CEL value as JSON data, for the items of a fan-out: CEL's ints (bigints, `[1, 2]`) become
 * numbers while exact, maps plain objects; an int past 2^53 fails the expression.
 */
function asJsonData(value: unknown, expression: string): unknown {
  if (typeof value === 'bigint') {
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new ConditionFailedError(
        `Condition ${JSON.stringify(expression)} gave the int ${value}, which JSON cannot hold exactly`,
        { details: { expression } },
      );
    }
    return Number(value);
  }
  if (Array.isArray(value)) return value.map((item) => asJsonData(item, expression));
  if (value instanceof Map) {
    return Object.fromEntries([...value].map(([key, item]) => [String(key), asJsonData(item, expression)]));
  }
  if (typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, asJsonData(item, expression)]),
    );
  }
  return value;
}

/**
 * Parses and type-checks a CEL expression that gives a list (a fan-out's `forEach`), over the same
 * `outputs` and `input` as a condition; errors as for `compileCondition`. Cached by source.
 * @example
 * compileList('outputs.fetch.documents').evaluate({ outputs, input: {} });
 */
export function compileList(expression: string): CompiledList {
  const cached = lists.get(expression);
  if (cached !== undefined) return cached;
  const evaluate = compileAs(expression, 'list');
  const compiled: CompiledList = {
    source: expression,
    evaluate: (scope) => (evaluate(scope) as unknown[]).map((item) => asJsonData(item, expression)),
  };
  if (lists.size >= CACHE_SIZE) lists.delete(lists.keys().next().value!);
  lists.set(expression, compiled);
  return compiled;
}

/**
 * Parses and type-checks a CEL condition over `outputs` (the dependencies' outputs, by key) and
 * `input` (the task's input data), or throws a `ConditionError` with cel-js's message and the
 * position (`details.position`, from 0) when it gives one. Numbers of `outputs` and `input` are
 * CEL doubles, as JSON numbers are: compare them with ints freely, compute with doubles
 * (`input.limit + 1.0`). Compiled conditions are cached by source.
 * @example
 * compileCondition('outputs.triage.label == "bug"').evaluate({ outputs, input: {} });
 */
export function compileCondition(expression: string): CompiledCondition {
  const cached = cache.get(expression);
  if (cached !== undefined) {
    cache.delete(expression);
    cache.set(expression, cached);
    return cached;
  }
  const compiled = compile(expression);
  if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value!);
  cache.set(expression, compiled);
  return compiled;
}
