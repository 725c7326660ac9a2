import { createHash } from 'node:crypto';

/** A rendered view: the HTML of its `<main>` and a version naming that HTML. */
export interface Rendered {
  html: string;
  version: string;
}

/** The version of a view's HTML: 16 hex characters of its SHA-1. */
export const versionOf = (html: string): string => createHash('sha1').update(html).digest('hex').slice(0, 16);

/**
 * One Server-Sent Events message: `event:`, then a `data:` line per line of `data` (so a value
 * with line breaks arrives whole), then a blank line.
 */
export function sseFrame(event: string, data: string): string {
  if (/[\r\n]/.test(event)) throw new Error('An SSE event name is one line');
  const lines = data.split(/\r\n|\r|\n/).map((line) => `data: ${line}`);
  return `event: ${event}\n${lines.join('\n')}\n\n`;
}

interface Subscriber {
  /** The version the client has. */
  known: string | null;
  send(frame: string): void;
}

/**
 * Follows the store for the views clients watch: every `pollMs` (after the previous round ends)
 * each watched view is rendered again, once for all its clients, and a client whose version
 * differs gets the new HTML (`event: main`, `{ version, html }`). Nothing is sent while nothing
 * changed. A round that fails (the store unreachable) sends `event: trouble` once, until one works.
 */
export class LiveViews {
  private readonly views = new Map<string, Set<Subscriber>>();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private closed = false;
  private troubled = false;

  constructor(
    private readonly render: (view: string) => Promise<Rendered>,
    private readonly pollMs: number,
  ) {}

  /** Starts sending `view`'s changes to `send`; `known` is the version the client already shows. */
  subscribe(view: string, known: string | null, send: (frame: string) => void): () => void {
    const subscriber: Subscriber = { known, send };
    let set = this.views.get(view);
    if (!set) this.views.set(view, (set = new Set()));
    set.add(subscriber);
    this.schedule();
    return () => {
      set.delete(subscriber);
      if (set.size === 0) this.views.delete(view);
    };
  }

  /** Views watched now, with their clients. */
  get watched(): number {
    return this.views.size;
  }

  private schedule(): void {
    if (this.closed || this.timer !== null || this.running !== null || this.views.size === 0) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.round().finally(() => {
        this.running = null;
        this.schedule();
      });
    }, this.pollMs);
  }

  /** Renders every watched view once and sends it to the clients that do not have it. */
  private async round(): Promise<void> {
    try {
      for (const [view, subscribers] of [...this.views]) {
        const rendered = await this.render(view);
        const message = sseFrame('main', JSON.stringify(rendered));
        for (const subscriber of subscribers) {
          if (subscriber.known === rendered.version) continue;
          subscriber.known = rendered.version;
          subscriber.send(message);
        }
      }
      this.troubled = false;
    } catch (error) {
      if (this.troubled) return;
      this.troubled = true;
      const frame = sseFrame('trouble', JSON.stringify({ message: (error as Error).message }));
      for (const subscribers of this.views.values())
        for (const subscriber of subscribers) subscriber.send(frame);
    }
  }

  /** Stops following; waits for a round under way. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }
}
