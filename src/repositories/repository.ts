/** Equality filters on an entity's fields; every given field must match. */
export type Where<T> = { [K in keyof T]?: T[K] };

export interface Query<T> {
  where?: Where<T>;
  /** A field to sort by, ascending unless `descending`. Default: creation order. */
  orderBy?: keyof T & string;
  descending?: boolean;
  limit?: number;
  offset?: number;
}

/**
 * Storage of one kind of entity. Implementations own their connections and transactions; no
 * driver type crosses this interface. Values returned are copies the caller may keep.
 */
export interface Repository<T extends { id: string }> {
  get(id: string): Promise<T | undefined>;
  find(query?: Query<T>): Promise<T[]>;
  count(where?: Where<T>): Promise<number>;
  /** Inserts a new entity; rejects with DUPLICATE_ID if the id exists. */
  create(entity: T): Promise<T>;
  /** Inserts or replaces each entity, all or none (one transaction where the store has them). */
  saveMany(entities: readonly T[]): Promise<void>;
  delete(id: string): Promise<boolean>;
}
