import type { AttemptError } from '../domain/task.js';
import { SymphonyError } from './symphony-error.js';

const MAX_MESSAGE = 4_096;
const MAX_STACK = 16_384;
/** Largest `details` kept on an attempt error, as JSON characters; larger ones have their strings clipped. */
const MAX_DETAILS = 8_192;
const MAX_DETAIL_STRING = 1_024;
/** Most token counters kept from an attempt's `context.metadata.usage`. */
const MAX_USAGE_KEYS = 16;

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
    // no prototype, or a Proxy whose traps throw: fall through
  }
  try {
    return Object.prototype.toString.call(value);
  } catch {
    return 'a value that cannot be shown';
  }
}

function readDetails(source: SymphonyError): Record<string, unknown> {
  try {
    const details = source.details;
    return details !== null && typeof details === 'object' ? details : {};
  } catch {
    return {};
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

/** A JSON copy of `value` with every string clipped to `max` characters. */
function clipStrings(value: unknown, max: number): unknown {
  if (typeof value === 'string') return clip(value, max);
  if (Array.isArray(value)) return value.map((item) => clipStrings(item, max));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, clipStrings(item, max)]));
  }
  return value;
}

/**
 * A Symphony error's `details` as plain JSON of at most MAX_DETAILS characters: long strings (a
 * response body) are clipped first, then keys that do not fit are left out (`omittedKeys` counts
 * them); details that are not JSON become `{ unserializable: true }`.
 */
function safeDetails(details: Record<string, unknown>): Record<string, unknown> | undefined {
  let json: string | undefined;
  try {
    json = JSON.stringify(details);
  } catch {
    return { unserializable: true };
  }
  if (json === undefined || json === '{}') return undefined;
  let copy = JSON.parse(json) as Record<string, unknown>;
  if (json.length <= MAX_DETAILS) return copy;
  copy = clipStrings(copy, MAX_DETAIL_STRING) as Record<string, unknown>;
  if (JSON.stringify(copy).length <= MAX_DETAILS) return copy;
  const kept: Record<string, unknown> = {};
  let size = 2;
  let omitted = 0;
  for (const [key, value] of Object.entries(copy)) {
    const part = JSON.stringify(key).length + JSON.stringify(value).length + 2;
    if (size + part > MAX_DETAILS - 32) omitted += 1;
    else {
      kept[key] = value;
      size += part;
    }
  }
  kept.omittedKeys = omitted;
  return kept;
}

/**
 * The token counts an agent left in its attempt's `context.metadata.usage` (see symphony-engine/ai),
 * when they are there: numbers and nulls only, so they can be summed over attempts.
 */
export function attemptUsage(metadata: Record<string, unknown> | null | undefined): AttemptError['usage'] {
  const usage = metadata?.usage;
  if (usage === null || typeof usage !== 'object' || Array.isArray(usage)) return undefined;
  const counts: Record<string, number | null> = {};
  let kept = 0;
  for (const [key, value] of Object.entries(usage)) {
    if (kept === MAX_USAGE_KEYS) break;
    if (value === null || (typeof value === 'number' && Number.isFinite(value))) {
      counts[clip(key, 64)] = value;
      kept += 1;
    }
  }
  return Object.values(counts).some((value) => value !== null) ? counts : undefined;
}

/**
 * The `name` and `message` of anything thrown (`undefined`, strings, objects without a prototype,
 * Errors whose getters throw, Proxies whose traps throw), read once, size-capped; never throws.
 * Every place that reports a value thrown by user code (agents, hooks, conditions, lists, loop
 * conditions) describes it with this.
 */
export function describeThrown(thrown: unknown): { name: string; message: string } {
  let name = 'Error';
  let message: string;
  if (thrown !== null && typeof thrown === 'object') {
    name = readString(thrown, 'name') ?? 'Error';
    message = readString(thrown, 'message') ?? safeString(thrown);
  } else if (thrown === undefined) {
    message = 'undefined was thrown';
  } else {
    message = safeString(thrown);
  }
  return { name: clip(name, 200), message: clip(message, MAX_MESSAGE) };
}

/**
 * Turns anything thrown (see `describeThrown`) into plain, size-capped data. A Symphony error's
 * `details` (a provider's status code and response body...) are kept as JSON; `metadata` is the
 * attempt's context metadata, whose token `usage` is kept when an agent reported it before failing.
 */
export function normalizeError(
  thrown: unknown,
  attempt: number,
  at: number,
  retryable: boolean,
  metadata?: Record<string, unknown> | null,
): AttemptError {
  const error: AttemptError = { ...describeThrown(thrown), attempt, at, retryable };
  if (thrown !== null && typeof thrown === 'object') {
    const stack = readString(thrown, 'stack');
    const code = readString(thrown, 'code');
    if (stack !== undefined) error.stack = clip(stack, MAX_STACK);
    if (code !== undefined) error.code = clip(code, 200);
  }
  const details = SymphonyError.isInstance(thrown) ? safeDetails(readDetails(thrown)) : undefined;
  if (details !== undefined) error.details = details;
  const usage = attemptUsage(metadata);
  if (usage !== undefined) error.usage = usage;
  return error;
}
