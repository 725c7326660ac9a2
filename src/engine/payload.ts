import type { ErrorCode } from '../errors/codes.js';
import { PayloadTooLargeError, SerializationError } from '../errors/errors.js';
import { describeThrown } from '../errors/normalize.js';

type Code = typeof ErrorCode.INPUT_NOT_SERIALIZABLE | typeof ErrorCode.OUTPUT_NOT_SERIALIZABLE;

/**
 * The deepest nesting of objects and arrays a payload (inputData, outputData, metadata) may have;
 * the payload itself is level 1. Deeper data is refused with INPUT_NOT_SERIALIZABLE or
 * OUTPUT_NOT_SERIALIZABLE before anything is stored.
 */
export const MAX_PAYLOAD_DEPTH = 256;

/** Stands for "no value": the walk stopped, and `Walk.problem` says why. */
const STOP: unique symbol = Symbol('stop');

/** State of one copy: the containers being copied (for cycles and depth), and the failure. */
interface Walk {
  readonly ancestors: object[];
  /** What is wrong with the value at `path`, said after its path ("is a function"). */
  problem: string;
  /** Keys from the failing value up to the payload, filled as the walk unwinds. */
  readonly path: Array<string | number>;
  /** Largest payload, in bytes of JSON. */
  readonly limit: number;
  /**
   * A lower bound of the payload's JSON size so far (a string's quotes and one byte per UTF-16
   * unit, an array's brackets and commas): past `limit`, the walk stops without going further, so
   * a huge string or sparse array is refused before it is walked or stringified.
   */
  minBytes: number;
  readonly field: string;
}

function spend(walk: Walk, bytes: number): void {
  walk.minBytes += bytes;
  if (walk.minBytes > walk.limit) throw new PayloadTooLargeError(walk.field, walk.minBytes, walk.limit, true);
}

/** `name: message` of an object thrown by a getter or trap; the message alone of anything else. */
function thrownText(error: unknown): string {
  const { name, message } = describeThrown(error);
  return typeof error === 'object' && error !== null ? `${name}: ${message}` : message;
}

