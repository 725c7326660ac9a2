import {
  encodePayloads,
  invalidCursor,
  unfencedEvents,
  type EventPage,
  type EventQuery,
  type EventRecord,
  type EventRetention,
  type StoredEventRecord,
} from '../events.js';
import type { PgClient } from './driver.js';
import { statementName } from './unnest.js';

/**
 * The `events` table of a PostgreSQL store (migration 15) and the cursor that reads it.
 *
 * `seq` comes from a sequence when a row is inserted, but transactions commit in any order: a
 * reader that took every row with `seq > cursor` could pass over a row that commits later with a
 * smaller `seq`. So each row also records its transaction (`xid`, `pg_current_xact_id()`), and a read
 * hands out only rows of transactions older than its snapshot's `xmin`: each of those has ended
 * (committed, so visible, or aborted), and every transaction still to commit has an xid >= `xmin`.
 * Rows are handed out in `(xid, seq)` order and the cursor is the last `(xid, seq)` handed out, so a
 * row that commits later sorts after every cursor given out before: none is skipped, none read
 * twice. Within a transaction `seq` keeps the order the events were written in; a task's later
 * change is committed by a later transaction of its holder (which began after the earlier one
 * committed, so has a larger xid), so each task's events come in the order they happened. The
 * price: a row is handed out only once every transaction that began before it ended, so a long
 * transaction on the server delays (never loses) the events committed after it began.
 */

/** The columns an insert binds, one array each: name, payload, engine, workflow, task, at, token. */
export type EventColumns = [
  string[],
  string[],
  string[],
  Array<string | null>,
  Array<string | null>,
  number[],
  Array<string | null>,
];

/** A batch's events as one array per column. */
export function eventColumns(records: readonly EventRecord[]): EventColumns {
  const payloads = encodePayloads(records);
  return [
    records.map((r) => r.name),
    payloads,
    records.map((r) => r.engineId),
    records.map((r) => r.workflowId),
    records.map((r) => r.taskId),
    records.map((r) => r.at),
    records.map((r) => r.token ?? null),
  ];
}

/**
 * The columns of the events of `taskIds` alone, under tokens of their own (the batch's token is
 * recorded by then): the events of fenced writes of rows that were missing and inserted whole.
 */
export function lateColumns(columns: EventColumns, taskIds: readonly string[]): EventColumns {
  const ids = new Set(taskIds);
  const keep = columns[4].flatMap((taskId, i) => (taskId !== null && ids.has(taskId) ? [i] : []));
  const picked = columns.map((column) => keep.map((i) => (column as unknown[])[i])) as EventColumns;
  picked[6] = picked[6].map((token) => (token === null ? null : `${token}.late`));
  return picked;
}

/** The columns of the events that are written: those of tasks whose write was not fenced out. */
export function unfencedColumns(columns: EventColumns, fenced: readonly string[]): EventColumns {
  if (fenced.length === 0) return columns;
  const keep = unfencedEvents(
    columns[4].map((taskId, i) => ({ taskId, i })),
    fenced,
  ).map(({ i }) => i);
  return columns.map((column) => keep.map((i) => (column as unknown[])[i])) as EventColumns;
}

/**
 * The parts of an insert of the events bound from `$first` on: `fresh`, a CTE recording their commit
 * tokens (those already recorded were written by an earlier try of the same commit, whose reply was
 * lost), and the `INSERT ... SELECT` of the events in order, those of a fresh token or none, kept
 * where `where` holds too.
 */
