import { InvalidArgumentError } from '../errors/errors.js';

/**
 * An event an engine writes with the commit of the change it reports (`StoreBatch.events`), so that
 * other processes can read what happened (docs/monitoring.md, "Events from the store").
 */
export interface EventRecord {
  /** The event's name: `task.started`, `workflow.status`... (`SYMPHONY_EVENT_NAMES`). */
  name: string;
  /** The in-process event's fields; stored as JSON. */
  payload: object;
  /** The engine that wrote it. */
  engineId: string;
  workflowId: string | null;
  taskId: string | null;
  /** When the change was made: epoch milliseconds of the writing engine's clock. */
  at: number;
  /**
   * Names the commit the event was first sent with, so that a batch sent again after its commit's
   * reply was lost (the commit had landed) writes it once: a store that can lose a reply (over a
   * connection) writes the events of a token once. Events without one are always written.
   */
  token?: string;
}

/** An event as a store hands it out. */
export interface StoredEventRecord extends Omit<EventRecord, 'token'> {
  /** Its position in the store's stream: read from here on with `after: cursor`. Opaque. */
  cursor: string;
}

/** What `Store.readEvents` reads: the events after a cursor, oldest first, those that match. */
export interface EventQuery {
  /** A cursor the store handed out; null: from the oldest event kept. */
  after: string | null;
  /** At most this many events; 0 reads none and returns the cursor of the end of the stream. */
  limit: number;
  /** Only events with one of these names. */
  names?: readonly string[];
  workflowId?: string;
  taskId?: string;
}

/** A page of events. */
export interface EventPage {
  events: StoredEventRecord[];
  /**
   * Where the next read starts: the last event's cursor when the page is full; past every event the
   * store could hand out at the time of the read (matching or not) when it is not.
   */
  cursor: string;
}

/**
 * What `Store.pruneControl` deletes of the stored events. The SQL stores keep a commit's events in
 * one row and prune by rows: a commit's events go once the newest of them is older than `before`,
 * and the newest `maxEvents` events are kept with the rest of their commits' events.
 */
export interface EventRetention {
  /** Events whose `at` is older than this (epoch ms) go. */
  before: number;
  /** Only the newest this many are kept (an integer >= 1). */
  maxEvents: number;
}

/** The payloads of events as JSON text, checked before anything of their batch is written. */
export function encodePayloads(events: readonly EventRecord[]): string[] {
  return events.map((event) => {
    let text: string | undefined;
    try {
      text = JSON.stringify(event.payload);
    } catch (error) {
      throw new InvalidArgumentError(
        `Expected the payload of event ${JSON.stringify(event.name)} to be JSON, got: ${(error as Error).message}`,
        { cause: error },
      );
    }
    if (typeof text !== 'string' || !text.startsWith('{')) {
      throw new InvalidArgumentError(
        `Expected the payload of event ${JSON.stringify(event.name)} to be a JSON object, got ${String(text)}`,
      );
    }
    return text;
  });
}

/** The events of a batch that are written: those of tasks whose state write was not fenced out. */
export function unfencedEvents<E extends { taskId: string | null }>(
  events: readonly E[],
  fenced: readonly string[],
): readonly E[] {
  if (fenced.length === 0 || events.length === 0) return events;
  const skip = new Set(fenced);
  return events.filter((event) => event.taskId === null || !skip.has(event.taskId));
}

/** The error for a cursor this store did not hand out. */
export function invalidCursor(cursor: unknown, shape: string): InvalidArgumentError {
  return new InvalidArgumentError(
    `Expected \`after\` to be a cursor this store handed out (${shape}), got ${JSON.stringify(cursor) ?? String(cursor)}`,
    { details: { cursor: typeof cursor === 'string' ? cursor : String(cursor) } },
  );
}

/**
 * The error for a well-formed cursor past every position the store has handed out (`end`): a
 * cursor of another store, or made up. Read from it, it would pass over every event to come.
 */
export function cursorPastEnd(cursor: string, end: string): InvalidArgumentError {
  return new InvalidArgumentError(
    `Expected \`after\` to be a cursor this store handed out, got ${JSON.stringify(cursor)}: past the end of its stream (${end})`,
    { details: { cursor, end } },
  );
}

