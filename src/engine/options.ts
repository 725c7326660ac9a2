import type { InspectionEvent, Observer } from 'xstate';
import type { RoutingStrategy } from '../../machines/router.machine.js';
import { InvalidArgumentError } from '../errors/errors.js';
import type { StoreSpec } from '../repositories/open-store.js';
import type { CustomRoutingFunction } from '../routing/types.js';
import { expectId } from './validate-ids.js';
import { parsePrices, parseQuotas, type PriceTable, type Quota } from './budgets.js';
import { systemClock, type EngineClock } from './clock.js';
import { resolveLogger, type Logger } from './logger.js';
import { defaultRetryPolicy, expectNumber, expectRetryPolicy, type RetryPolicy } from './retry-policy.js';

export interface EngineOptions {
  /**
   * Where tasks, workflows and agent configs live: a Store, `':memory:'`, a SQLite file path or a
   * `postgres://` URL (see `createStore`). @default '.symphony/symphony.db' (SQLite, under the
   * current directory)
   */
  store?: StoreSpec;
  /**
   * How often, in ms, the engine beats on the store (a sign of life for other processes) and reads
   * the control commands (pause, resume, cancel) they wrote; 0 turns both off, and the engine can
   * then not be steered from another process. @default 500 for SQLite and PostgreSQL, 0 in memory
   */
  controlPollMs?: number;
  /**
   * How long each beat of this engine counts as a sign of life, in ms: until then other engines
   * leave its leased attempts and workflows to it (and wait for it to answer their commands); once
   * its beats stop coming, they take over after this long. Longer than `controlPollMs`. Tests that
   * start processes on a busy machine widen it; the CLI reads it from `$SYMPHONY_LIVENESS_MS`.
   * @default ten control polls, and at least 5000
   */
  livenessMs?: number;
  /**
   * Whether routing (`TaskRouter`: `getLoad`, `routeTask`, `routeTasks` and every strategy reading
   * load) adds the tasks other live engines on the store hold per agent config to this engine's own
   * figures, read from the store (`Store.heldLoad`) at most once per `controlPollMs`. A submitter
   * that routes tasks for workers turns it on. @default on once the engine runs a worker
   * (`startWorker`), off otherwise
   */
  clusterLoad?: boolean;
  /**
   * Cron schedules' crash window: a firing whose workflow is still not stored this long after it
   * was recorded is started by the next engine whose worker ticks (`Scheduler`, docs/policies.md).
   * @default 60000
   */
  scheduleRecoverAfterMs?: number;
  /** Time source for timestamps, timeouts and retry delays. @default the system clock */
  clock?: EngineClock;
  /** Makes ids for tasks, workflows, agent configs and executions. @default 21 random letters and digits (nanoid) */
  idGenerator?: () => string;
  /** Random numbers in [0, 1) for retry jitter. @default Math.random */
  random?: () => number;
  /** Receives every actor's inspection events (e.g. from `@statelyai/inspect`). @default none */
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
  /** Executions running at once across all agents. @default 100 */
  maxConcurrency?: number;
  /** Retry policy of executions that do not give their own. @default see defaultRetryPolicy */
  retry?: Partial<RetryPolicy>;
  /** Milliseconds an attempt may run; 0 means no limit. @default 0 */
  timeoutMs?: number;
  /**
   * Priority with aging: a waiting execution gains one priority point per `agingMs` milliseconds
   * waited, counted from when its plan is made (executeTask, enqueueTask and kin; a retry keeps its
   * place), so a task of priority p starts before any task of priority p + d that became ready more
   * than d * agingMs after it. The rank is stored in the plan, so workers claim in the same order;
   * give every engine that submits work one value. 0: no aging. @default 0
   */
  agingMs?: number;
  /** Strategy of `getTaskRouter()` when none is named. @default 'CAPABILITY_MATCH' */
  routingStrategy?: RoutingStrategy;
  /** The function the CUSTOM strategy calls. @default none (CUSTOM then throws) */
  customRouting?: CustomRoutingFunction;
  /** Largest inputData / outputData / metadata, as JSON bytes. @default 1048576 */
  maxPayloadBytes?: number;
  /**
   * Names this engine in its beats, its command acknowledgements and the leases of its running
   * attempts; unique among the engines sharing a store. A restarted engine with the same id takes
   * its interrupted attempts back at once; others take them once the old engine's beats stop.
   * @default `engine-` and a fresh random id
   */
  engineId?: string;
  /**
   * How long a running attempt without a timeout holds its lease, in ms; it matters only to engines
   * that cannot see the lease holder's beats (one that does not poll). @default 300000
   */
  leaseMs?: number;
  /**
   * How long, in ms, a commit that failed because the store was unreachable (a dropped
   * PostgreSQL connection, a server restart, a SQLite file locked or full) is retried, with
   * backoff and jitter, before the engine gives up: until then the API promises stay pending and
   * the work goes on; past it every pending promise rejects with STORE_UNAVAILABLE and the engine
   * lets go of its work (see docs/persistence.md). 0 fails at the first error. @default 30000
   */
  storeRetryMs?: number;
  /**
   * Receives what the engine and its store survive: lost connections, commit retries, reconnects
   * (pino-compatible: `error/warn/info/debug(fields, message)`). Also given to a store the engine
   * builds from a spec. @default none (silent)
   */
  logger?: Logger;
  /**
   * Prices of tokens, by model id, agent config id or `'*'`, in US dollars per million tokens:
   * what workflow budgets and agent quotas in `costUsd` count (docs/policies.md#budgets).
   * @default {} (tokens cost nothing)
   */
  prices?: PriceTable;
  /**
   * Token and cost quotas per agent config id (or agent id), over every task it ran in the store:
   * a task about to start on an agent config whose quota is spent ends BUDGET_EXCEEDED. For agents
   * defined in code; a config's own `quota` (stored with it) applies as well: where both do, limit
   * by limit the smaller holds.
   * @default {} (none)
   */
  quotas?: Record<string, Quota>;
  /**
   * Whether the engine writes its events to the store, each in the commit of the change it reports,
   * so that other processes read them (`registry.readEvents`, `symphony watch`; docs/monitoring.md).
   * Off, the engine's listeners still hear them. @default true
   */
  storeEvents?: boolean;
  /** How long stored events are kept (see {@link EventRetentionOptions}). */
  eventRetention?: EventRetentionOptions;
}

