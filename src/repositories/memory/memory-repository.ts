import { DuplicateIdError, InvalidArgumentError } from '../../errors/errors.js';
import type { Query, Repository, Where } from '../repository.js';

function deepFreeze(value: unknown): void {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return;
  Object.freeze(value);
  for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
}

/**
 * Rows are kept as top-level copies whose nested values (payloads, arrays, error records) are
 * deep-frozen and shared: writing or reading a row copies one level, not the whole payload.
 */
function copy<T extends object>(entity: T): T {
  const row = { ...entity };
  for (const key of Object.keys(row) as (keyof T)[]) {
    const value = row[key];
    if (typeof value === 'object' && value !== null) {
      if (Array.isArray(value)) {
        for (const item of value) deepFreeze(item);
        row[key] = [...value] as T[keyof T];
      } else {
        deepFreeze(value);
      }
    }
  }
  return row;
}

function matches<T>(entity: T, where: Where<T> | undefined): boolean {
  if (!where) return true;
  for (const key of Object.keys(where) as (keyof T)[]) {
    if (entity[key] !== where[key]) return false;
  }
  return true;
}

function compare(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === null || a === undefined) return -1;
  if (b === null || b === undefined) return 1;
  return (a as number | string) < (b as number | string) ? -1 : 1;
}

/**
 * Keeps entities in a Map, in insertion order. Rows go in and come out as one-level copies; nested
 * objects are frozen on the way in, so no caller can change what is stored.
 */
export class MemoryRepository<T extends { id: string }> implements Repository<T> {
  private readonly rows = new Map<string, T>();

  constructor(private readonly entity = 'entity') {}

  async get(id: string): Promise<T | undefined> {
    const row = this.rows.get(id);
    return row === undefined ? undefined : copy(row);
  }

  async find(query: Query<T> = {}): Promise<T[]> {
    const { where, orderBy, descending = false, limit, offset = 0 } = query;
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) {
      throw new InvalidArgumentError(`Expected \`limit\` to be an integer >= 0, got ${String(limit)}`);
    }
    let rows: T[] = [];
    for (const row of this.rows.values()) if (matches(row, where)) rows.push(row);
    if (orderBy !== undefined) {
      rows.sort((a, b) => compare(a[orderBy], b[orderBy]) * (descending ? -1 : 1));
    } else if (descending) {
      rows.reverse();
    }
    rows = rows.slice(offset, limit === undefined ? undefined : offset + limit);
    return rows.map(copy);
  }

  async count(where?: Where<T>): Promise<number> {
    if (!where) return this.rows.size;
    let n = 0;
    for (const row of this.rows.values()) if (matches(row, where)) n += 1;
    return n;
  }

  async create(entity: T): Promise<T> {
    if (this.rows.has(entity.id)) throw new DuplicateIdError(this.entity, entity.id);
    this.rows.set(entity.id, copy(entity));
    return copy(entity);
  }

  async saveMany(entities: readonly T[]): Promise<void> {
    const copies = entities.map(copy);
    for (const row of copies) this.rows.set(row.id, row);
  }

  async delete(id: string): Promise<boolean> {
    return this.rows.delete(id);
  }
}