function describeClass(value: object): string {
  const name: unknown = (value as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === 'string' && name !== '' ? `an object of class ${name}` : 'an object of a class';
}

function copyValue(value: unknown, walk: Walk): unknown {
  switch (typeof value) {
    case 'string':
      spend(walk, value.length + 2);
      return value;
    case 'boolean':
    case 'undefined':
      return value;
    case 'number':
      if (Number.isFinite(value)) return value === 0 ? 0 : value; // -0 is stored as 0 everywhere
      walk.problem = `is ${String(value)}`;
      return STOP;
    case 'object':
      return value === null ? null : copyContainer(value, walk);
    case 'function':
      walk.problem = 'is a function';
      return STOP;
    default:
      walk.problem = `is a ${typeof value}`;
      return STOP;
  }
}

function copyContainer(value: object, walk: Walk): unknown {
  const ancestors = walk.ancestors;
  if (ancestors.includes(value)) {
    walk.problem = 'is circular (it contains itself)';
    return STOP;
  }
  if (ancestors.length >= MAX_PAYLOAD_DEPTH) {
    walk.problem = `is nested deeper than ${MAX_PAYLOAD_DEPTH} levels of objects and arrays`;
    return STOP;
  }
  ancestors.push(value);
  // Getters and Proxy traps run user code while the value is read: whatever they throw is the
  // payload's fault, reported with the key that was being read.
  let key: string | number | undefined;
  try {
    if (Array.isArray(value)) {
      const length = value.length;
      spend(walk, length + 1);
      const out: unknown[] = new Array(length);
      for (let i = 0; i < length; i += 1) {
        key = i;
        const item = copyValue(value[i], walk);
        if (item === STOP) {
          walk.path.push(i);
          return STOP;
        }
        out[i] = item === undefined ? null : item; // as JSON.stringify does
      }
      return out;
    }
    const proto: unknown = Object.getPrototypeOf(value);
    // A plain object's prototype is Object.prototype, of this realm or another (node:vm, iframes).
    if (proto !== Object.prototype && proto !== null && Object.getPrototypeOf(proto) !== null) {
      walk.problem = `is ${describeClass(value)}`;
      return STOP;
    }
    const out: Record<string, unknown> = {};
    for (const name of Object.keys(value)) {
      key = name;
      const item = copyValue((value as Record<string, unknown>)[name], walk);
      if (item === STOP) {
        walk.path.push(name);
        return STOP;
      }
      if (item === undefined) continue; // dropped, as JSON.stringify does
      if (name === '__proto__') {
        Object.defineProperty(out, name, {
          value: item,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      } else {
        out[name] = item;
      }
    }
    return out;
  } catch (error) {
    if (error instanceof PayloadTooLargeError) throw error;
    if (key !== undefined) walk.path.push(key);
    walk.problem = `could not be read (${thrownText(error)})`;
    return STOP;
  } finally {
    ancestors.pop();
  }
}

function showPath(field: string, path: ReadonlyArray<string | number>): string {
  const segments = path.map((key) =>
    typeof key === 'number'
      ? `[${key}]`
      : /^[A-Za-z_$][\w$]*$/.test(key)
        ? `.${key}`
        : `[${JSON.stringify(key)}]`,
  );
  if (segments.length <= 12) return field + segments.join('');
  const hidden = segments.length - 10;
  return `${field}${segments.slice(0, 6).join('')}[...${hidden} more]${segments.slice(-4).join('')}`;
}

const encoder = new TextEncoder();

/** UTF-8 length of a string: Buffer where Node has it, TextEncoder elsewhere (browsers). */
function utf8Length(text: string): number {
  return typeof Buffer === 'function' ? Buffer.byteLength(text, 'utf8') : encoder.encode(text).length;
}

/**
 * Copies `value` as plain JSON data, in one walk that also checks it: what is stored is the copy,
 * so later changes to `value` (or a getter that answers differently next time) cannot reach it.
 * The copy is what `JSON.parse(JSON.stringify(value))` would give, except that anything JSON
 * would silently change is refused: functions, symbols, BigInts, NaN and infinities, class
 * instances (Date, Map...), cycles, nesting deeper than MAX_PAYLOAD_DEPTH, and values whose
 * getters or Proxy traps throw. Properties whose value is `undefined` are dropped, `undefined` in
 * arrays becomes `null`, `-0` becomes `0`; a top-level `undefined` is returned as `null`.
 * Throws INPUT_NOT_SERIALIZABLE / OUTPUT_NOT_SERIALIZABLE, or PAYLOAD_TOO_LARGE past `limit`
 * bytes of JSON.
 */
export function copyPayload(value: unknown, field: string, limit: number, code: Code): unknown {
  const walk: Walk = { ancestors: [], problem: '', path: [], limit, minBytes: 0, field };
  const copy = copyValue(value, walk);
  if (copy === STOP) {
    const where = showPath(field, walk.path.reverse());
    throw new SerializationError(
      code,
      `Expected ${field} to be plain JSON data, but ${where} ${walk.problem}`,
      {
        field,
        path: where,
      },
    );
  }
  if (copy === undefined) return null;
  let json: string;
  try {
    json = JSON.stringify(copy);
  } catch {
    // Longer than the longest string V8 can make (RangeError: Invalid string length).
    throw new PayloadTooLargeError(field, limit + 1, limit, true);
  }
  const bytes = utf8Length(json);
  if (bytes > limit) throw new PayloadTooLargeError(field, bytes, limit);
  return copy;
}

/** `copyPayload` for fields that must be objects (inputData, metadata). */
export function copyRecord(
  value: Record<string, unknown>,
  field: string,
  limit: number,
  code: Code,
): Record<string, unknown> {
  return copyPayload(value, field, limit, code) as Record<string, unknown>;
}

/**
 * `{ ...base, ...patch }` as plain JSON data: a key set to `undefined` in `patch` is removed.
 * Reading `patch` (getters, Proxy traps) can throw only the typed error.
 */
export function mergePayload(
  base: Record<string, unknown>,
  patch: Record<string, unknown>,
  field: string,
  limit: number,
  code: Code,
): Record<string, unknown> {
  let merged: Record<string, unknown>;
  try {
    merged = { ...base, ...patch };
  } catch (error) {
    throw new SerializationError(
      code,
      `Expected ${field} to be plain JSON data, but it could not be read (${thrownText(error)})`,
      { field, path: field },
    );
  }
  return copyRecord(merged, field, limit, code);
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Why `text` cannot be stored alike by every store as a name, description or id, or null.
 * SQLite and PostgreSQL keep text as UTF-8: a lone surrogate would come back as U+FFFD, and
 * PostgreSQL cannot hold NUL at all. (Inside JSON payloads both are escaped and kept.)
 */
export function unstorableText(text: string): string | null {
  const nul = text.indexOf('\u0000');
  if (nul !== -1) return `a NUL character (\\u0000) at index ${nul}`;
  const lone = LONE_SURROGATE.exec(text);
  if (lone) return `a lone surrogate (ill-formed UTF-16) at index ${lone.index}`;
  return null;
}
