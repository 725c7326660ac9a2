import { DuplicateIdError } from '../../errors/errors.js';
import type { EntitySpec } from '../entities.js';
import type { TaskFence } from '../store.js';
import { resolveQuery, resolveWhere } from '../query.js';
import { distinctIds, inIdOrder, type Query, type Repository, type Where } from '../repository.js';
import {
  encodeRow,
  encodeRowInto,
  normalizeEntity,
  rowDecoder,
  type RowDecoder,
  type SqlValues,
} from '../sql/rows.js';
import * as sql from '../sql/statements.js';
import type { SqliteConnection } from './sqlite-connection.js';
import { isRowError, toRowError, toStoreError } from './sqlite-errors.js';

export const sqliteDialect: sql.SqlDialect = {
  param: () => '?',
  table: (name) => sql.quote(name),
  unlimited: 'LIMIT -1',
  jsonAsText: false,
  boolean: (value) => (value ? 1 : 0),
};

/**
 * Ids bound by one `getMany` SELECT, at most. A call with fewer pads its list (repeating its last
 * id) to the next of these sizes, so each table prepares five SELECTs at most, whatever it is given.
 */
const MAX_IDS_PER_SELECT = 500;
const ID_LIST_SIZES: readonly number[] = [1, 8, 32, 128, MAX_IDS_PER_SELECT];

/**
 * Rows written by one upsert statement, at most. Measured on the tasks table (10,000 rows in
 * transactions of 100): one row a statement 71 ms, 8 or 16 rows 57 ms, 40 or 100 rows 61 ms; the
 * B-tree work dominates beyond that. A batch is cut into statements of 16 rows, then of the powers
 * of two below, so each table prepares five upserts at most.
 */
const MAX_ROWS_PER_UPSERT = 16;

function upsertRows(remaining: number): number {
  if (remaining >= MAX_ROWS_PER_UPSERT) return MAX_ROWS_PER_UPSERT;
  let rows = 1;
  while (rows * 2 <= remaining) rows *= 2;
  return rows;
}

/** One table of a SqliteStore. */
export class SqliteRepository<T extends { id: string }> implements Repository<T> {
  private readonly getSql: string;
  private readonly deleteSql: string;
  private readonly insertSql: string;
  /** Upsert statements by number of rows, built on first use. */
  private readonly upsertSqls = new Map<number, string>();
  /** `getMany` SELECTs by number of bound ids, built on first use. */
  private readonly selectSqls = new Map<number, string>();
  private readonly decode: RowDecoder<T>;
  private updateStateSql: string | undefined;

  constructor(
    private readonly connection: SqliteConnection,
    private readonly spec: EntitySpec<T>,
  ) {
    this.getSql = sql.selectById(sqliteDialect, spec);
    this.deleteSql = sql.deleteById(sqliteDialect, spec);
    this.insertSql = sql.insertNew(sqliteDialect, spec);
    this.decode = rowDecoder(spec);
  }

  async get(id: string): Promise<T | undefined> {
    const row = this.connection.read(() => this.connection.arrayStatement(this.getSql).get(id)) as
      SqlValues | undefined;
    return row === undefined ? undefined : this.decode(row);
  }

  /** Reads up to 500 ids per SELECT; more than that in one read transaction, so from one snapshot. */
  async getMany(ids: readonly string[]): Promise<T[]> {
    const distinct = distinctIds(ids);
    if (distinct.length === 0) return [];
    const read = () => {
      const found: T[] = [];
      for (let start = 0; start < distinct.length; start += MAX_IDS_PER_SELECT) {
        const count = Math.min(MAX_IDS_PER_SELECT, distinct.length - start);
        const size = ID_LIST_SIZES.find((n) => n >= count) ?? MAX_IDS_PER_SELECT;
        const params: string[] = new Array<string>(size);
        for (let i = 0; i < size; i += 1) params[i] = distinct[start + Math.min(i, count - 1)] as string;
        const rows = this.connection.arrayStatement(this.selectSql(size)).all(params) as SqlValues[];
        for (const row of rows) found.push(this.decode(row));
      }
      return found;
    };
    const found =
      distinct.length > MAX_IDS_PER_SELECT ? this.connection.readSnapshot(read) : this.connection.read(read);
    return inIdOrder(distinct, found);
  }

  async find(query: Query<T> = {}): Promise<T[]> {
    const statement = sql.select(sqliteDialect, this.spec, resolveQuery(this.spec, query));
    const rows = this.connection.read(() =>
      this.connection.arrayStatement(statement.sql).all(...statement.params),
    ) as SqlValues[];
    return rows.map(this.decode);
  }

