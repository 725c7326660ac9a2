import { z } from 'zod';
import { SIGNAL_NAME_PATTERN } from '../../graph/node-options.js';
import { expectations, expectedMessage } from './expected.js';
import { workflowFileSchema } from './schema.js';

/**
 * What a schema check of a workflow file found, as the loader says it: one line per problem with
 * its path (`tasks[2].retry.maxAttempts`), what was expected there and what came.
 */

export type Issue = z.core.$ZodIssue & { input?: unknown };
type PathKey = PropertyKey;

const unwrap = (schema: unknown): unknown => (schema instanceof z.ZodOptional ? schema.unwrap() : schema);

/** The schema one step (a field name or an index) leads to from `schema`, through unions. */
function stepInto(schema: unknown, key: PathKey): unknown {
  const current = unwrap(schema);
  if (current instanceof z.ZodObject) return (current.shape as Record<string, unknown>)[String(key)];
  if (current instanceof z.ZodArray) return typeof key === 'number' ? current.element : undefined;
  if (current instanceof z.ZodUnion) {
    for (const option of current.options as unknown[]) {
      const found = stepInto(option, key);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/** The schema a path leads to inside the workflow file schema, if any. */
function schemaAt(path: readonly PathKey[]): unknown {
  let current: unknown = workflowFileSchema;
  for (const key of path) {
    current = stepInto(current, key);
    if (current === undefined) return undefined;
  }
  return unwrap(current);
}

/** `object`, `array`, `string`, `number` or `other`: of a value, or (`schema`) of what a schema takes. */
function kindOf(value: unknown, schema = false): string {
  if (schema) {
    const option = unwrap(value);
    if (option instanceof z.ZodObject) return 'object';
    if (option instanceof z.ZodArray) return 'array';
    if (option instanceof z.ZodString) return 'string';
    if (option instanceof z.ZodNumber) return 'number';
    return 'other';
  }
  if (Array.isArray(value)) return 'array';
  if (value !== null && ['object', 'string', 'number'].includes(typeof value)) return typeof value;
  return 'other';
}

/** What a union's option is, for "expected ... or ...": `an object { ms }`, `an array`. */
function describeOption(option: unknown): string {
  const schema = unwrap(option);
  if (schema instanceof z.ZodObject) return `an object { ${Object.keys(schema.shape).join(', ')} }`;
  if (schema instanceof z.ZodArray) return 'an array';
  if (schema instanceof z.ZodString) return 'a string';
  if (schema instanceof z.ZodNumber) return schema.isInt ? 'an integer' : 'a number';
  return 'something else';
}

const isIntegerAt = (path: readonly PathKey[]) => {
  const schema = schemaAt(path);
  return schema instanceof z.ZodNumber && schema.isInt;
};

/** `tasks[2].priority`; the empty path is the whole file. */
function formatPath(path: readonly PathKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out;
}

/** What a value is, for "got ..." in messages. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string')
    return value.length > 40
      ? `${JSON.stringify(`${value.slice(0, 40)}...`)} (${value.length} characters)`
      : JSON.stringify(value);
  return String(value);
}

const KIND_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'a boolean',
  array: 'an array',
  object: 'an object',
  record: 'an object',
};

function bound(issue: Extract<Issue, { code: 'too_small' | 'too_big' }>): string {
  const small = issue.code === 'too_small';
  const limit = Number(
    small ? (issue as { minimum: unknown }).minimum : (issue as { maximum: unknown }).maximum,
  );
  const op = small ? (issue.inclusive === false ? '>' : '>=') : issue.inclusive === false ? '<' : '<=';
  if (issue.origin === 'string' && small && limit === 1) return 'a non-empty string';
  if (issue.origin === 'array') {
    return `${small ? 'at least' : 'at most'} ${limit} item${limit === 1 ? '' : 's'}`;
  }
  if (issue.origin === 'string') {
    return `a string of ${small ? 'at least' : 'at most'} ${limit} character${limit === 1 ? '' : 's'}`;
  }
  const kind = issue.origin === 'int' || isIntegerAt(issue.path) ? 'an integer' : 'a number';
  return `${kind} ${op} ${limit}`;
}

/** What the schema at a path takes, in words, when it says so (`expectations`). */
function expectationAt(path: readonly PathKey[]) {
  const schema = schemaAt(path);
  return schema instanceof z.ZodType ? expectations.get(schema) : undefined;
}

/** One line for one zod issue: "field: expected X, got Y". */
export function describeIssue(issue: Issue): string {
  const where = formatPath(issue.path);
  const prefix = where === '' ? '' : `${where}: `;
  const expected = issue.code === 'unrecognized_keys' ? undefined : expectationAt(issue.path);
  if (expected !== undefined) {
    const params = issue.code === 'custom' ? (issue.params as { reason?: unknown } | undefined) : undefined;
    const reason = typeof params?.reason === 'string' ? ` (${params.reason})` : '';
    const got = describeValue(issue.input);
    return `${prefix}${expectedMessage(expected, `${got}${reason}`, issue.input === undefined)}`;
  }
  switch (issue.code) {
    case 'invalid_type': {
      const expected = issue.expected === 'number' && isIntegerAt(issue.path) ? 'int' : issue.expected;
      return `${prefix}expected ${KIND_NAMES[expected] ?? expected}, got ${describeValue(issue.input)}`;
    }
    case 'too_small':
    case 'too_big': {
      const got = Array.isArray(issue.input) ? `${issue.input.length} items` : describeValue(issue.input);
      return `${prefix}expected ${bound(issue)}, got ${got}`;
    }
    case 'invalid_value':
      return `${prefix}expected one of ${issue.values.map(String).join(', ')}, got ${describeValue(issue.input)}`;
    case 'invalid_format':
      if (
        issue.format === 'regex' &&
        'pattern' in issue &&
        String(issue.pattern) === String(SIGNAL_NAME_PATTERN)
      ) {
        return `${prefix}expected a signal name (1-128 letters, digits, _ . : and -, not starting with . : or -), got ${describeValue(issue.input)}`;
      }
      if (issue.format === 'regex' && 'pattern' in issue) {
        return `${prefix}expected a string matching ${String(issue.pattern)}, got ${describeValue(issue.input)}`;
      }
      return `${prefix}${issue.message}`;
    case 'unrecognized_keys': {
      const schema = schemaAt(issue.path);
      const objects = schema instanceof z.ZodUnion ? (schema.options as unknown[]).map(unwrap) : [schema];
      const known = [
        ...new Set(
          objects.flatMap((option) => (option instanceof z.ZodObject ? Object.keys(option.shape) : [])),
        ),
      ].join(', ');
      return issue.keys
        .map((key) => `${formatPath([...issue.path, key])}: unknown field; expected one of ${known}`)
        .join('\n');
    }
    case 'invalid_union': {
      const schema = schemaAt(issue.path);
      if (!(schema instanceof z.ZodUnion)) return `${prefix}${issue.message}`;
      // The one option of the value's kind (an object for an object...) says what is wrong in it.
      const kind = kindOf(issue.input);
      let matching = (schema.options as unknown[]).flatMap((option, i) =>
        kindOf(option, true) === kind ? [i] : [],
      );
      // Among objects ({ ms } or { until }), the one whose fields the value has.
      if (matching.length > 1 && kind === 'object') {
        const fields = Object.keys(issue.input as object);
        matching = matching.filter((i) => {
          const shape = (unwrap(schema.options[i]) as z.ZodObject).shape;
          return fields.length > 0 && fields.every((field) => field in shape);
        });
      }
      const branch = matching.length === 1 ? issue.errors[matching[0]!] : undefined;
      if (branch !== undefined && branch.length > 0) {
        return branch
          .map((inner) => describeIssue({ ...inner, path: [...issue.path, ...inner.path] } as Issue))
          .join('\n');
      }
      const options = (schema.options as unknown[]).map(describeOption);
      const expected =
        options.length <= 2
          ? options.join(' or ')
          : `${options.slice(0, -1).join(', ')} or ${options.at(-1)}`;
      const mixed = kind === 'object' ? mixedFields(schema, issue.input as object) : [];
      if (mixed.length > 1) {
        const both = mixed.length === 2 ? 'both ' : '';
        const fields = `${mixed.slice(0, -1).join(', ')} and ${mixed.at(-1)}`;
        return `${prefix}expected ${expected}, got an object with ${both}${fields}; it takes one of them, not both`;
      }
      return `${prefix}expected ${expected}, got ${describeValue(issue.input)}`;
    }
    default:
      return `${prefix}${issue.message}`;
  }
}

/**
 * The fields of a value that belong to different object options of a union (`ms` and `until` of
 * `{ ms } | { until }`), in the value's order; [] unless each of its fields is some option's and no
 * option has them all.
 */
function mixedFields(union: z.ZodUnion, value: object): string[] {
  const shapes = (union.options as unknown[]).flatMap((option) => {
    const schema = unwrap(option);
    return schema instanceof z.ZodObject ? [schema.shape as Record<string, unknown>] : [];
  });
  const fields = Object.keys(value);
  if (!fields.every((field) => shapes.some((shape) => field in shape))) return [];
  if (shapes.some((shape) => fields.every((field) => field in shape))) return [];
  // The fields that tell the options apart: not in every one of them (`per` of rate limits is).
  return fields.filter((field) => !shapes.every((shape) => field in shape));
}