/**
 * How long stored events are kept. Engines that poll the store for control commands prune it when
 * they start and every `pruneEveryMs` after; an event goes when either limit is passed.
 */
export interface EventRetentionOptions {
  /** The most events kept in the store (the oldest go). @default 100000 */
  maxEvents?: number;
  /** How long an event is kept, in ms from its `at`. @default 604800000 (7 days) */
  maxAgeMs?: number;
  /** Milliseconds between two prunes of a running engine. @default 60000 */
  pruneEveryMs?: number;
}

export type ResolvedEventRetention = Required<EventRetentionOptions>;

export interface ResolvedEngineOptions {
  store: StoreSpec | undefined;
  controlPollMs: number | undefined;
  livenessMs: number | undefined;
  clusterLoad: boolean | undefined;
  clock: EngineClock;
  idGenerator: () => string;
  random: () => number;
  inspect: EngineOptions['inspect'];
  maxConcurrency: number;
  retry: RetryPolicy;
  timeoutMs: number;
  agingMs: number;
  routingStrategy: RoutingStrategy;
  customRouting: CustomRoutingFunction | undefined;
  maxPayloadBytes: number;
  engineId: string;
  leaseMs: number;
  storeRetryMs: number;
  logger: Logger;
  prices: PriceTable;
  quotas: Record<string, Quota>;
  storeEvents: boolean;
  eventRetention: ResolvedEventRetention;
}

