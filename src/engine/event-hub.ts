import { InvalidArgumentError } from '../errors/errors.js';
import { describeThrown } from '../errors/normalize.js';
import type { Logger } from './logger.js';

/** Event names to payloads (an interface of object types fits). */
export type EventMap<Events> = { [K in keyof Events]: object };

/**
 * A typed publish/subscribe hub: `on` / `off` per event name, and async iterators with a bounded
 * buffer. Publishing is synchronous and cheap when nobody listens (`wants` first, then build the
 * payload); a listener that throws is logged and the others still run.
 */
export class EventHub<Events extends EventMap<Events>> {
  private readonly listeners = new Map<keyof Events, Set<(event: Events[keyof Events]) => void>>();
  private readonly feeds = new Set<Feed<Events>>();

  constructor(
    private readonly names: readonly (keyof Events & string)[],
    private readonly logger: Logger,
  ) {}

  /** Whether anyone listens for `name` (a listener or an iterator): check before building a payload. */
  wants(name: keyof Events): boolean {
    if ((this.listeners.get(name)?.size ?? 0) > 0) return true;
    for (const feed of this.feeds) if (feed.wants(name)) return true;
    return false;
  }

  /** Calls `listener` with each `name` event from now on; returns the function that stops it. */
  on<K extends keyof Events & string>(name: K, listener: (event: Events[K]) => void): () => void {
    this.expectName(name);
    if (typeof listener !== 'function') {
      throw new InvalidArgumentError(
        `Expected the listener of "${name}" to be a function, got ${typeof listener}`,
      );
    }
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, (set = new Set()));
    set.add(listener as (event: Events[keyof Events]) => void);
    return () => this.off(name, listener);
  }

  /** Stops a listener `on` added; one not added is ignored. */
  off<K extends keyof Events & string>(name: K, listener: (event: Events[K]) => void): void {
    const set = this.listeners.get(name);
    set?.delete(listener as (event: Events[keyof Events]) => void);
    if (set?.size === 0) this.listeners.delete(name);
  }

  /**
   * The events from now on, in the order published, as an async iterator: all of them, or those
   * named. It holds at most `bufferSize` events its reader has not taken; past that the oldest are
   * dropped and the next event read is preceded by `{ type: 'events.dropped', count }`. It ends when
   * `signal` aborts, when the reader breaks out of its loop, or when the hub closes.
   */
  iterate(
    options: { names?: readonly (keyof Events & string)[]; bufferSize?: number; signal?: AbortSignal } = {},
  ): AsyncIterableIterator<HubEvent<Events> | DroppedEvents> {
    const names = options.names === undefined ? null : new Set(options.names);
    for (const name of names ?? []) this.expectName(name);
    const bufferSize = options.bufferSize ?? 10_000;
    if (!Number.isInteger(bufferSize) || bufferSize < 1) {
      throw new InvalidArgumentError(
        `Expected \`bufferSize\` to be a positive integer, got ${String(bufferSize)}`,
      );
    }
    const feed = new Feed<Events>(names, bufferSize, () => this.feeds.delete(feed));
    this.feeds.add(feed);
    if (options.signal) {
      if (options.signal.aborted) feed.end();
      else options.signal.addEventListener('abort', () => feed.end(), { once: true });
    }
    return feed;
  }

  /** Delivers `event` to the listeners and iterators of `name`. */
  publish<K extends keyof Events & string>(name: K, event: Events[K]): void {
    const set = this.listeners.get(name);
    if (set) {
      for (const listener of [...set]) {
        try {
          listener(event);
        } catch (error) {
          this.logger.warn(
            { event: name, error: describeThrown(error).message },
            'An event listener threw; the engine goes on',
          );
        }
      }
    }
    for (const feed of this.feeds)
      if (feed.wants(name)) feed.push({ type: name, ...event } as HubEvent<Events>);
  }

  /** Ends every iterator (their readers see the end) and forgets every listener. */
  close(): void {
    for (const feed of [...this.feeds]) feed.end();
    this.listeners.clear();
  }

  private expectName(name: string): void {
    if (!(this.names as readonly string[]).includes(name)) {
      throw new InvalidArgumentError(`Unknown event "${name}"; expected one of ${this.names.join(', ')}`, {
        details: { event: name },
      });
    }
  }
}

/** An event as an iterator yields it: its name in `type`, then its payload. */
export type HubEvent<Events extends EventMap<Events>> = {
  [K in keyof Events & string]: { type: K } & Events[K];
}[keyof Events & string];

/** Yielded by an iterator before the next event when events were dropped (its buffer was full). */
export interface DroppedEvents {
  type: 'events.dropped';
  count: number;
}

class Feed<Events extends EventMap<Events>> implements AsyncIterableIterator<
  HubEvent<Events> | DroppedEvents
> {
  private readonly buffer: HubEvent<Events>[] = [];
  private dropped = 0;
  private waiting: ((result: IteratorResult<HubEvent<Events> | DroppedEvents>) => void) | null = null;
  private ended = false;

  constructor(
    private readonly names: ReadonlySet<keyof Events> | null,
    private readonly bufferSize: number,
    private readonly onEnd: () => void,
  ) {}

  wants(name: keyof Events): boolean {
    return !this.ended && (this.names === null || this.names.has(name));
  }

  push(event: HubEvent<Events>): void {
    if (this.waiting) {
      const resolve = this.waiting;
      this.waiting = null;
      resolve({ value: event, done: false });
      return;
    }
    this.buffer.push(event);
    if (this.buffer.length > this.bufferSize) {
      this.buffer.shift();
      this.dropped += 1;
    }
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.onEnd();
    const resolve = this.waiting;
    this.waiting = null;
    resolve?.({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<HubEvent<Events> | DroppedEvents>> {
    if (this.dropped > 0) {
      const count = this.dropped;
      this.dropped = 0;
      return Promise.resolve({ value: { type: 'events.dropped', count }, done: false });
    }
    const event = this.buffer.shift();
    if (event !== undefined) return Promise.resolve({ value: event, done: false });
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    if (this.waiting)
      return Promise.reject(new InvalidArgumentError('An event iterator is read by one reader at a time'));
    return new Promise((resolve) => (this.waiting = resolve));
  }

  return(): Promise<IteratorResult<HubEvent<Events> | DroppedEvents>> {
    this.buffer.length = 0;
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
