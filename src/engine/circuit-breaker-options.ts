import type { CircuitBreakerOptions } from '../../machines/circuit-breaker.machine.js';
import { InvalidArgumentError } from '../errors/errors.js';
import { expectInteger, expectKnownKeys, isArray, show } from './validate-ids.js';

const FIELDS = ['failureThreshold', 'windowMs', 'cooldownMs', 'halfOpenProbes'] as const;

/**
 * Checks `circuitBreaker` options (of an agent config, or of an agent defined in code) and fills in
 * the defaults (5 failures in 60 s, 30 s cool-down, 1 probe); an unknown field is refused.
 */
export function expectCircuitBreaker(value: unknown, name = 'circuitBreaker'): CircuitBreakerOptions {
  if (typeof value !== 'object' || value === null || isArray(value))
    throw new InvalidArgumentError(`Expected \`${name}\` to be an object, got ${show(value)}`);
  const fields = { ...value } as Record<string, unknown>;
  expectKnownKeys(name, fields, FIELDS);
  return {
    failureThreshold: expectInteger(`${name}.failureThreshold`, fields.failureThreshold, 5, 1),
    windowMs: expectInteger(`${name}.windowMs`, fields.windowMs, 60_000, 1),
    cooldownMs: expectInteger(`${name}.cooldownMs`, fields.cooldownMs, 30_000, 0),
    halfOpenProbes: expectInteger(`${name}.halfOpenProbes`, fields.halfOpenProbes, 1, 1),
  };
}
