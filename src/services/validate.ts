import { InvalidArgumentError } from '../errors/errors.js';

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint' || typeof value === 'symbol') return value.toString();
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}

export function expectId(name: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 256) {
    throw new InvalidArgumentError(
      `Expected \`${name}\` to be a non-empty string of at most 256 characters, got ${show(value)}`,
    );
  }
  return value;
}

export function expectString(name: string, value: unknown, fallback?: string): string {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'string')
    throw new InvalidArgumentError(`Expected \`${name}\` to be a string, got ${show(value)}`);
  return value;
}

export function expectRecord(name: string, value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidArgumentError(`Expected \`${name}\` to be an object, got ${show(value)}`);
  }
  return value as Record<string, unknown>;
}

export function expectStrings(name: string, value: unknown): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
    throw new InvalidArgumentError(`Expected \`${name}\` to be an array of strings, got ${show(value)}`);
  }
  return [...(value as string[])];
}

export function expectInteger(name: string, value: unknown, fallback: number, min = -Infinity): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    const range = min === -Infinity ? '' : ` >= ${min}`;
    throw new InvalidArgumentError(`Expected \`${name}\` to be an integer${range}, got ${show(value)}`);
  }
  return value;
}

export function expectOptions(name: string, value: unknown): Record<string, unknown> {
  return expectRecord(name, value);
}
