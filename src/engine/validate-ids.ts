import { InvalidArgumentError } from '../errors/errors.js';
import { unstorableText } from './payload.js';

/**
 * The argument checks engine/ needs itself (ids in the engine options and the registry). The
 * services' other checks (src/services/validate.ts) build on these; engine/ never imports services/.
 */

/** A value as an error message shows it: strings quoted and cut at 200 characters, objects by kind. */
export function show(value: unknown): string {
  if (typeof value === 'string')
    return value.length > 200
      ? `${JSON.stringify(value.slice(0, 200))}... (${value.length} characters)`
      : JSON.stringify(value);
  if (typeof value === 'bigint' || typeof value === 'symbol') return value.toString();
  if (value === null || typeof value !== 'object') return String(value);
  return isArray(value) ? 'an array' : 'an object';
}

/** Array.isArray, which throws for a revoked Proxy: that one counts as no array here. */
export function isArray(value: object): boolean {
  try {
    return Array.isArray(value);
  } catch {
    return false;
  }
}

/** Names, descriptions and ids are stored as text columns: every store must give them back unchanged. */
export function expectStorable(name: string, value: string): string {
  const problem = unstorableText(value);
  if (problem) {
    throw new InvalidArgumentError(
      `Expected \`${name}\` to be a string of well-formed Unicode without NUL characters, got ${show(value)}, which holds ${problem}`,
      { details: { field: name } },
    );
  }
  return value;
}

export function expectId(name: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 256) {
    throw new InvalidArgumentError(
      `Expected \`${name}\` to be a non-empty string of at most 256 characters, got ${show(value)}`,
    );
  }
  return expectStorable(name, value);
}

export function expectInteger(name: string, value: unknown, fallback: number, min = -Infinity): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    const range = min === -Infinity ? '' : ` >= ${min}`;
    throw new InvalidArgumentError(`Expected \`${name}\` to be an integer${range}, got ${show(value)}`);
  }
  return value;
}

/**
 * Refuses a key of an options object not in `known`, naming it (`Unknown field \`retry.maxAtempts\``);
 * `name` '' for the top-level options of a call.
 */
export function expectKnownKeys(name: string, value: object, known: readonly string[]): void {
  const unknown = Object.keys(value).find((key) => !known.includes(key));
  if (unknown !== undefined) {
    const field = name === '' ? unknown : `${name}.${unknown}`;
    throw new InvalidArgumentError(`Unknown field \`${field}\`; expected ${known.join(', ')}`, {
      details: { field },
    });
  }
}
