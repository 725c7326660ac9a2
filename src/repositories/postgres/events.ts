import {
  compareRowCursors,
  cursorPastEnd,
  decodeEvent,
  encodeEvents,
  eventsArray,
  parseRowCursor,
  unfencedEvents,
  type EventPage,
  type EventQuery,
  type EventRecord,
  type EventRetention,
  type RowCursor,
  type StoredEventRecord,
} from '../events.js';
import type { PgClient } from './driver.js';
import { literalArrays, statementName } from './unnest.js';

/**
 * The `events` table of a PostgreSQL store (migration 17: one row a commit that wrote events, its
 * events a JSON array, see `EncodedEvents`) and the cursor that reads it.
 *
 * `seq` comes from a sequence when a row is inserted, but transactions commit in any order: a
 * reader that took every row with `seq > cursor` could pass over a row that commits later with a
 * smaller `seq`. So each row also records its transaction (`xid`, `pg_current_xact_id()`), and a read
 * hands out only rows of transactions older than its snapshot's `xmin`: each of those has ended
 * (committed, so visible, or aborted), and every transaction still to commit has an xid >= `xmin`.
 * Rows are handed out in `(xid, seq)` order, each row's events in their order, and the cursor is
 * the last event handed out, `xid:seq:index`, or `xid:seq` after the whole row (the cursor of a
 * row's last event, of the end of a page, and those of migration 15's rows, one an event, kept by
 * migration 17 as rows of one event under the same key), so a row that commits later sorts after
 * every cursor given out before: none is skipped, none read twice. Within a transaction `seq` keeps the order the events were written in; a task's later
 * change is committed by a later transaction of its holder (which began after the earlier one
 * committed, so has a larger xid), so each task's events come in the order they happened. The
 * price: a row is handed out only once every transaction that began before it ended, so a long
 * transaction on the server delays (never loses) the events committed after it began.
 *
 * The horizon never goes back, so a cursor whose xid is at or past it was not handed out by this
 * store (made up, or of another store): a read would pass over every event to come, and refuses
 * it. Below the horizon a cursor of another store cannot be told from one of this store; one whose
 * `seq` lies past its transaction's rows reads on after that transaction, passing over no later
 * event. (The `seq` is not checked against the sequence: migration 17 started a new one, below
 * the `seq`s of the rows it kept.)
 */

/**
 * A batch's events as an insert binds them: the row's elements (`EncodedEvents`), and for each
 * event its task (for the fencing), time (the row's `at` is the newest) and commit token.
 */
export interface EventColumns {
  engineId: string;
  texts: string[];
  taskIds: Array<string | null>;
  ats: number[];
  tokens: Array<string | null>;
}

/** A batch's events as the columns an insert binds. */
export function eventColumns(records: readonly EventRecord[]): EventColumns {
  const { engineId, texts } = encodeEvents(records);
  return {
    engineId,
    texts,
    taskIds: records.map((r) => r.taskId),
    ats: records.map((r) => r.at),
    tokens: records.map((r) => r.token ?? null),
  };
}

/** The events at `keep` (indexes, in order). */
function pick(columns: EventColumns, keep: readonly number[]): EventColumns {
  return {
    engineId: columns.engineId,
    texts: keep.map((i) => columns.texts[i]!),
    taskIds: keep.map((i) => columns.taskIds[i]!),
    ats: keep.map((i) => columns.ats[i]!),
    tokens: keep.map((i) => columns.tokens[i]!),
  };
}

/**
 * The columns of the events of `taskIds` alone, under tokens of their own (the batch's token is
 * recorded by then): the events of fenced writes of rows that were missing and inserted whole.
 */
export function lateColumns(columns: EventColumns, taskIds: readonly string[]): EventColumns {
  const ids = new Set(taskIds);
  const keep = columns.taskIds.flatMap((taskId, i) => (taskId !== null && ids.has(taskId) ? [i] : []));
  const picked = pick(columns, keep);
  picked.tokens = picked.tokens.map((token) => (token === null ? null : `${token}.late`));
  return picked;
}

/** The columns of the events that are written: those of tasks whose write was not fenced out. */
export function unfencedColumns(columns: EventColumns, fenced: readonly string[]): EventColumns {
  if (fenced.length === 0) return columns;
  const keep = unfencedEvents(
    columns.taskIds.map((taskId, i) => ({ taskId, i })),
    fenced,
  ).map(({ i }) => i);
  return pick(columns, keep);
}

/** The values an insert binds (see `insertParts`), in order. */
export function eventValues(columns: EventColumns): unknown[] {
  return [eventsArray(columns.texts), columns.engineId, columns.taskIds, columns.ats, columns.tokens];
}

/**
 * A CTE that follows the state writes in their statement (`written`, the rows the UPDATE wrote,
 * with their new status), bound from `$first` on; `key` names it for the statement cache.
 */
export interface StatementTail {
  key: string;
  cte(first: number): string;
}

/** How many values `eventValues` binds. */
const EVENT_VALUES = 5;