/** A cursor of the stores that number events in commit order (memory, SQLite): the event's seq. */
export function parseSeqCursor(cursor: string | null): number {
  if (cursor === null) return 0;
  if (typeof cursor !== 'string' || !/^(0|[1-9][0-9]{0,14})$/.test(cursor)) {
    throw invalidCursor(cursor, 'digits');
  }
  return Number(cursor);
}

/**
 * The stored form of a batch's events in the SQL stores: one row a commit, its events a JSON array
 * of `{ name, workflowId, taskId, at, payload }` (plus `engineId` where it is not the row's), in
 * the order they were written. `texts` holds each element's JSON text, `engineId` the row's engine
 * (the first event's). Payloads are checked first (see `encodePayloads`).
 */
export interface EncodedEvents {
  engineId: string;
  texts: string[];
}

/** Encodes events as the elements of a batch row (see `EncodedEvents`). */
export function encodeEvents(records: readonly EventRecord[]): EncodedEvents {
  const payloads = encodePayloads(records);
  const engineId = records[0]?.engineId ?? '';
  const texts = records.map((record, i) => {
    const engine = record.engineId === engineId ? '' : `"engineId":${JSON.stringify(record.engineId)},`;
    return (
      `{"name":${JSON.stringify(record.name)},${engine}"workflowId":${JSON.stringify(record.workflowId)},` +
      `"taskId":${JSON.stringify(record.taskId)},"at":${JSON.stringify(record.at)},"payload":${payloads[i]!}}`
    );
  });
  return { engineId, texts };
}

/** The JSON array of a batch row's elements. */
export function eventsArray(texts: readonly string[]): string {
  return `[${texts.join(',')}]`;
}

interface EventElement {
  name: string;
  engineId?: string;
  workflowId: string | null;
  taskId: string | null;
  at: number;
  payload: object;
}

/** An element of a batch row (its JSON text) as a store hands it out. */
export function decodeEvent(text: string, rowEngineId: string, cursor: string): StoredEventRecord {
  const element = JSON.parse(text) as EventElement;
  return {
    cursor,
    name: element.name,
    payload: element.payload,
    engineId: element.engineId ?? rowEngineId,
    workflowId: element.workflowId,
    taskId: element.taskId,
    at: element.at,
  };
}

/**
 * A cursor of the SQL stores: the position of a batch row (`key`, its parts given by `shape`) and
 * of an event in it (`index`, from 0). A cursor without an index (`key` alone) is past the whole
 * row: the end of a page, or a cursor handed out before events were stored as batch rows (one row
 * an event), which goes on to read what followed it.
 */
export interface RowCursor {
  key: bigint[];
  /** The event's index in its row; `WHOLE_ROW` when past all of it. */
  index: number;
}

/** The index of a cursor past every event of its row (bound as a SQL integer). */
export const WHOLE_ROW = 2 ** 31 - 1;

/**
 * Parses `key[:key...]:index` or `key[:key...]` (`parts` keys, each below `limits[i]`); null: the
 * start of the stream. Any other string: INVALID_ARGUMENT.
 */
export function parseRowCursor(cursor: string | null, limits: readonly bigint[], shape: string): RowCursor {
  if (cursor === null) return { key: limits.map(() => 0n), index: WHOLE_ROW };
  const parts = typeof cursor === 'string' ? cursor.split(':') : [];
  const digits = /^(0|[1-9][0-9]{0,19})$/;
  if (
    (parts.length !== limits.length && parts.length !== limits.length + 1) ||
    !parts.every((part) => digits.test(part))
  ) {
    throw invalidCursor(cursor, shape);
  }
  const key = parts.slice(0, limits.length).map((part) => BigInt(part));
  const index = parts.length > limits.length ? BigInt(parts.at(-1)!) : null;
  if (key.some((part, i) => part >= limits[i]!) || (index !== null && index >= BigInt(WHOLE_ROW))) {
    throw invalidCursor(cursor, shape);
  }
  return { key, index: index === null ? WHOLE_ROW : Number(index) };
}

/** Orders two row cursors (negative: `a` comes first). */
export function compareRowCursors(a: RowCursor, b: RowCursor): number {
  for (let i = 0; i < a.key.length; i += 1) {
    if (a.key[i] !== b.key[i]) return a.key[i]! < b.key[i]! ? -1 : 1;
  }
  return a.index - b.index;
}
