import { DuplicateIdError } from '../../errors/errors.js';
import type { EntitySpec } from '../entities.js';
import type { TaskFence } from '../store.js';
import { resolveQuery, resolveWhere } from '../query.js';
import { distinctIds, inIdOrder, type Query, type Repository, type Where } from '../repository.js';
import { encodeRow, normalizeEntity, rowDecoder, type RowDecoder, type SqlValues } from '../sql/rows.js';
import * as sql from '../sql/statements.js';
import { columnArrays, literalArrays, statementName, unnestUpdateState, unnestUpsert } from './unnest.js';
import type { PgClient } from './driver.js';
import type { PostgresConnection } from './postgres-connection.js';
import { toRowError } from './postgres-errors.js';

/** The last version of each id, at the position of its first occurrence (as sequential upserts). */
function latestById<T extends { id: string }>(entities: readonly T[]): T[] {
  const byId = new Map<string, T>();
  for (const entity of entities) byId.set(entity.id, entity);
  return byId.size === entities.length ? [...entities] : [...byId.values()];
}

/** Rows encoded for one upsert: one array of values per column. */
export interface PreparedRows {
  count: number;
  values: unknown[][];
}

/** State writes encoded for one UPDATE, with what the rare insert of a missing row needs. */
export interface PreparedStates<T> {
  count: number;
  /** The ids, then one array per state column. */
  values: unknown[][];
  /**
   * Each row as it was when prepared: a shallow copy whose top-level arrays are copied too (the
   * engine assigns its rows' fields and appends to `errors`; it never edits other nested values).
   */
  rows: T[];
  /** The ids of the fenced writes. */
  fenced: Set<string>;
}

/** One table of a PostgresStore. */
export class PostgresRepository<T extends { id: string }> implements Repository<T> {
  private readonly getSql: string;
  private readonly deleteSql: string;
  private readonly insertSql: string;
  private readonly getManySql: string;
  private readonly upsert: { name: string; text: string };
  private updateStates: { name: string; text: string } | undefined;
  private readonly decode: RowDecoder<T>;

  constructor(
    private readonly connection: PostgresConnection,
    private readonly spec: EntitySpec<T>,
  ) {
    this.getSql = sql.selectById(connection.dialect, spec);
    this.deleteSql = sql.deleteById(connection.dialect, spec);
    this.insertSql = sql.insertNew(connection.dialect, spec);
    this.getManySql = sql.selectByIdArray(connection.dialect, spec);
    const text = unnestUpsert(connection.dialect.table(spec.table), spec);
    this.upsert = { name: statementName(`symphony_upsert_${spec.table}`, text), text };
    this.decode = rowDecoder(spec);
  }

  async get(id: string): Promise<T | undefined> {
    const { rows } = await this.connection.query(this.getSql, [id], 'array');
    const row = rows[0] as SqlValues | undefined;
    return row === undefined ? undefined : this.decode(row);
  }

  /**
   * One statement whatever the number of ids: they travel as one text[] parameter. An id with a
   * NUL character is skipped without asking (PostgreSQL text cannot hold one, so no row has it).
   */
  async getMany(ids: readonly string[]): Promise<T[]> {
    const distinct = distinctIds(ids).filter((id) => !id.includes('\u0000'));
    if (distinct.length === 0) return [];
    const { rows } = await this.connection.query(this.getManySql, [distinct], 'array');
    return inIdOrder(distinct, (rows as SqlValues[]).map(this.decode));
  }

  async find(query: Query<T> = {}): Promise<T[]> {
    const statement = sql.select(this.connection.dialect, this.spec, resolveQuery(this.spec, query));
    const { rows } = await this.connection.query(statement.sql, statement.params, 'array');
    return (rows as SqlValues[]).map(this.decode);
  }

  async count(where?: Where<T>): Promise<number> {
    const statement = sql.count(this.connection.dialect, this.spec, resolveWhere(this.spec, where));
    const { rows } = await this.connection.query(statement.sql, statement.params);
    return Number((rows[0] as { n: string | number }).n);
  }

  async create(entity: T): Promise<T> {
    const values = encodeRow(this.spec, entity, this.connection.dialect);
    const inserted = await this.connection.transaction((client) =>
      this.run(client, { text: this.insertSql, values }, [entity]),
    );
    if (inserted === 0) throw new DuplicateIdError(this.spec.entity, entity.id);
    return normalizeEntity(this.spec, entity);
  }

  async saveMany(entities: readonly T[]): Promise<void> {
    if (entities.length === 0) return;
    const prepared = this.prepareRows(entities);
    await this.connection.transaction((client) => this.writeRows(client, prepared));
  }

  async delete(id: string): Promise<boolean> {
    const { rowCount } = await this.connection.query(this.deleteSql, [id]);
    return rowCount > 0;
  }