  async count(where?: Where<T>): Promise<number> {
    const statement = sql.count(sqliteDialect, this.spec, resolveWhere(this.spec, where));
    const row = this.connection.read(() =>
      this.connection.statement(statement.sql).get(...statement.params),
    ) as {
      n: number;
    };
    return row.n;
  }

  async create(entity: T): Promise<T> {
    const values = encodeRow(this.spec, entity, sqliteDialect);
    const inserted = this.connection.write(() => this.run(this.insertSql, entity, values));
    if (inserted === 0) throw new DuplicateIdError(this.spec.entity, entity.id);
    return normalizeEntity(this.spec, entity);
  }

  async saveMany(entities: readonly T[]): Promise<void> {
    if (entities.length === 0) return;
    this.connection.write(() => this.saveRows(entities));
  }

  async delete(id: string): Promise<boolean> {
    return this.connection.write(() => this.connection.statement(this.deleteSql).run(id).changes > 0);
  }

  /**
   * Upserts `entities` in the caller's transaction, in order, up to 16 rows a statement. SQLite
   * applies the rows of a multi-row upsert one after the other, so the result is that of one upsert
   * per row: a row given twice ends as its last version, in the place of its first.
   */
  saveRows(entities: readonly T[]): void {
    const width = this.spec.fields.length;
    for (let start = 0; start < entities.length;) {
      const rows = upsertRows(entities.length - start);
      const values: unknown[] = new Array(rows * width);
      for (let r = 0; r < rows; r += 1)
        encodeRowInto(this.spec, entities[start + r] as T, sqliteDialect, values, r * width);
      this.upsert(entities, start, rows, values);
      start += rows;
    }
  }

  /**
   * Runs one upsert of `rows` rows from `start`. When SQLite refuses it because of a row, the
   * statement alone is undone and the rows are written again one by one, so that the error names
   * the row at fault (the transaction fails with that error).
   */
  private upsert(entities: readonly T[], start: number, rows: number, values: unknown[]): void {
    if (rows === 1) {
      this.run(this.upsertSql(1), entities[start] as T, values);
      return;
    }
    try {
      this.connection.statement(this.upsertSql(rows)).run(values);
    } catch (error) {
      if (!isRowError(error) || !this.connection.inTransaction)
        throw toStoreError(error, this.connection.path);
      const width = this.spec.fields.length;
      for (let r = 0; r < rows; r += 1)
        this.run(this.upsertSql(1), entities[start + r] as T, values.slice(r * width, (r + 1) * width));
    }
  }

  /**
   * Writes the state fields (`stateSpec`) of existing rows in the caller's transaction, one
   * prepared UPDATE a row; a row the UPDATE leaves alone (missing, kept COMPLETED, or fenced out) is
   * inserted whole if it is missing. Returns the fenced writes not applied. For the tasks table (see
   * `StoreBatch.taskStates` and `StoreBatch.fences`).
   */
  saveStates(
    stateSpec: EntitySpec<T>,
    entities: readonly T[],
    fences?: ReadonlyMap<string, TaskFence>,
  ): string[] {
    this.updateStateSql ??= sql.updateTaskState(sqliteDialect, stateSpec);
    const width = stateSpec.fields.length;
    const values: unknown[] = new Array(width + 6);
    const fenced: string[] = [];
    for (const entity of entities) {
      encodeRowInto(stateSpec, entity, sqliteDialect, values, 0);
      const fence = fences?.get(entity.id);
      values[width] = entity.id;
      values[width + 1] = (entity as { status?: unknown }).status;
      values[width + 2] = fence?.holder ?? null;
      values[width + 3] = fence?.holder ?? null;
      values[width + 4] = fence?.takenFrom === undefined ? 0 : 1;
      values[width + 5] = fence?.takenFrom ?? null;
      if (this.run(this.updateStateSql, entity, values) > 0) continue;
      const inserted = this.run(this.insertSql, entity, encodeRow(this.spec, entity, sqliteDialect));
      if (inserted === 0 && fence) fenced.push(entity.id);
    }
    return fenced;
  }

  private upsertSql(rows: number): string {
    let text = this.upsertSqls.get(rows);
    if (text === undefined) {
      text = sql.upsert(sqliteDialect, this.spec, rows);
      this.upsertSqls.set(rows, text);
    }
    return text;
  }

  private selectSql(ids: number): string {
    let text = this.selectSqls.get(ids);
    if (text === undefined) {
      text = sql.selectByIds(sqliteDialect, this.spec, ids);
      this.selectSqls.set(ids, text);
    }
    return text;
  }

  private run(text: string, entity: T, values: unknown[]): number {
    try {
      return this.connection.statement(text).run(values).changes;
    } catch (error) {
      throw toRowError(error, this.spec, entity, this.connection.path);
    }
  }
}
