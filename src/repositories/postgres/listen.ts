import { userInfo } from 'node:os';
import type { Logger } from '../../engine/logger.js';
import { StoreError } from '../../errors/errors.js';
import { quote } from '../sql/statements.js';

/** The part of a pg Client the listener uses; pg stays an optional peer. */
interface PgListenClient {
  connect(): Promise<unknown>;
  query(text: string): Promise<unknown>;
  end(): Promise<void>;
  on(event: 'notification', listener: (message: { channel: string }) => void): unknown;
  on(event: 'error' | 'end', listener: (error?: Error) => void): unknown;
}

type PgClientConstructor = new (config: { connectionString: string }) => PgListenClient;

async function loadClient(): Promise<PgClientConstructor> {
  try {
    const module = (await import('pg')) as unknown as { default: { Client: PgClientConstructor } };
    return module.default.Client;
  } catch (error) {
    throw new StoreError('STORE_UNAVAILABLE', `Listening for work needs pg: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/** Milliseconds before a lost listening connection is opened again. */
const RECONNECT_MS = 1_000;

/**
 * Listens on `channel` on a connection of its own and calls `onWake` for each notification. A lost
 * connection is logged and opened again after RECONNECT_MS; `onWake` is called once it is back
 * (notifications sent meanwhile are lost). Resolves once the first LISTEN is in place, with the
 * function that stops listening.
 */
export async function listenOn(
  connectionString: string,
  channel: string,
  onWake: () => void,
  logger: Logger,
): Promise<() => Promise<void>> {
  const Client = await loadClient();
  const url = new URL(connectionString);
  if (!url.username && !process.env.PGUSER && !process.env.USER) url.username = userInfo().username;
  let stopped = false;
  let client: PgListenClient | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;

  const connect = async (): Promise<void> => {
    const next = new Client({ connectionString: url.toString() });
    let lost = false;
    const onLost = (error?: Error) => {
      if (lost || stopped) return;
      lost = true;
      if (client === next) client = null;
      logger.warn({ channel, error: error?.message }, 'Lost the connection listening for work; reconnecting');
      next.end().catch(() => {});
      reconnect();
    };
    next.on('error', onLost);
    next.on('end', onLost);
    next.on('notification', (message) => {
      if (message.channel === channel) onWake();
    });
    await next.connect();
    await next.query(`LISTEN ${quote(channel)}`);
    if (stopped) {
      await next.end().catch(() => {});
      return;
    }
    client = next;
  };

  const reconnect = (): void => {
    if (stopped || timer !== null) return;
    timer = setTimeout(() => {
      timer = null;
      connect().then(onWake, () => reconnect());
    }, RECONNECT_MS);
    timer.unref();
  };

  try {
    await connect();
  } catch (error) {
    stopped = true;
    if (timer !== null) clearTimeout(timer);
    throw error;
  }
  return async () => {
    stopped = true;
    if (timer !== null) clearTimeout(timer);
    timer = null;
    const open = client;
    client = null;
    await open?.end().catch(() => {});
  };
}