/**
 * The parts of an insert of a batch's events bound from `$first` on (see `eventValues`): `fresh`,
 * a CTE recording their commit tokens (those already recorded were written by an earlier try of
 * the same commit, whose reply was lost); `kept`, the events of a fresh token or none where `where`
 * holds too; the `INSERT ... SELECT` of their row, none when no event is kept. The array the
 * client built is stored as it came when every event is kept, else rebuilt from those kept.
 */
function insertParts(schema: string, first: number, where = ''): { ctes: string; insert: string } {
  const p = (i: number) => `$${first + i}`;
  const fresh =
    `fresh AS (INSERT INTO ${schema}.event_tokens (token) SELECT DISTINCT t FROM unnest(${p(4)}::text[]) AS t` +
    ' WHERE t IS NOT NULL ON CONFLICT DO NOTHING RETURNING token)';
  const kept =
    `kept AS (SELECT u.n, u.at FROM unnest(${p(2)}::text[], ${p(3)}::float8[], ${p(4)}::text[])` +
    ' WITH ORDINALITY AS u(task_id, at, token, n)' +
    ` WHERE (u.token IS NULL OR u.token IN (SELECT token FROM fresh))${where ? ` AND (${where})` : ''})`;
  const insert =
    `INSERT INTO ${schema}.events ("engine_id", "count", "at", "events")` +
    ` SELECT ${p(1)}::text, k.count, k.at, CASE WHEN k.count = cardinality(${p(2)}::text[]) THEN ${p(0)}::json` +
    ` ELSE (SELECT json_agg(a.e ORDER BY a.n) FROM json_array_elements(${p(0)}::json) WITH ORDINALITY AS a(e, n)` +
    ' WHERE a.n IN (SELECT n FROM kept)) END' +
    ' FROM (SELECT count(*)::int AS count, max(at) AS at FROM kept) AS k WHERE k.count > 0';
  return { ctes: `${fresh}, ${kept}`, insert };
}

/** The statements of one schema's events, built once per store. */
export class PostgresEvents {
  private readonly insert: { name: string; text: string };
  private readonly read: string;
  private readonly pruneAge: string;
  private readonly pruneCount: string;
  private statesStatement: { update: string; name: string; text: string } | undefined;

  constructor(private readonly schema: string) {
    const table = `${schema}.events`;
    const { ctes, insert } = insertParts(schema, 1);
    const text = `WITH ${ctes} ${insert}`;
    this.insert = { name: statementName('symphony_insert_event_rows', text), text };
    const horizon = '(SELECT pg_snapshot_xmin(pg_current_snapshot()))';
    // One statement, so one snapshot: the page and the end of the stream agree. The events of
    // the rows after the cursor's, and those after its index in its own row.
    this.read =
      `SELECT * FROM (SELECT b.xid::text, b.seq::text, e.n - 1 AS i, b.count, b.engine_id, e.value::text FROM ${table} AS b` +
      ' CROSS JOIN LATERAL json_array_elements(b.events) WITH ORDINALITY AS e(value, n)' +
      ` WHERE (b.xid, b.seq) >= ($1::xid8, $2::int8) AND b.xid < ${horizon}` +
      ' AND ((b.xid, b.seq) > ($1::xid8, $2::int8) OR e.n - 1 > $3::int4)' +
      " AND ($4::text[] IS NULL OR e.value->>'name' = ANY($4::text[]))" +
      " AND ($5::text IS NULL OR e.value->>'workflowId' = $5::text)" +
      " AND ($6::text IS NULL OR e.value->>'taskId' = $6::text)" +
      ' ORDER BY b.xid, b.seq, e.n LIMIT $7) AS page' +
      ` UNION ALL SELECT * FROM (SELECT b.xid::text, b.seq::text, NULL::bigint, NULL::int, NULL::text, NULL::text FROM ${table} AS b` +
      ` WHERE b.xid < ${horizon} ORDER BY b.xid DESC, b.seq DESC LIMIT 1) AS tip` +
      ` UNION ALL SELECT ${horizon}::text, NULL, NULL, NULL, NULL, NULL`;
    this.pruneAge = `DELETE FROM ${table} WHERE "at" < $1`;
    // The rows older than the newest row at which the newer rows hold `maxEvents` events.
    this.pruneCount =
      `DELETE FROM ${table} WHERE (xid, seq) < (SELECT xid, seq FROM (SELECT xid, seq,` +
      ` sum("count") OVER (ORDER BY xid DESC, seq DESC ROWS UNBOUNDED PRECEDING) AS newer FROM ${table}) AS w` +
      ' WHERE newer >= $1 ORDER BY xid DESC, seq DESC LIMIT 1)';
  }

  /** Inserts the row of a batch's events in the caller's transaction (none when it has none). */
  async write(client: PgClient, columns: EventColumns): Promise<void> {
    if (columns.texts.length === 0) return;
    await client.query({ ...this.insert, values: literalArrays(eventValues(columns)) });
  }

