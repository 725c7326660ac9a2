import net from 'node:net';
import tls from 'node:tls';
import type { InspectionEvent, Observer } from 'xstate';
import type WebSocket from 'ws';
import { InvalidArgumentError } from '../errors/errors.js';
import { RingBuffer } from './ring-buffer.js';
import { captureEvent, safeJson, toStatelyEvent, type CapturedEvent } from './stately-events.js';

export interface SymphonyInspectorOptions {
  /** Events kept while the socket is not open yet; past it the oldest are dropped. @default 1000 */
  maxBufferedEvents?: number;
  /** Connection attempts before the inspector gives up for good, the first included. @default 4 */
  maxConnectAttempts?: number;
  /** Delay before the second attempt, in ms; each further delay doubles. @default 100 */
  retryDelayMs?: number;
  /** How long one attempt may take to connect and upgrade, in ms. @default 2000 */
  connectTimeoutMs?: number;
  /** Bytes the socket may hold unsent (a slow viewer); events past it are dropped. @default 16777216 */
  maxUnsentBytes?: number;
  /** Nesting depth past which contexts and events are cut. @default 10 */
  serializationDepthLimit?: number;
  /** Called once when the inspector gives up connecting; it then ignores every event. @default none */
  onGiveUp?: (error: Error) => void;
}

export type SymphonyInspectorStatus = 'connecting' | 'open' | 'closed';

export interface SymphonyInspector {
  /** Pass it as `new ServiceRegistry({ inspect })` (or to any XState `createActor`). */
  readonly inspect: Observer<InspectionEvent>;
  /** `connecting` (events are buffered), `open` (events are sent) or `closed` (events are ignored). */
  readonly status: SymphonyInspectorStatus;
  /** Events dropped so far: buffer overflow, a slow viewer, or sent while closed. */
  readonly dropped: number;
  /** Closes the socket and cancels any retry; resolves once the socket is gone (bound). */
  stop(): Promise<void>;
}

type WebSocketClass = typeof WebSocket;

const DEFINITION_DEPTH = 32;

function expectInteger(name: string, value: number | undefined, fallback: number, min: number): number {
  const resolved = value ?? fallback;
  if (!Number.isInteger(resolved) || resolved < min) {
    throw new InvalidArgumentError(`Expected \`${name}\` to be an integer >= ${min}, got ${String(value)}`);
  }
  return resolved;
}

/** The connect function `ws` uses by default, made to hand its socket to `onSocket`. */
function connectWith(secure: boolean, onSocket: (socket: net.Socket) => void) {
  return (options: net.NetConnectOpts & tls.ConnectionOptions): net.Socket => {
    const socket = secure
      ? tls.connect({
          ...options,
          path: undefined,
          servername: options.servername ?? serverName(options.host),
        })
      : net.connect({
          ...options,
          path: (options as { socketPath?: string }).socketPath,
        } as net.NetConnectOpts);
    onSocket(socket);
    return socket;
  };
}

function serverName(host: string | undefined): string | undefined {
  return host === undefined || net.isIP(host) !== 0 ? undefined : host;
}

/**
 * Streams every actor of an engine to a Stately inspector listening on a WebSocket (`url`), in the
 * event format of `@statelyai/inspect`. It never keeps the process alive: an open socket and the
 * retry timers are unref'd, a connect attempt (the only thing that holds the process, so that
 * early events reach a listening inspector) ends after `connectTimeoutMs`, a refused one at once;
 * it gives up after `maxConnectAttempts` (then every event is ignored at once), and events seen
 * before the socket opens wait in a bounded buffer. Reconnects (same bounds) if a connection drops.
 * @example
 * const inspector = createSymphonyInspector('ws://localhost:8080');
 * const registry = new ServiceRegistry({ inspect: inspector.inspect });
 * // ... run work ...
 * await registry.stop();
 * await inspector.stop();
 */
export function createSymphonyInspector(
  url = 'ws://localhost:8080',
  options: SymphonyInspectorOptions = {},
): SymphonyInspector {
  return new WebSocketInspector(url, options);
}

class WebSocketInspector implements SymphonyInspector {
  readonly inspect: Observer<InspectionEvent>;
  private readonly buffer: RingBuffer<CapturedEvent>;
  private readonly maxConnectAttempts: number;
  private readonly retryDelayMs: number;
  private readonly connectTimeoutMs: number;
  private readonly maxUnsentBytes: number;
  private readonly depthLimit: number;
  private readonly secure: boolean;
  private readonly definitions = new WeakMap<object, string>();
  private state: SymphonyInspectorStatus = 'connecting';
  private socket: WebSocket | null = null;
  /** A connection attempt is under way (loading `ws`, connecting or upgrading). */
  private attempting = false;
  private stopRequested = false;
  private failures = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private droppedWhileOpen = 0;
  private readonly finished: Promise<void>;
  private markFinished!: () => void;

