import { isTerminalStatus } from '../../machines/status.js';
import type { Task } from '../domain/task.js';
import { InvalidArgumentError } from '../errors/errors.js';

/** Equality filters on an entity's fields; every given field must match. */
export type Where<T> = { [K in keyof T]?: T[K] };

export interface Query<T> {
  where?: Where<T>;
  /** A field to sort by, ascending unless `descending`. Default: creation order. */
  orderBy?: keyof T & string;
  descending?: boolean;
  limit?: number;
  offset?: number;
  /**
   * Keyset pagination: only the rows whose id comes after this id in the query's order (greater
   * ids; smaller ones with `descending`). Requires `orderBy: 'id'`. Pass the id of the last row of
   * the previous page: unlike `offset`, rows written or deleted between pages neither shift the
   * next page nor repeat in it, and a store reads only the page, not the rows before it.
   */
  after?: string;
}

/**
 * Storage of one kind of entity. Implementations own their connections and transactions; no
 * driver type crosses this interface. Values returned are copies the caller may keep.
 */
export interface Repository<T extends { id: string }> {
  get(id: string): Promise<T | undefined>;
  /**
   * The rows of `ids` that exist, in the order of `ids`: an id with no row is skipped, an id given
   * more than once is returned once, at its first position. Stores read them in one round trip or
   * a few, never one per id. Rejects with INVALID_ARGUMENT unless `ids` is an array of strings.
   */
  getMany(ids: readonly string[]): Promise<T[]>;
  find(query?: Query<T>): Promise<T[]>;
  count(where?: Where<T>): Promise<number>;
  /** Inserts a new entity; rejects with DUPLICATE_ID if the id exists. */
  create(entity: T): Promise<T>;
  /** Inserts or replaces each entity, all or none (one transaction where the store has them). */
  saveMany(entities: readonly T[]): Promise<void>;
  delete(id: string): Promise<boolean>;
}

/**
 * The distinct ids of `ids`, in order of first occurrence; throws INVALID_ARGUMENT unless `ids` is
 * an array of strings. Every `getMany` starts here.
 */
export function distinctIds(ids: readonly string[]): string[] {
  if (!Array.isArray(ids)) {
    throw new InvalidArgumentError(
      `Expected \`ids\` to be an array of strings, got ${ids === null ? 'null' : typeof ids}`,
    );
  }
  const seen = new Set<string>();
  for (let i = 0; i < ids.length; i += 1) {
    const id: unknown = ids[i];
    if (typeof id !== 'string') {
      throw new InvalidArgumentError(
        `Expected \`ids\` to be an array of strings, got ${id === null ? 'null' : typeof id} at index ${i}`,
      );
    }
    seen.add(id);
  }
  return seen.size === ids.length ? ids.slice() : [...seen];
}

/**
 * `rows` (found by id, in any order) in the order of `ids`, each once; ids without a row are
 * skipped. `ids` must be distinct (see `distinctIds`).
 */
export function inIdOrder<T extends { id: string }>(ids: readonly string[], rows: readonly T[]): T[] {
  if (rows.length === 0) return [];
  const byId = new Map<string, T>();
  for (const row of rows) byId.set(row.id, row);
  const ordered: T[] = [];
  for (const id of ids) {
    const row = byId.get(id);
    if (row !== undefined) ordered.push(row);
  }
  return ordered;
}

/**
 * `getMany` for a repository that lacks it (one written before the method existed): one `get`
 * per distinct id, all in flight at once.
 */
export async function getManyByGet<T extends { id: string }>(
  repository: Pick<Repository<T>, 'get'>,
  ids: readonly string[],
): Promise<T[]> {
  const rows = await Promise.all(distinctIds(ids).map((id) => repository.get(id)));
  const found: T[] = [];
  for (const row of rows) if (row !== undefined) found.push(row);
  return found;
}

/**
 * `Store.claimTasks` over a task repository: reads the rows and writes back those still free and
 * unfinished.
 * Atomic only where nothing else writes between the read and the write (one process, no await
 * in between for the memory repository).
 */
export async function claimInRepository(
  tasks: Repository<Task>,
  ids: readonly string[],
  engineId: string,
  from: readonly string[],
): Promise<string[]> {
  const free = new Set<string | null>([null, engineId, ...from]);
  const claimed = (await tasks.getMany(ids)).filter(
    (task) => free.has(task.leaseOwner) && !isTerminalStatus(task.status),
  );
  for (const task of claimed) task.leaseOwner = engineId;
  if (claimed.length > 0) await tasks.saveMany(claimed);
  return claimed.map((task) => task.id);
}
