import { DuplicateIdError } from '../../errors/errors.js';
import type { EntitySpec } from '../entities.js';
import { resolveQuery, resolveWhere } from '../query.js';
import type { Query, Repository, Where } from '../repository.js';
import { decodeRow, encodeRow, normalizeEntity, type SqlRow } from '../sql/rows.js';
import * as sql from '../sql/statements.js';
import type { SqliteConnection } from './sqlite-connection.js';
import { toRowError } from './sqlite-errors.js';

export const sqliteDialect: sql.SqlDialect = {
  param: () => '?',
  table: (name) => sql.quote(name),
  unlimited: 'LIMIT -1',
  jsonAsText: false,
  boolean: (value) => (value ? 1 : 0),
};

/** One table of a SqliteStore. */
export class SqliteRepository<T extends { id: string }> implements Repository<T> {
  private readonly getSql: string;
  private readonly deleteSql: string;
  private readonly insertSql: string;
  private readonly upsertSql: string;

  constructor(
    private readonly connection: SqliteConnection,
    private readonly spec: EntitySpec<T>,
  ) {
    this.getSql = sql.selectById(sqliteDialect, spec);
    this.deleteSql = sql.deleteById(sqliteDialect, spec);
    this.insertSql = sql.insertNew(sqliteDialect, spec);
    this.upsertSql = sql.upsert(sqliteDialect, spec);
  }

  async get(id: string): Promise<T | undefined> {
    const row = this.connection.read(() => this.connection.statement(this.getSql).get(id)) as
      SqlRow | undefined;
    return row === undefined ? undefined : decodeRow(this.spec, row);
  }

  async find(query: Query<T> = {}): Promise<T[]> {
    const statement = sql.select(sqliteDialect, this.spec, resolveQuery(this.spec, query));
    const rows = this.connection.read(() =>
      this.connection.statement(statement.sql).all(...statement.params),
    ) as SqlRow[];
    return rows.map((row) => decodeRow(this.spec, row));
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

  /** Upserts `entities` in the caller's transaction. */
  saveRows(entities: readonly T[]): void {
    for (const entity of entities)
      this.run(this.upsertSql, entity, encodeRow(this.spec, entity, sqliteDialect));
  }

  private run(text: string, entity: T, values: unknown[]): number {
    try {
      return this.connection.statement(text).run(...values).changes;
    } catch (error) {
      throw toRowError(error, this.spec, entity, this.connection.path);
    }
  }
}
