/**
 * Freezes `value` and everything it holds, in place, and returns it; an object already frozen is
 * taken as frozen through (payloads are frozen whole, once).
 */
export function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  Object.freeze(value);
  for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  return value;
}
