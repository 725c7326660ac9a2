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

/** What `Store.pruneControl` deletes of the stored events. */
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

/** A cursor of the stores that number events in commit order (memory, SQLite): the event's seq. */
export function parseSeqCursor(cursor: string | null): number {
  if (cursor === null) return 0;
  if (typeof cursor !== 'string' || !/^(0|[1-9][0-9]{0,14})$/.test(cursor)) {
    throw invalidCursor(cursor, 'digits');
  }
  return Number(cursor);
}
