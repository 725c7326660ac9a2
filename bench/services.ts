import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { Redis } from 'ioredis';
import pg from 'pg';

/** The PostgreSQL server of the bench (db `test`); SYMPHONY_BENCH_PG_URL overrides it. */
export const PG_URL = process.env.SYMPHONY_BENCH_PG_URL ?? 'postgres://127.0.0.1:5432/test';
/** The machine's Redis; SYMPHONY_BENCH_REDIS_PORT overrides the port. */
export const REDIS_HOST = '127.0.0.1';
export const REDIS_PORT = Number(process.env.SYMPHONY_BENCH_REDIS_PORT ?? 6379);

/** A tag unique to this process, so concurrent bench runs never share a schema or a queue. */
export const RUN_ID = `${process.pid}_${randomBytes(3).toString('hex')}`;
let names = 0;

/** A fresh PostgreSQL schema (or queue) name for one run of one contender. */
export function uniqueName(prefix: string): string {
  names += 1;
  return `${prefix}_${RUN_ID}_${names}`;
}

/** `url` with a user name filled in the way libpq would (the OS user's). */
export function pgUrl(url = PG_URL): string {
  const parsed = new URL(url);
  if (!parsed.username) parsed.username = process.env.PGUSER ?? process.env.USER ?? userInfo().username;
  return parsed.toString();
}

export async function withPg<R>(fn: (client: pg.Client) => Promise<R>): Promise<R> {
  const client = new pg.Client({ connectionString: pgUrl(), connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

const SCHEMA = /^[a-z_][a-z0-9_]*$/;

export async function dropSchema(schema: string): Promise<void> {
  if (!SCHEMA.test(schema)) throw new Error(`Refusing to drop schema ${JSON.stringify(schema)}`);
  await withPg((client) => client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
}

/** Null when PostgreSQL answers, else why not. */
export async function pgUnreachable(): Promise<string | null> {
  try {
    await withPg((client) => client.query('SELECT 1'));
    return null;
  } catch (error) {
    return `PostgreSQL at ${PG_URL} is unreachable: ${(error as Error).message}`;
  }
}

export function redisClient(port = REDIS_PORT): Redis {
  return new Redis({
    host: REDIS_HOST,
    port,
    maxRetriesPerRequest: null,
    lazyConnect: true,
    retryStrategy: () => null,
  });
}

/** The Redis persistence settings (appendonly, appendfsync, save), or why Redis cannot be asked. */
export async function redisPersistence(
  port = REDIS_PORT,
): Promise<{ appendonly: string; appendfsync: string; save: string } | string> {
  const client = redisClient(port);
  client.on('error', () => {});
  try {
    await client.connect();
    const read = async (key: string) => ((await client.config('GET', key)) as string[])[1] ?? '?';
    return {
      appendonly: await read('appendonly'),
      appendfsync: await read('appendfsync'),
      save: await read('save'),
    };
  } catch (error) {
    return `Redis at ${REDIS_HOST}:${port} is unreachable: ${(error as Error).message}`;
  } finally {
    client.disconnect();
  }
}

/** A redis-server this bench started (append-only file on, fsync every second) and owns. */
export interface OwnedRedis {
  port: number;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts `redis-server --appendonly yes --appendfsync everysec` on a free port in a temp folder;
 * returns why not when redis-server is not on PATH or does not come up.
 */
export async function startAofRedis(): Promise<OwnedRedis | string> {
  if (spawnSync('redis-server', ['--version']).status !== 0) return 'redis-server is not on PATH';
  const dir = mkdtempSync(join(tmpdir(), 'symphony-bench-redis-'));
  const port = await freePort();
  const child: ChildProcess = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--save',
      '',
    ],
    { stdio: 'ignore' },
  );
  child.on('error', () => {});
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 100; i += 1) {
    const state = await redisPersistence(port);
    if (typeof state !== 'string') return { port, stop };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await stop();
  return `redis-server on port ${port} did not answer`;
}

let gcFunction: (() => void) | null = null;

/** V8's collector: `global.gc` under --expose-gc, else exposed at run time. */
export function forceGc(): void {
  if (!gcFunction) {
    const exposed = (globalThis as { gc?: () => void }).gc;
    if (exposed) gcFunction = exposed;
    else {
      setFlagsFromString('--expose-gc');
      gcFunction = runInNewContext('gc') as () => void;
    }
  }
  gcFunction();
  gcFunction();
}
