import type { AttemptError } from '../domain/task.js';

const MAX_MESSAGE = 4_096;
const MAX_STACK = 16_384;

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}... (${text.length - max} more characters)` : text;
}

function safeString(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'symbol') return value.toString();
  try {
    const json = JSON.stringify(value);
    if (typeof json === 'string') return json;
  } catch {
    // circular or throwing toJSON: fall through
  }
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

function readString(source: object, key: string): string | undefined {
  try {
    const value = (source as Record<string, unknown>)[key];
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Turns anything thrown (`undefined`, strings, circular objects, Symbols, Errors whose getters
 * throw) into plain, size-capped data.
 */
export function normalizeError(
  thrown: unknown,
  attempt: number,
  at: number,
  retryable: boolean,
): AttemptError {
  let name = 'Error';
  let message: string;
  let stack: string | undefined;
  let code: string | undefined;
  if (thrown !== null && typeof thrown === 'object') {
    name = readString(thrown, 'name') ?? 'Error';
    message = readString(thrown, 'message') ?? safeString(thrown);
    stack = readString(thrown, 'stack');
    code = readString(thrown, 'code');
  } else if (thrown === undefined) {
    message = 'undefined was thrown';
  } else {
    message = safeString(thrown);
  }
  const error: AttemptError = {
    name: clip(name, 200),
    message: clip(message, MAX_MESSAGE),
    attempt,
    at,
    retryable,
  };
  if (stack !== undefined) error.stack = clip(stack, MAX_STACK);
  if (code !== undefined) error.code = clip(code, 200);
  return error;
}
