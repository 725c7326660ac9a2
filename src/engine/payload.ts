import type { ErrorCode } from '../errors/codes.js';
import { PayloadTooLargeError, SerializationError } from '../errors/errors.js';

type Code = typeof ErrorCode.INPUT_NOT_SERIALIZABLE | typeof ErrorCode.OUTPUT_NOT_SERIALIZABLE;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'object without prototype';
  return typeof value;
}

/** The first place where `value` holds something JSON cannot carry faithfully, or null. */
function findUnfaithful(value: unknown, path: string, seen: Set<object>): string | null {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return null;
    case 'number':
      return Number.isFinite(value) ? null : `${path} is ${String(value)}`;
    case 'object': {
      if (value === null) return null;
      if (seen.has(value)) return `${path} is circular`;
      const proto: unknown = Object.getPrototypeOf(value);
      const isArray = Array.isArray(value);
      if (!isArray && proto !== Object.prototype && proto !== null) return `${path} is a ${describe(value)}`;
      seen.add(value);
      if (isArray) {
        for (let i = 0; i < value.length; i += 1) {
          const found = findUnfaithful(value[i], `${path}[${i}]`, seen);
          if (found) return found;
        }
      } else {
        for (const key of Object.keys(value)) {
          const found = findUnfaithful((value as Record<string, unknown>)[key], `${path}.${key}`, seen);
          if (found) return found;
        }
      }
      seen.delete(value);
      return null;
    }
    default:
      return `${path} is ${typeof value === 'function' ? 'a function' : `a ${typeof value}`}`;
  }
}

const encoder = new TextEncoder();

/** UTF-8 length of a string: Buffer where Node has it, TextEncoder elsewhere (browsers). */
function utf8Length(text: string): number {
  return typeof Buffer === 'function' ? Buffer.byteLength(text, 'utf8') : encoder.encode(text).length;
}

/**
 * Checks that `value` survives JSON unchanged and fits in `limit` bytes; returns its JSON size.
 * Throws INPUT_NOT_SERIALIZABLE / OUTPUT_NOT_SERIALIZABLE or PAYLOAD_TOO_LARGE.
 */
export function checkPayload(value: unknown, field: string, limit: number, code: Code): number {
  if (value === undefined) return 0;
  const problem = findUnfaithful(value, field, new Set());
  if (problem) {
    throw new SerializationError(code, `Expected ${field} to be plain JSON data, but ${problem}`, { field });
  }
  const bytes = utf8Length(JSON.stringify(value));
  if (bytes > limit) throw new PayloadTooLargeError(field, bytes, limit);
  return bytes;
}