  constructor(
    private readonly url: string,
    private readonly options: SymphonyInspectorOptions,
  ) {
    if (typeof url !== 'string' || !/^wss?:\/\//.test(url)) {
      throw new InvalidArgumentError(`Expected \`url\` to be a ws:// or wss:// URL, got ${String(url)}`);
    }
    this.secure = url.startsWith('wss:');
    this.buffer = new RingBuffer(expectInteger('maxBufferedEvents', options.maxBufferedEvents, 1000, 0));
    this.maxConnectAttempts = expectInteger('maxConnectAttempts', options.maxConnectAttempts, 4, 1);
    this.retryDelayMs = expectInteger('retryDelayMs', options.retryDelayMs, 100, 0);
    this.connectTimeoutMs = expectInteger('connectTimeoutMs', options.connectTimeoutMs, 2000, 1);
    this.maxUnsentBytes = expectInteger('maxUnsentBytes', options.maxUnsentBytes, 16 * 1024 * 1024, 0);
    this.depthLimit = expectInteger('serializationDepthLimit', options.serializationDepthLimit, 10, 1);
    this.inspect = { next: (event) => this.receive(event) };
    this.finished = new Promise((resolve) => (this.markFinished = resolve));
    this.connect();
  }

  get status(): SymphonyInspectorStatus {
    return this.state;
  }

  get dropped(): number {
    return this.buffer.dropped + this.droppedWhileOpen;
  }

  /**
   * Takes no more events. An open socket is closed once what was sent is flushed; a connection
   * attempt under way may finish (within `connectTimeoutMs`) to deliver the buffered events first.
   */
  readonly stop = (): Promise<void> => {
    if (this.stopRequested) return this.finished;
    this.stopRequested = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.socket && this.state === 'open') closeGracefully(this.socket);
    else if (!this.attempting) this.finish();
    return this.finished;
  };

  private receive(event: InspectionEvent): void {
    if (this.state === 'closed' || this.stopRequested) return;
    const captured = captureEvent(event, Date.now());
    if (captured === undefined) return;
    if (this.state === 'open') this.send(captured);
    else this.buffer.push(captured);
  }

  private send(captured: CapturedEvent): void {
    const socket = this.socket;
    if (!socket || socket.readyState !== socket.OPEN || socket.bufferedAmount > this.maxUnsentBytes) {
      this.droppedWhileOpen += 1;
      return;
    }
    const event = toStatelyEvent(captured, (config) => this.definitionOf(config));
    socket.send(safeJson(event, this.depthLimit));
  }

  private definitionOf(config: object): string {
    let definition = this.definitions.get(config);
    if (definition === undefined) {
      // Made once per machine, so deep enough for nested states' transitions and actions.
      definition = safeJson(config, Math.max(this.depthLimit, DEFINITION_DEPTH));
      this.definitions.set(config, definition);
    }
    return definition;
  }

  private connect(): void {
    this.attempting = true;
    import('ws').then(
      (module) => this.open((module.default ?? module.WebSocket) as WebSocketClass),
      (error: unknown) => {
        this.attempting = false;
        this.giveUp(new Error(`symphony/inspect needs the \`ws\` package: ${String(error)}`));
      },
    );
  }

  private open(WebSocketClass: WebSocketClass): void {
    if (this.state === 'closed' || (this.stopRequested && this.buffer.size === 0)) {
      this.attempting = false;
      this.finish();
      return;
    }
    let socket: WebSocket;
    let raw: net.Socket | null = null;
    try {
      socket = new WebSocketClass(this.url, {
        handshakeTimeout: this.connectTimeoutMs,
        createConnection: connectWith(this.secure, (created) => (raw = created)) as never,
      });
    } catch (error) {
      this.attempting = false;
      this.giveUp(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    this.socket = socket;
    let lastError: Error | null = null;
    socket.on('error', (error) => {
      lastError = error;
    });
    socket.on('close', () => {
      this.attempting = false;
      this.onClose(socket, lastError);
    });
    socket.on('open', () => {
      this.attempting = false;
      // Ref'd only while connecting (bounded by connectTimeoutMs), so early events get through.
      raw?.unref();
      this.state = 'open';
      this.failures = 0;
      for (const captured of this.buffer.drain()) this.send(captured);
      if (this.stopRequested) closeGracefully(socket);
    });
  }

  private onClose(socket: WebSocket, error: Error | null): void {
    if (this.socket !== socket) return;
    this.socket = null;
    if (this.stopRequested || this.state === 'closed') {
      this.finish();
      return;
    }
    this.state = 'connecting';
    this.failures += 1;
    if (this.failures >= this.maxConnectAttempts) {
      this.giveUp(error ?? new Error(`The inspector at ${this.url} closed the connection`));
      return;
    }
    const delay = this.retryDelayMs * 2 ** (this.failures - 1);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, delay);
    this.retryTimer.unref();
  }

  private giveUp(error: Error): void {
    if (this.state === 'closed') return;
    const stopping = this.stopRequested;
    this.finish();
    if (!stopping) this.options.onGiveUp?.(error);
  }

  /** Final: every event is ignored from now on. */
  private finish(): void {
    this.state = 'closed';
    this.buffer.drain();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.markFinished();
  }
}

/** Closes with a close frame; ws would wait 30 s for the reply on a ref'd timer, this waits 500 ms. */
function closeGracefully(socket: WebSocket): void {
  socket.close(1000);
  setTimeout(() => socket.terminate(), 500).unref();
}
