import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { ServiceRegistry, type EngineOptions } from '../index.js';
import { createSymphonyInspector, type SymphonyInspector } from '../inspect/index.js';
import { createStore, DEFAULT_SQLITE_PATH } from '../repositories/open-store.js';
import type { SqliteStore } from '../repositories/sqlite/sqlite-store.js';
import type { Store } from '../repositories/store.js';
import { CliUsageError } from './cli-error.js';
import { engineEnvOptions } from './engine-env.js';
import type { CliIO } from './io.js';

/** The environment variable that names the store when `--db` is not given. */
export const DB_ENV = 'SYMPHONY_DB';

/**
 * The store spec of a command: `--db`, else `$SYMPHONY_DB`, else `.symphony/symphony.db` under
 * the current directory. A relative file path is taken from the current directory.
 */
export function resolveDbSpec(flag: string | undefined, io: Pick<CliIO, 'env' | 'cwd'>): string {
  const fromEnv = io.env[DB_ENV];
  const spec = flag ?? (fromEnv !== undefined && fromEnv !== '' ? fromEnv : DEFAULT_SQLITE_PATH);
  if (spec === '') throw new CliUsageError('Expected --db to name a file or a URL, got an empty string');
  const isUrlOrMemory = /^[a-z][a-z0-9+.-]*:/i.test(spec) || spec === 'memory' || spec === ':memory:';
  return isUrlOrMemory || isAbsolute(spec) ? spec : resolve(io.cwd, spec);
}

/** The spec as it may be printed: a password in a URL is masked. */
export function describeDbSpec(spec: string): string {
  return spec.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*:)[^@]*@/i, '$1***@');
}

export interface OpenOptions {
  /** Fail with a usage error when the spec names a SQLite file that does not exist yet. */
  mustExist?: boolean;
  engine?: Omit<EngineOptions, 'store'>;
  /** Stream the engine's actors to a Stately inspector at this WebSocket URL (`true`: the default). */
  inspect?: string | boolean | undefined;
  /** Where `$SYMPHONY_CONTROL_POLL_MS` and `$SYMPHONY_LIVENESS_MS` are read. @default process.env */
  env?: CliIO['env'];
}

/** Where `--inspect` without a URL sends events: the Stately inspector's local default. */
export const DEFAULT_INSPECT_URL = 'ws://localhost:8080';

/** Builds the store of a spec (no I/O) and refuses a missing SQLite file when asked to. */
function storeOf(spec: string, mustExist: boolean): Store {
  const store = createStore(spec);
  if (mustExist && store.kind === 'sqlite') {
    const path = (store as SqliteStore).path;
    if (path !== ':memory:' && !existsSync(path)) {
      throw new CliUsageError(
        `No Symphony store at ${path}; run \`symphony demo\` or \`symphony run <file>\` first, or pass --db`,
      );
    }
  }
  return store;
}

/** An engine opened by a command, stopped once whoever asks first (the command or a signal). */
export class Session {
  private stopping: Promise<void> | null = null;

  constructor(
    readonly registry: ServiceRegistry,
    /** The store spec, as it may be printed. */
    readonly storeName: string,
    private readonly inspector: SymphonyInspector | null = null,
    /** The store spec as given (unmasked), to read the store again once the engine has stopped. */
    private readonly spec: string | null = null,
  ) {}

  /**
   * Reads the store through a connection of its own, e.g. after `stop()` closed the engine's:
   * undefined for a store that does not outlive its engine (`:memory:`).
   */
  async readAgain<R>(read: (store: Store) => Promise<R>): Promise<R | undefined> {
    if (this.spec === null) return undefined;
    const store = createStore(this.spec);
    if (store.kind === 'memory' || (store.kind === 'sqlite' && (store as SqliteStore).path === ':memory:')) {
      return undefined;
    }
    await store.open();
    try {
      return await read(store);
    } finally {
      await store.close();
    }
  }

  /** Stops the engine, closes the store and the inspector; later calls share the first one's promise. */
  stop(graceMs?: number): Promise<void> {
    this.stopping ??= this.registry
      .stop(graceMs === undefined ? {} : { graceMs })
      .finally(() => this.inspector?.stop());
    return this.stopping;
  }
}

/**
 * A started engine on the store of `spec`. Each CLI process names its engine after the host and
 * pid, so that leases in the store say who runs what.
 */
export async function openSession(spec: string, options: OpenOptions = {}): Promise<Session> {
  const url = options.inspect === true ? DEFAULT_INSPECT_URL : options.inspect || null;
  const inspector = url ? createSymphonyInspector(url) : null;
  try {
    const registry = await openRegistry(spec, options, inspector);
    return new Session(registry, describeDbSpec(spec), inspector, spec);
  } catch (error) {
    await inspector?.stop();
    throw error;
  }
}

async function openRegistry(
  spec: string,
  options: OpenOptions,
  inspector: SymphonyInspector | null,
): Promise<ServiceRegistry> {
  const store = storeOf(spec, options.mustExist ?? false);
  const registry = new ServiceRegistry({
    engineId: `symphony-cli:${hostname()}:${process.pid}`,
    ...options.engine,
    ...engineEnvOptions(options.env ?? process.env),
    ...(inspector ? { inspect: inspector.inspect } : {}),
    store,
  });
  try {
    await registry.start();
  } catch (error) {
    await store.close().catch(() => {});
    throw error;
  }
  return registry;
}
