import {
  encodePayloads,
  parseSeqCursor,
  unfencedEvents,
  type EventPage,
  type EventQuery,
  type EventRecord,
  type EventRetention,
} from '../events.js';
import type { SqliteConnection } from './sqlite-connection.js';

/**
 * The `events` table of a SQLite store (migration 12). Writers take turns (`BEGIN IMMEDIATE`), so
 * `seq` (the rowid) grows in commit order and a reader's cursor is the last `seq` it read. A prune
 * never deletes the newest row, so the rowid of the next event stays above every cursor handed out.
 */
const COLUMNS = 6;

/** The insert of `count` events. */
function insertRows(count: number): string {
  const row = '(?, ?, ?, ?, ?, ?)';
  return `INSERT INTO events (name, payload, engine_id, workflow_id, task_id, at) VALUES ${Array(count).fill(row).join(', ')}`;
}

/** The newest `seq`: the end of the stream (0 when there is no event). */
const TIP = 'SELECT COALESCE(MAX(seq), 0) AS seq FROM events';

/** Events in (after, tip], oldest first; a filter given as NULL matches everything. */
const PAGE =
  'SELECT seq, name, payload, engine_id, workflow_id, task_id, at FROM events' +
  ' WHERE seq > :after AND seq <= :tip' +
  ' AND (:names IS NULL OR name IN (SELECT "value" FROM json_each(:names)))' +
  ' AND (:workflow IS NULL OR workflow_id = :workflow) AND (:task IS NULL OR task_id = :task)' +
  ' ORDER BY seq LIMIT :limit';

const PRUNE_AGE = 'DELETE FROM events WHERE at < ? AND seq < (SELECT MAX(seq) FROM events)';
/** Records a commit token; no change: an earlier try of the same commit wrote its events. */
const TOKEN = 'INSERT INTO event_tokens (token) VALUES (?) ON CONFLICT DO NOTHING';
const PRUNE_TOKENS = "DELETE FROM event_tokens WHERE created_at < unixepoch('subsec') * 1000 - 86400000";
const PRUNE_COUNT =
  'DELETE FROM events WHERE seq <= (SELECT seq FROM events ORDER BY seq DESC LIMIT 1 OFFSET ?)';

interface EventRow {
  seq: number;
  name: string;
  payload: string;
  engine_id: string;
  workflow_id: string | null;
  task_id: string | null;
  at: number;
}

/** Encodes a batch's events and returns the function that inserts them (in the write transaction). */
export function prepareSqliteEvents(
  connection: SqliteConnection,
  records: readonly EventRecord[] | undefined,
): (fenced: readonly string[]) => void {
  if (!records?.length) return () => {};
  const payloads = encodePayloads(records);
  const rows = records.map((record, i) => ({ ...record, payload: payloads[i]! }));
  return (fenced) => {
    const tokens = new Map<string, boolean>();
    const values: unknown[] = [];
    for (const row of unfencedEvents(rows, fenced)) {
      if (row.token !== undefined) {
        let fresh = tokens.get(row.token);
        if (fresh === undefined) {
          fresh = connection.statement(TOKEN).run(row.token).changes > 0;
          tokens.set(row.token, fresh);
        }
        if (!fresh) continue;
      }
      values.push(row.name, row.payload, row.engineId, row.workflowId, row.taskId, row.at);
    }
    // Rows go by 32, then by 8, then one at a time: few statements to prepare, few calls to make.
    for (let at = 0; at < values.length;) {
      const left = (values.length - at) / COLUMNS;
      const count = left >= 32 ? 32 : left >= 8 ? 8 : 1;
      connection.statement(insertRows(count)).run(...values.slice(at, at + count * COLUMNS));
      at += count * COLUMNS;
    }
  };
}

/**
 * See `Store.readEvents`. The end of the stream is read first and the page is bounded by it: a
 * commit landing between the two reads is left for the next read, so no transaction is needed.
 */
export function readSqliteEvents(connection: SqliteConnection, query: EventQuery): EventPage {
  const after = parseSeqCursor(query.after);
  return connection.read(() => {
    const tip = (connection.statement(TIP).get() as { seq: number }).seq;
    if (query.limit === 0 || tip <= after) return { events: [], cursor: String(Math.max(after, tip)) };
    const rows = connection.statement(PAGE).all({
      after,
      tip,
      names: query.names === undefined ? null : JSON.stringify(query.names),
      workflow: query.workflowId ?? null,
      task: query.taskId ?? null,
      limit: query.limit,
    }) as EventRow[];
    const events = rows.map((row) => ({
      cursor: String(row.seq),
      name: row.name,
      payload: JSON.parse(row.payload) as object,
      engineId: row.engine_id,
      workflowId: row.workflow_id,
      taskId: row.task_id,
      at: row.at,
    }));
    const cursor = events.length === query.limit ? events.at(-1)!.cursor : String(tip);
    return { events, cursor };
  });
}

/** See `Store.pruneControl`: in the caller's write transaction. */
export function pruneSqliteEvents(connection: SqliteConnection, retention: EventRetention): void {
  connection.statement(PRUNE_AGE).run(retention.before);
  connection.statement(PRUNE_COUNT).run(retention.maxEvents);
  connection.statement(PRUNE_TOKENS).run();
}
