import { existsSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { InvalidArgumentError, ServiceRegistry, type EngineOptions } from '../index.js';
import type { SymphonyInspector } from '../inspect/index.js';
import { createStore, DEFAULT_SQLITE_PATH } from '../repositories/open-store.js';
import type { SqliteStore } from '../repositories/sqlite/sqlite-store.js';
import type { Store, StoredCommand, StoredSignal } from '../repositories/store.js';
import type { HeldLoad } from '../repositories/held-load.js';
import type { StoredBreaker } from '../repositories/breakers.js';
import type { RateBucketsRead } from '../domain/rate-limit.js';
import { CliUsageError } from './cli-error.js';
import { ErrorCode } from '../errors/codes.js';
import { SymphonyError } from '../errors/symphony-error.js';
import { cliLogger, engineEnvOptions } from './engine-env.js';
import { DB_ENV, DEFAULT_INSPECT_URL } from './defaults.js';
import { CommandHints } from './hints.js';
import type { CliIO } from './io.js';
import type { SubmittedWorkflow } from '../repositories/workflow-runs.js';

export { DB_ENV, DEFAULT_INSPECT_URL };

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
  /**
   * A command that only reads the store (list, show, watch, top, ui...): the store is opened
   * read-only (`Store.open({ readOnly: true })`: nothing created or migrated, a place without a
   * Symphony store refused with exit 2), and its engine runs no control poller, so it writes no
   * beat and `symphony workers` does not list it as an engine.
   */
  readOnly?: boolean;
  /**
   * Whether the engine runs its control poller, which beats on the store (so that `symphony
   * workers` lists the process). False for a first look that may find nothing to change (the probe
   * of `pause`, `resume`, `retry`...). @default !readOnly
   */
  beats?: boolean;
  engine?: Omit<EngineOptions, 'store'>;
  /** Stream the engine's actors to a Stately inspector at this WebSocket URL (`true`: the default). */
  inspect?: string | boolean | undefined;
  /** Where `$SYMPHONY_CONTROL_POLL_MS` and `$SYMPHONY_LIVENESS_MS` are read. @default process.env */
  env?: CliIO['env'];
  /**
   * The directory the command runs in: a store spec that is the default store there is left out of
   * the commands the CLI suggests. @default process.cwd()
   */
  cwd?: string;
}

/** Whether nothing is left of the store once the command ends (`:memory:`). */
function isTransient(store: Store): boolean {
  return store.kind === 'memory' || (store.kind === 'sqlite' && (store as SqliteStore).path === ':memory:');
}

/**
 * Refuses a SQLite path that is a directory, and one that does not exist when `mustExist` (a
 * command that reads the store must not create an empty one).
 */
