import { InvalidArgumentError, InvalidStateError } from '../errors/errors.js';
import { isTransientStoreError } from './commit-outage.js';
import type { EventPage, EventQuery } from '../repositories/events.js';
import type { Store } from '../repositories/store.js';
import type { EngineClock } from './clock.js';
import { SYMPHONY_EVENT_NAMES, type SymphonyEventName, type SymphonyEvents } from './engine-events.js';
import type { Logger } from './logger.js';
import { expectId, show } from './validate-ids.js';

/** An event read from the store: the event an engine published, with where it stands in the stream. */
export type StoredEvent<Name extends SymphonyEventName = SymphonyEventName> = {
  [K in Name]: {
    /** Its position in the store's stream: `after: cursor` reads the events that follow. Opaque. */
    cursor: string;
    name: K;
    /** The fields the writing engine's listeners got. */
    payload: SymphonyEvents[K];
    /** The engine that made the change and wrote the event. */
    engineId: string;
    workflowId: string | null;
    taskId: string | null;
    /** When the change was made: epoch ms of the writing engine's clock. */
    at: number;
  };
}[Name];

/** What `registry.readEvents` reads. */
export interface ReadEventsOptions<Name extends SymphonyEventName = SymphonyEventName> {
  /** A cursor from an earlier read (an event's or a page's). @default the oldest event kept */
  after?: string;
  /** At most this many events (0 to 10,000); 0 reads none, for the cursor of the end. @default 1000 */
  limit?: number;
  /** Only events with these names. @default every name */
  names?: readonly Name[];
  /** Only the events of this workflow (its tasks' and its own). @default every workflow */
  workflowId?: string;
  /** Only the events of this task. @default every task */
  taskId?: string;
}

/** A page of stored events and where the next read starts. */
export interface StoredEventPage<Name extends SymphonyEventName = SymphonyEventName> {
  events: StoredEvent<Name>[];
  /**
   * Pass it as `after` to read on: the last event's cursor when the page is full, else past every
   * event the store held at the time of the read (matching the filters or not).
   */
  cursor: string;
}

/** What `registry.watchEvents` follows. */
export interface WatchEventsOptions<Name extends SymphonyEventName = SymphonyEventName> extends Omit<
  ReadEventsOptions<Name>,
  'limit'
> {
  /** Ends the iteration. */
  signal?: AbortSignal;
  /**
   * Milliseconds between two reads of the store once the reader has caught up (on the engine's
   * clock); a commit of this engine's events reads at once. @default 250
   */
  pollMs?: number;
}

const MAX_LIMIT = 10_000;

/** Checks `registry.readEvents`' options (INVALID_ARGUMENT) into the store's query. */
export function eventQuery(options: ReadEventsOptions | undefined, limitDefault = 1_000): EventQuery {
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw new InvalidArgumentError(`Expected the options to be an object, got ${show(options)}`);
  }
  const { after, limit = limitDefault, names, workflowId, taskId } = options ?? {};
  if (after !== undefined && (typeof after !== 'string' || after === '')) {
    throw new InvalidArgumentError(`Expected \`after\` to be a cursor (a string), got ${show(after)}`);
  }
  if (!Number.isInteger(limit) || limit < 0 || limit > MAX_LIMIT) {
    throw new InvalidArgumentError(
      `Expected \`limit\` to be an integer from 0 to ${MAX_LIMIT}, got ${show(limit)}`,
    );
  }
  const query: EventQuery = { after: after ?? null, limit };
  if (names !== undefined) query.names = expectNames(names);
  if (workflowId !== undefined) query.workflowId = expectId('workflowId', workflowId);
  if (taskId !== undefined) query.taskId = expectId('taskId', taskId);
  return query;
}

/** Checks `registry.watchEvents`' options (INVALID_ARGUMENT). */
export function watchSettings(options: WatchEventsOptions | undefined): {
  query: EventQuery;
  pollMs: number;
  signal: AbortSignal | undefined;
} {
  const { signal, pollMs = 250, ...filters } = options ?? {};
  if ('limit' in filters) throw new InvalidArgumentError('Expected no `limit` for watchEvents (it reads on)');
  const query = eventQuery(filters);
  if (typeof pollMs !== 'number' || !Number.isFinite(pollMs) || pollMs < 1) {
    throw new InvalidArgumentError(`Expected \`pollMs\` to be a number >= 1, got ${show(pollMs)}`);
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new InvalidArgumentError(`Expected \`signal\` to be an AbortSignal, got ${show(signal)}`);
  }
  return { query, pollMs, signal };
}

function expectNames(names: unknown): SymphonyEventName[] {
  if (!Array.isArray(names)) {
    throw new InvalidArgumentError(`Expected \`names\` to be an array of event names, got ${show(names)}`);
  }
  for (const name of names) {
    if (!(SYMPHONY_EVENT_NAMES as readonly unknown[]).includes(name)) {
      throw new InvalidArgumentError(
        `Unknown event ${show(name)} in \`names\`; expected some of ${SYMPHONY_EVENT_NAMES.join(', ')}`,
        { details: { event: String(name) } },
      );
    }
  }
  return [...(names as SymphonyEventName[])];
}