  /**
   * The statement of a batch's state writes (`update`, an `UPDATE ... RETURNING "id", "status"` of `params`
   * parameters) that also inserts the row of the batch's events: one statement (atomic without
   * BEGIN and COMMIT), no round trip of its own. An event of a task whose fenced write (the fenced
   * ids are bound last) the UPDATE did not apply is left out: fenced out, or its row is missing,
   * and then inserted whole by a later statement (`PostgresRepository.writeStates`), with its
   * events after it (`write`). `tail`: one more CTE, bound after the fenced ids (the completion
   * records, state-writes.ts).
   */
  withStates(update: string, params: number, tail?: StatementTail): { name: string; text: string } {
    const key = tail === undefined ? update : `${update}\u0000${tail.key}`;
    if (this.statesStatement?.update === key) return this.statesStatement;
    // Kept: events of a written task (most), of no task, of a task without a fence (bound last).
    const where =
      'u.task_id IN (SELECT "id" FROM written) OR u.task_id IS NULL' +
      ` OR NOT (u.task_id = ANY($${params + EVENT_VALUES + 1}::text[]))`;
    const { ctes, insert } = insertParts(this.schema, params + 1, where);
    const more = tail === undefined ? '' : `, ${tail.cte(params + EVENT_VALUES + 2)}`;
    const text = `WITH written AS (${update}), ${ctes}, logged AS (${insert})${more} SELECT "id" FROM written`;
    this.statesStatement = { update: key, name: statementName('symphony_states_event_rows', text), text };
    return this.statesStatement;
  }

  /** See `Store.readEvents`; `query(text, values)` runs one statement. */
  async readPage(
    query: (text: string, values: unknown[]) => Promise<{ rows: unknown[] }>,
    request: EventQuery,
  ): Promise<EventPage> {
    const after = parseRowCursor(request.after, CURSOR_LIMITS, 'digits:digits, or digits:digits:digits');
    const names = request.names === undefined ? null : [...request.names];
    const [xid, seq] = after.key.map(String);
    const values = [xid, seq, after.index, names, request.workflowId ?? null, request.taskId ?? null];
    const { rows } = await query(this.read, [...values, request.limit]);
    const events: Array<{ key: RowCursor; event: StoredEventRecord }> = [];
    let tip: RowCursor | null = null;
    for (const row of rows as unknown[][]) {
      const [x, s, i, count, engineId, text] = row as ReadRow;
      if (s === null) {
        // Every cursor handed out names a row older than the horizon of its read, and the horizon
        // never goes back: a cursor at or past this one was not handed out by this store.
        if (after.key[0]! >= BigInt(x)) throw cursorPastEnd(request.after!, `xid ${x}`);
        continue;
      }
      const key = [BigInt(x), BigInt(s)];
      if (i === null) {
        tip = { key, index: Number.MAX_SAFE_INTEGER };
        continue;
      }
      // The last event of its row: `xid:seq`, as the end of a page that reached it.
      const cursor = Number(i) === count - 1 ? `${x}:${s}` : `${x}:${s}:${i}`;
      events.push({ key: { key, index: Number(i) }, event: decodeEvent(text, engineId, cursor) });
    }
    // UNION ALL promises no order: put the page back in (xid, seq, index) order.
    events.sort((a, b) => compareRowCursors(a.key, b.key));
    const page = events.map(({ event }) => event);
    const full = request.limit > 0 && page.length === request.limit;
    if (full) return { events: page, cursor: page.at(-1)!.cursor };
    const past =
      tip !== null && compareRowCursors(tip, after) > 0 ? tip.key.join(':') : (request.after ?? '0:0');
    return { events: page, cursor: past };
  }

  /**
   * See `Store.pruneControl`, in the caller's transaction: one engine at a time (an advisory lock
   * taken without waiting; the others leave the prune to it). By rows: a commit's events go
   * together, once the newest of them is older than `before`, or once the newer rows hold
   * `maxEvents` events.
   */
  async prune(client: PgClient, retention: EventRetention): Promise<void> {
    const { rows } = await client.query('SELECT pg_try_advisory_xact_lock(hashtext($1)) AS locked', [
      `symphony events ${this.schema}`,
    ]);
    if (!(rows[0] as { locked: boolean }).locked) return;
    await client.query(this.pruneAge, [retention.before]);
    await client.query(this.pruneCount, [retention.maxEvents]);
    // A token matters while its commit may be tried again (storeRetryMs): a day is plenty.
    await client.query(`DELETE FROM ${this.schema}.event_tokens WHERE created_at < now() - interval '1 day'`);
  }
}

/** A row of the read: an event, the tip (`index` null) or the horizon (`seq` null too). */
type ReadRow = [
  xid: string,
  seq: string | null,
  index: string | null,
  count: number,
  engineId: string,
  text: string,
];

/** `xid:seq[:index]`: xid and seq below these. */
const CURSOR_LIMITS = [2n ** 64n, 2n ** 63n];