function checkStore(store: Store, mustExist: boolean, hints: CommandHints): void {
  if (store.kind !== 'sqlite') return;
  const path = (store as SqliteStore).path;
  if (path === ':memory:') return;
  if (existsSync(path) && statSync(path).isDirectory()) {
    throw new InvalidArgumentError(
      `Expected the store to be a SQLite file, got the directory ${path}; name a file in it, such as ${join(path, 'symphony.db')}`,
      { details: { path } },
    );
  }
  if (mustExist && !existsSync(path)) {
    throw new CliUsageError(
      `No Symphony store at ${path}; run ${hints.quoted('demo')} or ${hints.quoted('run <file>')} first, ${hints.namesStore ? 'or check the --db path' : 'or pass --db'}`,
    );
  }
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
    /** Writes the commands the CLI suggests so that they name this store. */
    readonly hints: CommandHints = new CommandHints(null),
    /** The engine's store, for what the registry does not read (signals). */
    private readonly store: Store | null = null,
  ) {}

  /** How the workflow was last handed to workers as a whole, if it was (`enqueueWorkflow` of a graph). */
  async submitted(workflowId: string): Promise<SubmittedWorkflow | undefined> {
    return (await this.submittedWorkflows()).find((run) => run.workflowId === workflowId);
  }

  /** Every workflow handed to workers as a whole, oldest first (none on a store without them). */
  async submittedWorkflows(): Promise<SubmittedWorkflow[]> {
    return (await this.store?.submittedWorkflows?.()) ?? [];
  }

  /** The workflow's signals, oldest first, each with the task that took it (null: not taken yet). */
  async signals(workflowId: string): Promise<StoredSignal[]> {
    return this.store === null ? [] : this.store.signals(workflowId);
  }

  /**
   * The unfinished tasks live engines hold, per agent key and holder (`Store.heldLoad`); null on a
   * store that does not count them.
   */
  async heldLoad(): Promise<HeldLoad[] | null> {
    if (!this.store?.heldLoad) return null;
    return this.store.heldLoad({ now: this.registry.options.clock.now() });
  }

  /** The circuit breakers' last transitions as engines shared them through the store, by agent id. */
  async breakers(): Promise<StoredBreaker[]> {
    return (await this.store?.breakers?.()) ?? [];
  }

  /**
   * Rate-limit buckets as stored, read only (`Store.readRateBuckets`); null on a store without rate
   * limits. The agents page applies the bucket law to a copy (see src/cli/overview/agents.ts).
   */
  async rateBuckets(keys: readonly string[]): Promise<RateBucketsRead | null> {
    if (!this.store?.readRateBuckets || keys.length === 0) return null;
    return this.store.readRateBuckets(keys);
  }

  /** The newest control commands (pause, resume, cancel) of the store, oldest first, at most `limit`. */
  async recentCommands(limit: number): Promise<StoredCommand[]> {
    if (this.store === null) return [];
    const latest = await this.store.latestCommandSeq();
    return this.store.commandsAfter(Math.max(0, latest - limit), limit);
  }

  /**
   * Reads the store through a connection of its own, e.g. after `stop()` closed the engine's:
   * undefined for a store that does not outlive its engine (`:memory:`).
   */
  async readAgain<R>(read: (store: Store) => Promise<R>): Promise<R | undefined> {
    if (this.spec === null) return undefined;
    const store = createStore(this.spec);
    if (isTransient(store)) return undefined;
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
  const logger = cliLogger(options.env ?? process.env);
  const store = createStore(spec, logger === undefined ? {} : { logger });
  const isDefault = spec === resolve(options.cwd ?? process.cwd(), DEFAULT_SQLITE_PATH);
  const hints = new CommandHints(isTransient(store) ? false : isDefault ? null : describeDbSpec(spec));
  checkStore(store, options.mustExist ?? false, hints);
  const url = options.inspect === true ? DEFAULT_INSPECT_URL : options.inspect || null;
  // The inspector (and its WebSocket client) is loaded only by a command that streams to one.
  const inspector = url ? (await import('../inspect/index.js')).createSymphonyInspector(url) : null;
  try {
    if (options.readOnly === true && !isTransient(store)) await openToRead(store, hints);
    const registry = await openRegistry(store, options, inspector);
    return new Session(registry, describeDbSpec(spec), inspector, spec, hints, store);
  } catch (error) {
    await inspector?.stop();
    throw error;
  }
}

/** Opens the store to read it, as it is; a place without a Symphony store is a usage error. */
async function openToRead(store: Store, hints: CommandHints): Promise<void> {
  try {
    await store.open({ readOnly: true });
  } catch (error) {
    if (!SymphonyError.isInstance(error) || error.code !== ErrorCode.STORE_NOT_FOUND) throw error;
    throw new CliUsageError(
      `${error.message}; this command only reads a store: run ${hints.quoted('demo')} or ${hints.quoted('run <file>')} first, ${hints.namesStore ? 'or check the --db spec' : 'or pass --db'}`,
      { cause: error },
    );
  }
}

async function openRegistry(
  store: Store,
  options: OpenOptions,
  inspector: SymphonyInspector | null,
): Promise<ServiceRegistry> {
  const registry = new ServiceRegistry({
    engineId: `symphony-cli:${hostname()}:${process.pid}`,
    ...options.engine,
    ...engineEnvOptions(options.env ?? process.env),
    ...(options.readOnly === true || options.beats === false ? { controlPollMs: 0 } : {}),
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
