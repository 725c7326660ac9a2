import { InvalidArgumentError, InvalidStateError } from '../errors/errors.js';
import { statusValues, type EntitySpec } from './entities.js';

/** A status column got a value outside the CHECK constraint's list. */
export function statusViolation<T extends { id: string }>(
  spec: EntitySpec<T>,
  field: string,
  id: string | undefined,
  value: unknown,
): InvalidArgumentError {
  const which = id === undefined ? '' : ` (${spec.entity} ${JSON.stringify(id)})`;
  const got = value === undefined ? 'undefined' : JSON.stringify(value);
  return new InvalidArgumentError(
    `Expected \`${spec.entity}.${field}\` to be one of ${statusValues(spec).join(', ')}, got ${got}${which}`,
    { details: { entity: spec.entity, field, id, value } },
  );
}

/**
 * Another row already holds this value of a unique field (a task's `idempotencyKey`). Callers that
 * race on an idempotency key catch this (`code === 'INVALID_STATE'`, `details.field`) and read the
 * existing row.
 */
export function uniqueViolation<T extends { id: string }>(
  spec: EntitySpec<T>,
  field: string,
  value: unknown,
): InvalidStateError {
  return new InvalidStateError(`A ${spec.entity} with ${field} ${JSON.stringify(value)} already exists`, {
    entity: spec.entity,
    field,
    value,
  });
}

/** A SQL constraint other than status or uniqueness rejected a row (NOT NULL, a type, a range). */
export function rowRejected<T extends { id: string }>(
  spec: EntitySpec<T>,
  id: string | undefined,
  reason: string,
  cause: unknown,
): InvalidArgumentError {
  const which = id === undefined ? `a ${spec.entity}` : `${spec.entity} ${JSON.stringify(id)}`;
  return new InvalidArgumentError(`Expected ${which} to fit the ${spec.table} table, but ${reason}`, {
    cause,
    details: { entity: spec.entity, id },
  });
}