function insertParts(schema: string, first: number, where = ''): { fresh: string; insert: string } {
  const p = (i: number) => `$${first + i}`;
  const fresh =
    `fresh AS (INSERT INTO ${schema}.event_tokens (token) SELECT DISTINCT t FROM unnest(${p(6)}::text[]) AS t` +
    ' WHERE t IS NOT NULL ON CONFLICT DO NOTHING RETURNING token)';
  const insert =
    `INSERT INTO ${schema}.events ("name", "payload", "engine_id", "workflow_id", "task_id", "at")` +
    ' SELECT u.name, u.payload::json, u.engine_id, u.workflow_id, u.task_id, u.at' +
    ` FROM unnest(${p(0)}::text[], ${p(1)}::text[], ${p(2)}::text[], ${p(3)}::text[], ${p(4)}::text[], ${p(5)}::float8[], ${p(6)}::text[])` +
    ' WITH ORDINALITY AS u(name, payload, engine_id, workflow_id, task_id, at, token, n)' +
    ` WHERE (u.token IS NULL OR u.token IN (SELECT token FROM fresh))${where ? ` AND (${where})` : ''}` +
    ' ORDER BY u.n';
  return { fresh, insert };
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
    const { fresh, insert } = insertParts(schema, 1);
    const text = `WITH ${fresh} ${insert}`;
    this.insert = { name: statementName('symphony_insert_events', text), text };
    const horizon = '(SELECT pg_snapshot_xmin(pg_current_snapshot()))';
    const columns =
      'e.xid::text, e.seq::text, e.name, e.payload::text, e.engine_id, e.workflow_id, e.task_id, e.at';
    // One statement, so one snapshot: the page and the end of the stream agree.
    this.read =
      `SELECT * FROM (SELECT ${columns} FROM ${table} AS e` +
      ` WHERE (e.xid, e.seq) > ($1::xid8, $2::int8) AND e.xid < ${horizon}` +
      ' AND ($3::text[] IS NULL OR e.name = ANY($3::text[]))' +
      ' AND ($4::text IS NULL OR e.workflow_id = $4::text) AND ($5::text IS NULL OR e.task_id = $5::text)' +
      ' ORDER BY e.xid, e.seq LIMIT $6) AS page' +
      ` UNION ALL SELECT * FROM (SELECT e.xid::text, e.seq::text, NULL, NULL, NULL, NULL, NULL, NULL::float8 FROM ${table} AS e` +
      ` WHERE e.xid < ${horizon} ORDER BY e.xid DESC, e.seq DESC LIMIT 1) AS tip`;
    this.pruneAge = `DELETE FROM ${table} WHERE "at" < $1`;
    this.pruneCount =
      `DELETE FROM ${table} WHERE (xid, seq) <= ` +
      `(SELECT xid, seq FROM ${table} ORDER BY xid DESC, seq DESC OFFSET $1 LIMIT 1)`;
  }

  /** Inserts the events of a batch in the caller's transaction (one statement, any number of rows). */
  async write(client: PgClient, columns: EventColumns): Promise<void> {
    if (columns[0].length === 0) return;
    await client.query({ ...this.insert, values: columns });
  }

  /**
   * The statement of a batch's state writes (`update`, an `UPDATE ... RETURNING "id"` of `params`
   * parameters) that also inserts the batch's events: one statement (atomic without BEGIN and
   * COMMIT), no round trip of their own. An event of a task whose fenced write (the fenced ids are
   * bound last) the UPDATE did not apply is left out: fenced out, or its row is missing, and then
   * inserted whole by a later statement (`PostgresRepository.writeStates`), with its events after
   * it (`write`).
   */
  withStates(update: string, params: number): { name: string; text: string } {
    if (this.statesStatement?.update === update) return this.statesStatement;
    // Kept: events of a written task (most), of no task, of a task without a fence (bound last).
    const where =
      'u.task_id IN (SELECT "id" FROM written) OR u.task_id IS NULL' +
      ` OR NOT (u.task_id = ANY($${params + 8}::text[]))`;
    const { fresh, insert } = insertParts(this.schema, params + 1, where);
    const text = `WITH written AS (${update}), ${fresh}, logged AS (${insert}) SELECT "id" FROM written`;
    this.statesStatement = { update, name: statementName('symphony_states_events', text), text };
    return this.statesStatement;
  }

  /** See `Store.readEvents`; `query(text, values)` runs one statement. */
  async readPage(
    query: (text: string, values: unknown[]) => Promise<{ rows: unknown[] }>,
    request: EventQuery,
  ): Promise<EventPage> {
    const [xid, seq] = parseCursor(request.after);
    const names = request.names === undefined ? null : [...request.names];
    const values = [xid, seq, names, request.workflowId ?? null, request.taskId ?? null, request.limit];
    const { rows } = await query(this.read, values);
    const events: Array<StoredEventRecord & { key: [bigint, bigint] }> = [];
    let tip: string | null = null;
    for (const row of rows as unknown[][]) {
      const [x, s, name, payload, engineId, workflowId, taskId, at] = row as [
        string,
        string,
        string | null,
        string | null,
        string,
        string | null,
        string | null,
        number,
      ];
      if (name === null) {
        tip = `${x}:${s}`;
        continue;
      }
      events.push({
        key: [BigInt(x), BigInt(s)],
        cursor: `${x}:${s}`,
        name,
        payload: JSON.parse(payload!) as object,
        engineId,
        workflowId,
        taskId,
        at,
      });
    }
    // UNION ALL promises no order: put the page back in (xid, seq) order.
    events.sort((a, b) => compareKeys(a.key, b.key));
    const page = events.map(({ key: _key, ...event }) => event);
    const full = request.limit > 0 && page.length === request.limit;
    const before = `${xid}:${seq}`;
    const cursor = full ? page.at(-1)!.cursor : tip !== null && isAfter(tip, before) ? tip : before;
    return { events: page, cursor };
  }

  /**
   * See `Store.pruneControl`, in the caller's transaction: one engine at a time (an advisory lock
   * taken without waiting; the others leave the prune to it).
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

/** `xid:seq`, both unsigned 64-bit integers; null: the start of the stream. */
function parseCursor(cursor: string | null): [string, string] {
  if (cursor === null) return ['0', '0'];
  const match =
    typeof cursor === 'string' ? /^(0|[1-9][0-9]{0,19}):(0|[1-9][0-9]{0,18})$/.exec(cursor) : null;
  if (match === null || BigInt(match[1]!) >= 2n ** 64n || BigInt(match[2]!) >= 2n ** 63n) {
    throw invalidCursor(cursor, 'digits:digits');
  }
  return [match[1]!, match[2]!];
}

function compareKeys(a: readonly [bigint, bigint], b: readonly [bigint, bigint]): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  return a[1] === b[1] ? 0 : a[1] < b[1] ? -1 : 1;
}

function isAfter(cursor: string, than: string): boolean {
  const key = (c: string) => c.split(':').map((part) => BigInt(part)) as [bigint, bigint];
  return compareKeys(key(cursor), key(than)) > 0;
}