/** Reads a page of the store's events (INVALID_STATE for a store that keeps none). */
export async function readStoredEvents(store: Store, query: EventQuery): Promise<StoredEventPage> {
  if (typeof store.readEvents !== 'function') {
    throw new InvalidStateError(`The ${store.kind} store in use keeps no events (it has no readEvents)`);
  }
  return (await store.readEvents(query)) as StoredEventPage;
}

export interface EventWatchDeps {
  read(after: string | null): Promise<EventPage>;
  clock: EngineClock;
  logger: Logger;
  /** Calls `wake` after each commit of this engine that stored events; returns the function that stops it. */
  subscribe(wake: () => void): () => void;
  /** Called once the watch has ended. */
  ended(): void;
}

/**
 * Follows the store's events as an async iterator: reads a page after its cursor, hands its events
 * out one by one, reads again at once while pages come full, and once caught up waits `pollMs` (or
 * a commit of this engine's events) before the next read. A read the store fails as unreachable or
 * busy is logged and tried again after `pollMs`; any other error ends the iteration with it. Ends
 * on `signal`, when the reader leaves its loop, or when the registry stops.
 */
export class EventWatch implements AsyncIterableIterator<StoredEvent> {
  private readonly buffer: StoredEvent[] = [];
  private cursor: string | null;
  private done = false;
  private wakeUp: (() => void) | null = null;
  private readonly unsubscribe: () => void;
  private reading = false;

  constructor(
    private readonly deps: EventWatchDeps,
    after: string | null,
    private readonly pollMs: number,
    signal?: AbortSignal,
  ) {
    this.cursor = after;
    this.unsubscribe = deps.subscribe(() => this.wakeUp?.());
    if (signal?.aborted) this.end();
    else signal?.addEventListener('abort', () => this.end(), { once: true });
  }

  async next(): Promise<IteratorResult<StoredEvent>> {
    if (this.reading)
      throw new InvalidArgumentError('A watch of stored events is read by one reader at a time');
    this.reading = true;
    try {
      while (!this.done) {
        const event = this.buffer.shift();
        if (event !== undefined) return { value: event, done: false };
        if (await this.readPage()) continue;
        if (!this.done) await this.sleep();
      }
      return { value: undefined, done: true };
    } finally {
      this.reading = false;
    }
  }

  async return(): Promise<IteratorResult<StoredEvent>> {
    this.end();
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Ends the iteration: a reader waiting gets `done`. */
  end(): void {
    if (this.done) return;
    this.done = true;
    this.buffer.length = 0;
    this.unsubscribe();
    this.wakeUp?.();
    this.deps.ended();
  }

  /** Reads the next page into the buffer; false when it brought nothing (caught up, or failed transiently). */
  private async readPage(): Promise<boolean> {
    let page: EventPage;
    try {
      page = await this.deps.read(this.cursor);
    } catch (error) {
      if (this.done) return false;
      if (!isTransientStoreError(error)) {
        this.end();
        throw error;
      }
      this.deps.logger.warn({ err: error }, 'Reading stored events failed; trying again');
      return false;
    }
    if (this.done) return false;
    this.cursor = page.cursor;
    this.buffer.push(...(page.events as StoredEvent[]));
    return page.events.length > 0;
  }

  private sleep(): Promise<void> {
    return new Promise((resolve) => {
      const { clock } = this.deps;
      const timer = clock.setTimeout(() => wake(), this.pollMs);
      const wake = () => {
        clock.clearTimeout(timer);
        this.wakeUp = null;
        resolve();
      };
      this.wakeUp = wake;
    });
  }
}

/** A registry's open watches, and the wake-up of each after a commit of this engine's events. */
export class EventWatches {
  private readonly open = new Set<EventWatch>();
  private readonly wakes = new Set<() => void>();

  /** A new watch reading through `read` from `after` on. */
  watch(
    deps: Pick<EventWatchDeps, 'read' | 'clock' | 'logger'>,
    after: string | null,
    pollMs: number,
    signal?: AbortSignal,
  ): EventWatch {
    const watch: EventWatch = new EventWatch(
      {
        ...deps,
        subscribe: (wake) => {
          this.wakes.add(wake);
          return () => this.wakes.delete(wake);
        },
        ended: () => this.open.delete(watch),
      },
      after,
      pollMs,
      signal,
    );
    if (!signal?.aborted) this.open.add(watch);
    return watch;
  }

  /** Wakes every watch waiting for its next read (this engine has just written events). */
  wake(): void {
    for (const wake of [...this.wakes]) wake();
  }

  /** Ends every watch (the registry stops). */
  endAll(): void {
    for (const watch of [...this.open]) watch.end();
  }
}