  /**
   * Encodes `entities` for `writeRows`, at once: the caller may change them as soon as this
   * returns (the engine's rows are live).
   */
  prepareRows(entities: readonly T[]): PreparedRows {
    const rows = latestById(entities);
    return { count: rows.length, values: columnArrays(this.spec, rows, this.connection.dialect) };
  }

  /**
   * Upserts prepared rows in the caller's transaction: one prepared statement whatever their
   * number (columns as arrays, see unnestUpsert).
   */
  async writeRows(client: PgClient, prepared: PreparedRows): Promise<void> {
    if (prepared.count === 0) return;
    try {
      await client.query({ ...this.upsert, values: literalArrays(prepared.values) });
    } catch (error) {
      throw toRowError(error, this.spec, this.rowsOf(prepared), this.connection.target);
    }
  }

  /** Encodes state writes (see `StoreBatch.taskStates`) for `writeStates`, at once. */
  prepareStates(
    stateSpec: EntitySpec<T>,
    entities: readonly T[],
    fences?: ReadonlyMap<string, TaskFence>,
  ): PreparedStates<T> {
    const rows = latestById(entities).map((entity) => {
      const copy: Record<string, unknown> = { ...entity };
      for (const key of Object.keys(copy))
        if (Array.isArray(copy[key])) copy[key] = [...(copy[key] as unknown[])];
      return copy as T;
    });
    const fenceOf = rows.map((row) => fences?.get(row.id));
    const values = [
      rows.map((row) => row.id),
      ...columnArrays(stateSpec, rows, this.connection.dialect),
      fenceOf.map((fence) => fence?.holder ?? null),
      fenceOf.map((fence) => fence !== undefined && fence.takenFrom !== undefined),
      fenceOf.map((fence) => fence?.takenFrom ?? null),
    ];
    this.updateStates ??= (() => {
      const text = unnestUpdateState(this.connection.dialect.table(stateSpec.table), stateSpec);
      return { name: statementName(`symphony_states_${stateSpec.table}`, text), text };
    })();
    const fenced = new Set(rows.filter((_, i) => fenceOf[i] !== undefined).map((row) => row.id));
    return { count: rows.length, values, rows, fenced };
  }

  /** The text of the UPDATE `prepareStates` built (it binds one parameter per prepared array). */
  get stateUpdateText(): string {
    return this.updateStates!.text;
  }

  /**
   * Writes prepared state fields in the caller's transaction, one statement whatever their number;
   * a row the UPDATE left alone is inserted whole if it is missing (kept as it is if it exists).
   * Returns the fenced writes not applied (see `StoreBatch.fences`). `instead`: a statement that
   * runs that UPDATE and more (returning the same ids), with its parameters after the UPDATE's.
   * `aroundMissing`: runs the inserts of missing rows (when there are any), e.g. in a transaction
   * with what must commit with them.
   */
  async writeStates(
    client: PgClient,
    prepared: PreparedStates<T>,
    instead?: { name: string; text: string; values: unknown[] },
    /** Receives the ids of the fenced writes of missing rows, inserted whole. */
    insertedFenced?: string[],
    aroundMissing: (insert: () => Promise<string[]>) => Promise<string[]> = (insert) => insert(),
  ): Promise<string[]> {
    if (prepared.count === 0) return [];
    let updated: Set<string>;
    try {
      const { rows } = await client.query(
        instead === undefined
          ? { ...this.updateStates!, values: literalArrays(prepared.values) }
          : {
              name: instead.name,
              text: instead.text,
              values: literalArrays([...prepared.values, ...instead.values]),
            },
      );
      if (rows.length === prepared.count) return [];
      updated = new Set((rows as Array<{ id: string }>).map((row) => row.id));
    } catch (error) {
      throw toRowError(error, this.spec, prepared.rows, this.connection.target);
    }
    return aroundMissing(async () => {
      const fencedOut: string[] = [];
      for (const row of prepared.rows) {
        if (updated.has(row.id)) continue;
        const values = encodeRow(this.spec, row, this.connection.dialect);
        const inserted = await this.run(client, { text: this.insertSql, values }, [row]);
        if (prepared.fenced.has(row.id)) (inserted === 0 ? fencedOut : insertedFenced)?.push(row.id);
      }
      return fencedOut;
    });
  }

  /** The rows of a prepared batch as far as error messages need them (scalar fields, as written). */
  private rowsOf(prepared: PreparedRows): T[] {
    const rows: T[] = [];
    for (let j = 0; j < prepared.count; j += 1) {
      const row: Record<string, unknown> = {};
      this.spec.fields.forEach((field, i) => (row[field.field] = prepared.values[i]![j]));
      rows.push(row as T);
    }
    return rows;
  }

  private async run(
    client: PgClient,
    query: { name?: string; text: string; values: unknown[] },
    rows: readonly T[],
  ): Promise<number> {
    try {
      return (await client.query(query)).rowCount ?? 0;
    } catch (error) {
      throw toRowError(error, this.spec, rows, this.connection.target);
    }
  }
}
