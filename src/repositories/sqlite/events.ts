import {
  compareRowCursors,
  cursorPastEnd,
  decodeEvent,
  encodeEvents,
  eventsArray,
  parseRowCursor,
  type EventPage,
  type EventQuery,
  type EventRecord,
  type EventRetention,
  type RowCursor,
} from '../events.js';
import type { SqliteConnection } from './sqlite-connection.js';

/**
 * The `events` table of a SQLite store (migration 14): one row a commit that wrote events, its
 * events a JSON array (`EncodedEvents`). Writers take turns (`BEGIN IMMEDIATE`), so `seq` (the
 * rowid) grows in commit order. A cursor is `seq:index`, after that event of row `seq`, or `seq`
 * alone, after the whole row: the cursor of a row's last event, of the end of a page, and those of
 * migration 12's rows (one an event), which migration 14 kept as rows of one event under their
 * `seq`. A prune never deletes the
 * newest row, so the rowid of the next row stays above every cursor handed out, and a cursor
 * naming a row past the newest was never handed out (a read refuses it).
 */
const INSERT = 'INSERT INTO events (engine_id, count, at, events) VALUES (?, ?, ?, ?)';

/** The newest `seq`: the end of the stream (0 when there is no event). */
const TIP = 'SELECT COALESCE(MAX(seq), 0) AS seq FROM events';

/** Events after (:after, :index) up to row :tip, oldest first; a filter given as NULL matches all. */
const PAGE =
  'SELECT b.seq, b.engine_id, b.count, e.key AS i, e.value AS event FROM events AS b, json_each(b.events) AS e' +
  ' WHERE b.seq >= :after AND b.seq <= :tip AND (b.seq > :after OR e.key > :index)' +
  ` AND (:names IS NULL OR json_extract(e.value, '$.name') IN (SELECT "value" FROM json_each(:names)))` +
  ` AND (:workflow IS NULL OR json_extract(e.value, '$.workflowId') = :workflow)` +
  ` AND (:task IS NULL OR json_extract(e.value, '$.taskId') = :task)` +
  ' ORDER BY b.seq, e.key LIMIT :limit';

/** A batch goes when its newest event is older than the retention (and it is not the newest row). */
const PRUNE_AGE = 'DELETE FROM events WHERE at < ? AND seq < (SELECT MAX(seq) FROM events)';
/** The rows older than the newest row at which the newer rows hold `maxEvents` events. */
const PRUNE_COUNT =
  'DELETE FROM events WHERE seq < (SELECT seq FROM' +
  ' (SELECT seq, SUM(count) OVER (ORDER BY seq DESC ROWS UNBOUNDED PRECEDING) AS newer FROM events)' +
  ' WHERE newer >= ? ORDER BY seq DESC LIMIT 1)';
/** Records a commit token; no change: an earlier try of the same commit wrote its events. */
const TOKEN = 'INSERT INTO event_tokens (token) VALUES (?) ON CONFLICT DO NOTHING';
const PRUNE_TOKENS = "DELETE FROM event_tokens WHERE created_at < unixepoch('subsec') * 1000 - 86400000";

/** The largest rowid a cursor may name. */
const SEQ_LIMITS = [2n ** 53n];

interface EventRow {
  seq: number;
  engine_id: string;
  count: number;
  i: number;
  event: string;
}

/** An event's cursor: `seq` alone for the last of its row (see above). */
function eventCursor(row: EventRow): string {
  return row.i === row.count - 1 ? String(row.seq) : `${row.seq}:${row.i}`;
}

/** Encodes a batch's events and returns the function that inserts its row (in the write transaction). */
export function prepareSqliteEvents(
  connection: SqliteConnection,
  records: readonly EventRecord[] | undefined,
): (fenced: readonly string[]) => void {
  if (!records?.length) return () => {};
  const { engineId, texts } = encodeEvents(records);
  return (fenced) => {
    const skip = fenced.length > 0 ? new Set(fenced) : null;
    const tokens = new Map<string, boolean>();
    const kept: string[] = [];
    let at = -Infinity;
    for (const [i, record] of records.entries()) {
      if (skip !== null && record.taskId !== null && skip.has(record.taskId)) continue;
      if (record.token !== undefined) {
        let fresh = tokens.get(record.token);
        if (fresh === undefined) {
          fresh = connection.statement(TOKEN).run(record.token).changes > 0;
          tokens.set(record.token, fresh);
        }
        if (!fresh) continue;
      }
      kept.push(texts[i]!);
      if (record.at > at) at = record.at;
    }
    if (kept.length === 0) return;
    connection.statement(INSERT).run(engineId, kept.length, at, eventsArray(kept));
  };
}

/**
 * See `Store.readEvents`. The end of the stream is read first and the page is bounded by it: a
 * commit landing between the two reads is left for the next read, so no transaction is needed.
 */
export function readSqliteEvents(connection: SqliteConnection, query: EventQuery): EventPage {
  const after = parseRowCursor(query.after, SEQ_LIMITS, 'digits, or digits:digits');
  const seq = Number(after.key[0]);
  return connection.read(() => {
    const tip = (connection.statement(TIP).get() as { seq: number }).seq;
    const end: RowCursor = { key: [BigInt(tip)], index: Number.MAX_SAFE_INTEGER };
    if (seq > tip) throw cursorPastEnd(query.after!, String(tip));
    const past = compareRowCursors(end, after) > 0 ? String(tip) : (query.after ?? '0');
    if (query.limit === 0) return { events: [], cursor: past };
    const rows = connection.statement(PAGE).all({
      after: seq,
      index: after.index,
      tip,
      names: query.names === undefined ? null : JSON.stringify(query.names),
      workflow: query.workflowId ?? null,
      task: query.taskId ?? null,
      limit: query.limit,
    }) as EventRow[];
    const events = rows.map((row) => decodeEvent(row.event, row.engine_id, eventCursor(row)));
    const cursor = events.length === query.limit ? events.at(-1)!.cursor : past;
    return { events, cursor };
  });
}

/** See `Store.pruneControl`: in the caller's write transaction. */
export function pruneSqliteEvents(connection: SqliteConnection, retention: EventRetention): void {
  connection.statement(PRUNE_AGE).run(retention.before);
  connection.statement(PRUNE_COUNT).run(retention.maxEvents);
  connection.statement(PRUNE_TOKENS).run();
}