export function resolveEngineOptions(options: EngineOptions, defaultId: () => string): ResolvedEngineOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError(`Expected options to be an object, got ${String(options)}`);
  }
  const { controlPollMs, livenessMs } = options;
  if (typeof controlPollMs === 'number' && typeof livenessMs === 'number' && livenessMs <= controlPollMs) {
    throw new InvalidArgumentError(
      `Expected \`livenessMs\` to be greater than \`controlPollMs\` (${controlPollMs}), got ${livenessMs}`,
    );
  }
  return {
    store: options.store,
    controlPollMs:
      options.controlPollMs === undefined
        ? undefined
        : expectNumber('controlPollMs', options.controlPollMs, 0, false),
    livenessMs:
      options.livenessMs === undefined ? undefined : expectNumber('livenessMs', options.livenessMs, 1, false),
    clusterLoad: expectClusterLoad(options.clusterLoad),
    clock: options.clock ?? systemClock,
    idGenerator: options.idGenerator === undefined ? defaultId : checkedIds(options.idGenerator),
    random: options.random ?? Math.random,
    inspect: options.inspect,
    maxConcurrency: expectNumber('maxConcurrency', options.maxConcurrency ?? 100, 1, true),
    retry: expectRetryPolicy(options.retry, defaultRetryPolicy),
    timeoutMs: expectNumber('timeoutMs', options.timeoutMs ?? 0, 0, false),
    agingMs: expectNumber('agingMs', options.agingMs ?? 0, 0, false),
    routingStrategy: options.routingStrategy ?? 'CAPABILITY_MATCH',
    customRouting: options.customRouting,
    maxPayloadBytes: expectNumber('maxPayloadBytes', options.maxPayloadBytes ?? 1_048_576, 1, true),
    engineId: expectEngineId(options.engineId) ?? `engine-${defaultId()}`,
    leaseMs: expectNumber('leaseMs', options.leaseMs ?? 300_000, 1, false),
    storeRetryMs: expectNumber('storeRetryMs', options.storeRetryMs ?? 30_000, 0, false),
    logger: resolveLogger(options.logger),
    prices: options.prices === undefined ? {} : parsePrices(options.prices),
    quotas: options.quotas === undefined ? {} : parseQuotas(options.quotas),
    storeEvents: expectBoolean('storeEvents', options.storeEvents) ?? true,
    eventRetention: resolveRetention(options.eventRetention),
  };
}

function resolveRetention(value: EventRetentionOptions | undefined): ResolvedEventRetention {
  if (value !== undefined && (typeof value !== 'object' || value === null)) {
    throw new InvalidArgumentError(`Expected \`eventRetention\` to be an object, got ${String(value)}`);
  }
  const { maxEvents = 100_000, maxAgeMs = 604_800_000, pruneEveryMs = 60_000 } = value ?? {};
  return {
    maxEvents: expectNumber('eventRetention.maxEvents', maxEvents, 1, true),
    maxAgeMs: expectNumber('eventRetention.maxAgeMs', maxAgeMs, 0, false),
    pruneEveryMs: expectNumber('eventRetention.pruneEveryMs', pruneEveryMs, 1, false),
  };
}

function expectBoolean(name: string, value: unknown): boolean | undefined {
  if (value === undefined || typeof value === 'boolean') return value;
  throw new InvalidArgumentError(`Expected \`${name}\` to be a boolean, got ${JSON.stringify(value)}`);
}

function expectEngineId(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '' || value.length > 200) {
    throw new InvalidArgumentError(`Expected \`engineId\` to be a non-empty string, got ${String(value)}`);
  }
  return expectId('engineId', value);
}

/** The user's id generator, whose every id must be one the stores keep and `expectId` accepts. */
function checkedIds(generate: unknown): () => string {
  if (typeof generate !== 'function') {
    throw new InvalidArgumentError(`Expected \`idGenerator\` to be a function, got ${typeof generate}`);
  }
  return () => expectId('idGenerator()', (generate as () => unknown)());
}

function expectClusterLoad(value: unknown): boolean | undefined {
  if (value === undefined || typeof value === 'boolean') return value;
  throw new InvalidArgumentError(`Expected \`clusterLoad\` to be a boolean, got ${JSON.stringify(value)}`);
}
