import { expectStorable, isArray, show } from '../engine/validate-ids.js';
import { InvalidArgumentError } from '../errors/errors.js';
import { describeThrown } from '../errors/normalize.js';

export { expectId, expectInteger, expectKnownKeys } from '../engine/validate-ids.js';

export function expectString(name: string, value: unknown, fallback?: string): string {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'string')
    throw new InvalidArgumentError(`Expected \`${name}\` to be a string, got ${show(value)}`);
  return expectStorable(name, value);
}

/** An object argument; payloads (inputData, metadata) are then read by copyPayload. */
export function expectRecord(name: string, value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || isArray(value)) {
    throw new InvalidArgumentError(`Expected \`${name}\` to be an object, got ${show(value)}`);
  }
  return value as Record<string, unknown>;
}

/**
 * An object of named arguments (the input of createTask...), read once: a getter or Proxy trap
 * that throws gives INVALID_ARGUMENT, and later reads see the same values.
 */
export function expectFields(name: string, value: unknown): Record<string, unknown> {
  const record = expectRecord(name, value);
  try {
    return { ...record };
  } catch (error) {
    throw new InvalidArgumentError(
      `Expected \`${name}\` to be an object whose fields can be read, but reading it threw: ${describeThrown(error).message}`,
      { cause: error },
    );
  }
}

export function expectStrings(name: string, value: unknown): string[] {
  if (value === undefined) return [];
  let copy: unknown[] | null = null;
  try {
    if (Array.isArray(value)) copy = [...(value as unknown[])];
  } catch {
    // a Proxy whose traps throw: not an array of strings
  }
  if (copy === null || !copy.every((item) => typeof item === 'string')) {
    throw new InvalidArgumentError(`Expected \`${name}\` to be an array of strings, got ${show(value)}`);
  }
  return copy as string[];
}

/** An optional boolean: undefined when not given. */
export function expectBoolean(name: string, value: unknown): boolean | undefined {
  if (value === undefined || typeof value === 'boolean') return value;
  throw new InvalidArgumentError(`Expected \`${name}\` to be a boolean, got ${JSON.stringify(value)}`);
}

export function expectOptions(name: string, value: unknown): Record<string, unknown> {
  return expectRecord(name, value);
}
