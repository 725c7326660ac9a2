import { deepFreeze } from '../../domain/deep-freeze.js';
import { DuplicateIdError } from '../../errors/errors.js';
import { statusViolation, uniqueViolation } from '../constraint-errors.js';
import { statusValues, type EntitySpec } from '../entities.js';
import { resolvePage, resolveQuery, resolveWhere } from '../query.js';
import { distinctIds, type Query, type Repository, type Where } from '../repository.js';

/**
 * Rows are kept as top-level copies whose nested values (payloads, arrays, error records) are
 * deep-frozen and shared: writing or reading a row copies one level, not the whole payload.
 */
function copy<T extends object>(entity: T): T {
  const row = { ...entity };
  // for-in over a fresh literal's own keys: no key array allocated per row (rows are hot).
  for (const key in row) {
    const value = row[key];
    if (typeof value === 'object' && value !== null) {
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i += 1) deepFreeze(value[i]);
        row[key] = value.slice() as T[typeof key];
      } else {
        deepFreeze(value);
      }
    }
  }
  return row;
}

type Conditions = Array<[key: string, value: unknown]>;

function conditionsOf<T extends { id: string }>(
  spec: EntitySpec<T> | undefined,
  where: Where<T> | undefined,
): Conditions {
  if (spec) return resolveWhere(spec, where).map(({ field, value }) => [field.field, value]);
  return Object.entries(where ?? {}).filter(([, value]) => value !== undefined);
}

function matches<T>(entity: T, conditions: Conditions): boolean {
  for (const [key, value] of conditions) {
    if ((entity as Record<string, unknown>)[key] !== value) return false;
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
  /** For each unique field of the spec: value -> id of the row holding it. */
  private readonly uniqueIndexes = new Map<keyof T & string, Map<unknown, string>>();
  /** The spec's status fields, checked against its status values on every write. */
  private readonly statusFields: (keyof T & string)[];

  /**
   * @param entity Name used in messages ("a task with id ...").
   * @param spec When given, queries are checked against its allow-list of fields and rows against
   *   its constraints (status values, unique fields), as the SQL stores do.
   */
  constructor(
    private readonly entity = 'entity',
    private readonly spec?: EntitySpec<T>,
  ) {
    for (const key of spec?.unique ?? []) this.uniqueIndexes.set(key, new Map());
    this.statusFields = (spec?.fields ?? []).filter((f) => f.kind === 'status').map((f) => f.field);
  }

  async get(id: string): Promise<T | undefined> {
    const row = this.rows.get(id);
    return row === undefined ? undefined : copy(row);
  }

  async getMany(ids: readonly string[]): Promise<T[]> {
    const found: T[] = [];
    for (const id of distinctIds(ids)) {
      const row = this.rows.get(id);
      if (row !== undefined) found.push(copy(row));
    }
    return found;
  }

  async find(query: Query<T> = {}): Promise<T[]> {
    const { descending, limit, offset, after } = resolvePage(query);
    const key = this.spec ? resolveQuery(this.spec, query).orderBy?.field : query.orderBy;
    const conditions = conditionsOf(this.spec, query.where);
    let rows: T[] = [];
    for (const row of this.rows.values()) {
      if (after !== undefined && (descending ? row.id >= after : row.id <= after)) continue;
      if (matches(row, conditions)) rows.push(row);
    }
    if (key !== undefined) {
      rows.sort((a, b) => compare(a[key], b[key]) * (descending ? -1 : 1));
    } else if (descending) {
      rows.reverse();
    }
    rows = rows.slice(offset, limit === undefined ? undefined : offset + limit);
    return rows.map(copy);
  }

  async count(where?: Where<T>): Promise<number> {
    const conditions = conditionsOf(this.spec, where);
    if (conditions.length === 0) return this.rows.size;
    let n = 0;
    for (const row of this.rows.values()) if (matches(row, conditions)) n += 1;
    return n;
  }

  async create(entity: T): Promise<T> {
    if (this.rows.has(entity.id)) throw new DuplicateIdError(this.entity, entity.id);
    this.prepareSave([entity])();
    return copy(entity);
  }

  /** The stored rows (frozen, not copied) that `keep` accepts, at once. */
  rowsWhere(keep: (row: T) => boolean): T[] {
    const rows: T[] = [];
    for (const row of this.rows.values()) if (keep(row)) rows.push(row);
    return rows;
  }

  /** The stored row itself (not a copy), for the store's own writes; callers must not change it. */
  peek(id: string): T | undefined {
    return this.rows.get(id);
  }

  async saveMany(entities: readonly T[]): Promise<void> {
    this.prepareSave(entities)();
  }

  /**
   * Checks `entities` against the spec's constraints and returns the function that writes them,
   * so a store can check a whole batch before writing any of it.
   */
  prepareSave(entities: readonly T[]): () => void {
    const copies = entities.map(copy);
    this.check(copies);
    return () => {
      for (const row of copies) this.put(row);
    };
  }

  async delete(id: string): Promise<boolean> {
    const row = this.rows.get(id);
    if (row === undefined) return false;
    this.unindex(row);
    return this.rows.delete(id);
  }

  private put(row: T): void {
    const previous = this.rows.get(row.id);
    if (previous !== undefined) this.unindex(previous);
    this.rows.set(row.id, row);
    for (const [key, index] of this.uniqueIndexes) {
      const value = row[key];
      if (value !== null && value !== undefined) index.set(value, row.id);
    }
  }

  private unindex(row: T): void {
    for (const [key, index] of this.uniqueIndexes) {
      const value = row[key];
      if (index.get(value) === row.id) index.delete(value);
    }
  }

  /** Applies the rows in order to a scratch view of the unique indexes, as a transaction would. */
  private check(rows: readonly T[]): void {
    if (!this.spec) return;
    const statuses = statusValues(this.spec);
    for (const field of this.statusFields) {
      for (const row of rows) {
        const value = row[field];
        if (!statuses.includes(value as string)) throw statusViolation(this.spec, field, row.id, value);
      }
    }
    for (const [key, index] of this.uniqueIndexes) {
      const owners = new Map<unknown, string | null>();
      const current = new Map<string, unknown>();
      for (const row of rows) {
        const previous = current.has(row.id) ? current.get(row.id) : this.rows.get(row.id)?.[key];
        if (previous !== null && previous !== undefined) owners.set(previous, null);
        const value = row[key];
        if (value !== null && value !== undefined) {
          const owner = owners.has(value) ? owners.get(value) : index.get(value);
          if (owner !== undefined && owner !== null && owner !== row.id) {
            throw uniqueViolation(this.spec, key, value);
          }
          owners.set(value, row.id);
        }
        current.set(row.id, value);
      }
    }
  }
}
