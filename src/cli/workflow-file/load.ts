import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { CliUsageError } from '../cli-error.js';
import { workflowFileSchema, type WorkflowFile } from './schema.js';

type Issue = z.core.$ZodIssue & { input?: unknown };
type PathKey = PropertyKey;

const unwrap = (schema: unknown): unknown => (schema instanceof z.ZodOptional ? schema.unwrap() : schema);

/** The schema a path leads to inside the workflow file schema, if any. */
function schemaAt(path: readonly PathKey[]): unknown {
  let current: unknown = workflowFileSchema;
  for (const key of path) {
    current = unwrap(current);
    if (current instanceof z.ZodObject) current = (current.shape as Record<string, unknown>)[String(key)];
    else if (current instanceof z.ZodArray) current = current.element;
    else return undefined;
  }
  return unwrap(current);
}

const isIntegerAt = (path: readonly PathKey[]) => {
  const schema = schemaAt(path);
  return schema instanceof z.ZodNumber && schema.isInt;
};

/** `tasks[2].priority`; the empty path is the whole file. */
export function formatPath(path: readonly PathKey[]): string {
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
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
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
  const kind =
    issue.origin === 'int' || isIntegerAt(issue.path)
      ? 'an integer'
      : issue.origin === 'string'
        ? 'a string length'
        : 'a number';
  return `${kind} ${op} ${limit}`;
}

/** One line for one zod issue: "field: expected X, got Y". */
export function describeIssue(issue: Issue): string {
  const where = formatPath(issue.path);
  const prefix = where === '' ? '' : `${where}: `;
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
    case 'unrecognized_keys': {
      const schema = schemaAt(issue.path);
      const known = schema instanceof z.ZodObject ? Object.keys(schema.shape).join(', ') : '';
      return issue.keys
        .map((key) => `${formatPath([...issue.path, key])}: unknown field; expected one of ${known}`)
        .join('\n');
    }
    default:
      return `${prefix}${issue.message}`;
  }
}

/** Line and column (from 1) of a character offset. */
function lineAndColumn(text: string, offset: number): { line: number; col: number } {
  const before = text.slice(0, Math.max(0, offset)).split('\n');
  return { line: before.length, col: before.at(-1)!.length + 1 };
}

/** The line of `at` and a caret under its column, indented, tabs shown as spaces. */
function codeFrame(text: string, at: { line: number; col: number }): string {
  const line = (text.split(/\r?\n/)[at.line - 1] ?? '').replace(/\t/g, ' ');
  return `  ${truncateLine(line, 100)}\n  ${' '.repeat(Math.min(at.col - 1, 100))}^`;
}

const truncateLine = (line: string, width: number) =>
  line.length <= width ? line : `${line.slice(0, width)}…`;

/** Parses JSON (`.json`) or YAML (anything else; YAML also reads JSON). */
export function parseWorkflowText(text: string, file: string): unknown {
  if (extname(file).toLowerCase() === '.json') {
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      throw new CliUsageError(`${file}: not valid JSON: ${(error as Error).message}`);
    }
  }
  const document = parseDocument(text, { prettyErrors: false });
  const [first] = document.errors;
  if (first) {
    const at = first.linePos?.[0] ?? lineAndColumn(text, first.pos[0]);
    const more = document.errors.length - 1;
    throw new CliUsageError(
      `${file}:${at.line}:${at.col}: not valid YAML at line ${at.line}, column ${at.col}: ${first.message}` +
        `${more > 0 ? ` (and ${more} more error${more === 1 ? '' : 's'})` : ''}\n${codeFrame(text, at)}`,
    );
  }
  return document.toJS() as unknown;
}

/** Checks a parsed workflow file; the error lists every problem with its field path. */
export function validateWorkflowFile(data: unknown, file: string): WorkflowFile {
  const result = workflowFileSchema.safeParse(data, { reportInput: true });
  if (result.success) return result.data;
  const lines = result.error.issues.flatMap((issue) => describeIssue(issue as Issue).split('\n'));
  const body = lines.length === 1 ? ` ${lines[0]}` : `\n${lines.map((line) => `  ${line}`).join('\n')}`;
  throw new CliUsageError(`${file}: invalid workflow file:${body}`);
}

/** Reads, parses and validates a workflow file. */
export async function loadWorkflowFile(file: string, shownAs: string = file): Promise<WorkflowFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EISDIR') {
      throw new CliUsageError(`${shownAs}: expected a workflow file (.json, .yaml or .yml), got a directory`);
    }
    const reason = code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw new CliUsageError(`${shownAs}: cannot read the workflow file: ${reason}`);
  }
  return validateWorkflowFile(parseWorkflowText(text, shownAs), shownAs);
}
