import { customAlphabet } from 'nanoid';
import { ROUTING_STRATEGIES, type RoutingStrategy } from '../machines/router.machine.js';
import type { AgentConfig } from './domain/agent-config.js';
import type { Agent } from './domain/agent.js';
import type { Task } from './domain/task.js';
import type { Workflow } from './domain/workflow.js';
import {
  EngineStoppedError,
  InvalidArgumentError,
  InvalidStateError,
  RepositoryNotFoundError,
} from './errors/errors.js';
import { MemoryStore } from './repositories/memory/memory-store.js';
import type { Repository } from './repositories/repository.js';
import { RepositoryStore } from './repositories/repository-store.js';
import { DEFAULT_SQLITE_PATH, createStore } from './repositories/open-store.js';
import type { Signal, Store } from './repositories/store.js';
import { AgentFactory } from './services/agent-factory.js';
import { EnhancedExecutor } from './services/enhanced-executor.js';
import { TaskManager } from './services/task-manager.js';
import { TaskRouter } from './services/task-router.js';
import { WorkflowTracker } from './services/workflow-tracker.js';
import { runSubmittedWorkflow } from './services/submitted-workflow.js';
import { resolveEngineOptions, type EngineOptions, type ResolvedEngineOptions } from './engine/options.js';
import { expectId } from './engine/validate-ids.js';
import { recoverExecutions, type AgentResolver, type RecoveryReport } from './engine/recovery.js';
import { Runtime } from './engine/runtime.js';
import {
  createEngineEvents,
  type EngineEvents,
  type SymphonyEventName,
  type SymphonyEvents,
} from './engine/engine-events.js';
import type { DroppedEvents, HubEvent } from './engine/event-hub.js';
import {
  EventWatches,
  eventQuery,
  readStoredEvents,
  watchSettings,
  type ReadEventsOptions,
  type StoredEvent,
  type StoredEventPage,
  type WatchEventsOptions,
} from './engine/stored-events.js';
import { sendSignal } from './engine/signals.js';
import { expectSignalName } from './graph/node-options.js';
import type { EngineStatus } from './engine/control-poller.js';
import { resolveWorkerOptions, Worker, type WorkerHandle, type WorkerOptions } from './engine/worker.js';
import { Scheduler } from './schedules/scheduler.js';

export type ServiceRegistryOptions = EngineOptions;

const CORE_REPOSITORIES = ['tasks', 'workflows', 'agentConfigs'] as const;

/**
 * Default ids: 21 letters and digits (about 125 random bits). No `-` or `_`, so an id never reads
 * as a command-line option and survives a double click in a terminal.
 */
const newId = customAlphabet('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz', 21);

/**
 * One engine: its store, its actors and its services. Construction does no I/O; the store opens
 * and the actors start on first use (or `start()`).
 * @example
 * const registry = new ServiceRegistry({ maxConcurrency: 50 });
 * const executor = registry.getEnhancedExecutor();
 */
export class ServiceRegistry {
  private static instance: ServiceRegistry | null = null;
  readonly options: ResolvedEngineOptions;
  private readonly repositories = new Map<string, Repository<{ id: string }>>();
  private runtimePromise: Promise<Runtime> | null = null;
  private stopped = false;
  private worker: Worker | null = null;
  private readonly taskManager: TaskManager;
  private readonly workflowTracker: WorkflowTracker;
  private readonly executor: EnhancedExecutor;
  private readonly agentFactory: AgentFactory;
  private readonly router: TaskRouter;
  private readonly hub: EngineEvents;
  private readonly scheduler: Scheduler;
  /** Open watches of the store's events (`watchEvents`). */
  private readonly watches = new EventWatches();

  constructor(options: ServiceRegistryOptions = {}) {
    this.options = resolveEngineOptions(options, newId);
    this.hub = createEngineEvents(this.options.logger);
    const runtime = () => this.runtime();
    this.taskManager = new TaskManager(runtime);
    this.workflowTracker = new WorkflowTracker(runtime);
    this.agentFactory = new AgentFactory(runtime);
    this.router = new TaskRouter(runtime, this.taskManager, this.options.customRouting);
    // A workflow's task with no agent given is routed to an agent config, whose agent runs it.
    this.executor = new EnhancedExecutor(
      runtime,
      async (task) => this.agentFactory.createAgent(await this.router.routeTask(task as Task)),
      {
        // A busy config is still one to fall back to: the task waits in its queue.
        route: (task, exclude, candidates) =>
          this.router.routeTask(task, {
            exclude,
            queueWhenBusy: true,
            ...(candidates === undefined ? {} : { candidates }),
          }),
        agentOf: (agentKey) => this.agentFactory.createAgent(agentKey),
      },
    );
    this.scheduler = new Scheduler(
      { runtime, enqueue: (workflowId, options) => this.executor.enqueueWorkflow(workflowId, options) },
      { recoverAfterMs: options.scheduleRecoverAfterMs },
    );
  }

  /** A process-wide default registry, built on first call with the default (SQLite) store. */
  static getInstance(): ServiceRegistry {
    ServiceRegistry.instance ??= new ServiceRegistry();
    return ServiceRegistry.instance;
  }

  /** Stops and forgets the default registry (tests). */
  static async resetInstance(): Promise<void> {
    const instance = ServiceRegistry.instance;
    ServiceRegistry.instance = null;
    await instance?.stop();
  }

  getTaskManager(): TaskManager {
    return this.taskManager;
  }

  getWorkflowTracker(): WorkflowTracker {
    return this.workflowTracker;
  }

  getEnhancedExecutor(): EnhancedExecutor {
    return this.executor;
  }

  /** Cron schedules that start workflows; engines running a worker fire them (docs/policies.md). */
  getScheduler(): Scheduler {
    return this.scheduler;
  }

  getAgentFactory(): AgentFactory {
    return this.agentFactory;
  }

  /** The router; naming a strategy switches the router actor to it. */
  getTaskRouter(strategy?: RoutingStrategy): TaskRouter {
    if (strategy !== undefined) {
      if (!ROUTING_STRATEGIES.includes(strategy)) {
        throw new InvalidArgumentError(
          `Expected a routing strategy (${ROUTING_STRATEGIES.join(', ')}), got ${JSON.stringify(String(strategy))}`,
        );
      }
      // Valid, so the switch cannot fail; it lands before any later call reaches the router actor.
      void this.router.setStrategy(strategy);
    }
    return this.router;
  }

  getRepository(name: 'tasks'): Repository<Task>;
  getRepository(name: 'workflows'): Repository<Workflow>;
  getRepository(name: 'agentConfigs'): Repository<AgentConfig>;
  getRepository<T extends { id: string }>(name: string): Repository<T>;
  getRepository(name: string): Repository<{ id: string }> {
    const repository = this.repositories.get(name) ?? this.storeRepository(name);
    if (!repository) throw new RepositoryNotFoundError(name);
    return repository;
  }

  /** Registers or replaces a repository; the core ones only before the engine starts. */
  registerRepository<T extends { id: string }>(name: string, repository: Repository<T>): void {
    if (typeof name !== 'string' || name === '') throw new InvalidArgumentError('Expected a repository name');
    if (typeof repository?.get !== 'function' || typeof repository.saveMany !== 'function') {
      throw new InvalidArgumentError(`Expected repository ${name} to implement Repository`);
    }
    if ((CORE_REPOSITORIES as readonly string[]).includes(name) && (this.runtimePromise || this.storeCache)) {
      throw new InvalidStateError(
        `Repository ${name} cannot be replaced once the engine has started or its store was used`,
      );
    }
    this.repositories.set(name, repository as unknown as Repository<{ id: string }>);
  }

  /** Opens the store and starts the actors; other methods do it on first use. */
  async start(): Promise<void> {
    await this.runtime();
  }

  /**
   * Resumes what the store holds unfinished (after a crash or a stop): interrupted attempts run
   * again under their retry policy, waiting retries fire at their recorded due time. Agents are
   * built by the agent factory from each task's agent config unless `resolveAgent` says otherwise.
   * With `workflowId`, only that workflow's tasks. Tasks another live engine holds are left to it.
   * @example
   * const { recovered, results } = await registry.recover();
   * await results;
   */
  async recover(
    options: { resolveAgent?: AgentResolver; workflowId?: string } = {},
  ): Promise<RecoveryReport> {
    const runtime = await this.runtime();
    const resolveAgent = options.resolveAgent ?? ((task: Task) => this.defaultAgent(task));
    const workflowId =
      options.workflowId === undefined ? undefined : expectId('workflowId', options.workflowId);
    return recoverExecutions(runtime, resolveAgent, workflowId);
  }

  /**
   * Makes this engine a worker: it takes runnable tasks of any workflow from the store (those
   * `enqueueTask` / `enqueueWorkflow` left, or that a stopped or dead engine held) while it has
   * free slots (`maxConcurrency`), and runs them. Several registries on one store share the work;
   * each task goes to one. Resolves once the worker runs (on PostgreSQL, once it listens for
   * wake-ups). One worker per registry. Unless `schedules: false`, it also fires due cron
   * schedules every `pollMs` (`getScheduler()`).
   * @example
   * const worker = await registry.startWorker({ pollMs: 500 });
   * process.on('SIGTERM', () => void worker.stop({ graceMs: 30_000 }));
   */
  async startWorker(options: WorkerOptions & { schedules?: boolean } = {}): Promise<WorkerHandle> {
    const { schedules = true, ...workerOptions } = options;
    const resolved = resolveWorkerOptions(workerOptions, (task: Task) => this.defaultAgent(task));
    if (this.worker) throw new InvalidStateError('This registry already runs a worker');
    const runtime = await this.runtime();
    if (this.worker) throw new InvalidStateError('This registry already runs a worker');
    const worker = new Worker(runtime, resolved, {
      stopEngine: (graceMs) => this.stop({ graceMs }),
      runWorkflow: (workflowId, plan, resolveAgent) =>
        runSubmittedWorkflow(this.executor, workflowId, plan, resolveAgent),
      endRun: (workflowId, error) => this.executor.endRun(workflowId, error),
    });
    this.worker = worker;
    // Workers share the store's work: their routers count what the other workers hold.
    runtime.cluster.workerStarted();
    try {
      await worker.start();
    } catch (error) {
      this.worker = null;
      throw error;
    }
    await runtime.announce({
      name: 'worker.started',
      payload: { engineId: worker.engineId, at: this.options.clock.now() },
    });
    if (schedules && runtime.store.schedules) {
      const { logger, clock } = this.options;
      this.scheduler.run(resolved.pollMs, clock, (error) =>
        logger.error({ err: error }, 'schedule firing failed'),
      );
    }
    return worker;
  }

  /**
   * Sends a named signal with a JSON payload to a workflow: the first of its wait nodes
   * (`addTaskToWorkflow`'s `waitFor`) that names it takes it and completes with
   * `{ signal, payload, sentAt }`. Stored first: a signal sent before any node waits for it is kept
   * until one does, and each is taken once. A wait held by another process on the same store takes
   * it at that engine's next control poll. Resolves once stored (and taken, by a wait of this engine).
   * @example
   * await registry.signal(workflow.id, 'approval', { approved: true, by: 'ana' });
   */
  async signal(workflowId: string, name: string, payload: unknown = null): Promise<Signal> {
    const wid = expectId('workflowId', workflowId);
    const signalName = expectSignalName('name', name);
    const runtime = await this.runtime();
    return sendSignal(runtime, wid, signalName, payload);
  }

  /**
   * The engines that beat on this store (this one included, if it polls), each with whether it
   * counts as alive: its last beat has not expired and was not a stop. Tasks held by an engine
   * that is not alive are taken over by `recover()`.
   */
  async listEngines(): Promise<EngineStatus[]> {
    return (await this.runtime()).control.engines();
  }

  /**
   * Calls `listener` with each `name` event of this engine from now on, once the change it reports
   * has committed (docs/monitoring.md lists the events); returns the function that stops it. A
   * listener that throws is logged (the `logger` option) and the engine goes on.
   * @example
   * registry.on('task.failed', (event) => console.log(event.taskId, event.error?.message));
   */
  on<K extends SymphonyEventName>(name: K, listener: (event: SymphonyEvents[K]) => void): () => void {
    return this.hub.on(name, listener);
  }

  /** Stops a listener `on` added. */
  off<K extends SymphonyEventName>(name: K, listener: (event: SymphonyEvents[K]) => void): void {
    this.hub.off(name, listener);
  }

  /**
   * This engine's events from now on as an async iterator (all, or those `names`), each with its
   * name in `type`; it ends on `signal`, on `break`, or when the engine stops. It keeps at most
   * `bufferSize` unread events (default 10,000): past that the oldest go, and the reader gets
   * `{ type: 'events.dropped', count }` before the next one.
   * @example
   * for await (const event of registry.events({ names: ['task.completed'] })) console.log(event.taskId);
   */
  events(
    options: { names?: readonly SymphonyEventName[]; bufferSize?: number; signal?: AbortSignal } = {},
  ): AsyncIterableIterator<HubEvent<SymphonyEvents> | DroppedEvents> {
    return this.hub.iterate(options);
  }

  /**
   * Reads the events the engines on this store wrote (each with the commit of the change it
   * reports), oldest first, after a cursor: `{ events, cursor }`, where `cursor` is where the next
   * read starts. Cursors are opaque strings; a reader that passes each page's cursor to the next
   * read sees every stored event once, in commit order (docs/monitoring.md, "Events from the
   * store"). `limit: 0` reads none and returns the cursor of the end of the stream.
   * @example
   * let { events, cursor } = await registry.readEvents({ workflowId: workflow.id });
   * ({ events, cursor } = await registry.readEvents({ after: cursor, workflowId: workflow.id }));
   */
  async readEvents<Name extends SymphonyEventName = SymphonyEventName>(
    options?: ReadEventsOptions<Name>,
  ): Promise<StoredEventPage<Name>> {
    const query = eventQuery(options);
    return (await readStoredEvents((await this.runtime()).store, query)) as StoredEventPage<Name>;
  }

  /**
   * Follows the store's events as an async iterator (`readEvents` page after page, then a read every
   * `pollMs` once caught up, at once when this engine writes events); resumable from any event's
   * `cursor`. Ends on `signal`, on `break`, or when the registry stops.
   * @example
   * for await (const event of registry.watchEvents({ names: ['task.failed'], signal })) save(event.cursor);
   */
  watchEvents<Name extends SymphonyEventName = SymphonyEventName>(
    options: WatchEventsOptions<Name> = {},
  ): AsyncIterableIterator<StoredEvent<Name>> {
    const { query, pollMs, signal } = watchSettings(options);
    if (this.stopped) throw new EngineStoppedError();
    const { clock, logger } = this.options;
    const read = async (after: string | null) =>
      readStoredEvents((await this.runtime()).store, { ...query, after });
    const watch = this.watches.watch({ read, clock, logger }, query.after, pollMs, signal);
    return watch as AsyncIterableIterator<StoredEvent<Name>>;
  }

  /**
   * Stops the engine: no new attempt starts; running ones get `graceMs` to finish, then are aborted
   * and released with the attempt recorded; everything unfinished stays in the store for
   * `recover()`. Stops every actor and closes the store.
   */
  async stop(options: { graceMs?: number } = {}): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.scheduler.stop();
    this.watches.endAll();
    if (this.worker) {
      await this.worker.halt();
      const payload = { engineId: this.worker.engineId, at: this.options.clock.now() };
      await (await this.runtimePromise)?.announce({ name: 'worker.stopped', payload }).catch(() => {});
    }
    if (!this.runtimePromise) {
      this.hub.close();
      return;
    }
    const runtime = await this.runtimePromise;
    try {
      await runtime.stop(options.graceMs ?? Infinity);
      await this.worker?.letGo();
    } finally {
      this.hub.close();
      // Closed even when the last commit failed (the store stayed unreachable past storeRetryMs).
      await runtime.store.close();
    }
  }

  private async defaultAgent(task: Task): Promise<Agent | undefined> {
    const key = task.execution?.agentKey;
    if (key === undefined) return undefined;
    const runtime = await this.runtime();
    const config = await runtime.store.agentConfigs.get(key);
    if (!config || !this.agentFactory.hasAgentType(config.type)) return undefined;
    return this.agentFactory.createAgent(key);
  }

  private storeRepository(name: string): Repository<{ id: string }> | undefined {
    if (!(CORE_REPOSITORIES as readonly string[]).includes(name)) return undefined;
    const store = this.store();
    return store[name as (typeof CORE_REPOSITORIES)[number]] as unknown as Repository<{ id: string }>;
  }

  private storeCache: Store | null = null;

  private store(): Store {
    if (this.storeCache) return this.storeCache;
    const custom = CORE_REPOSITORIES.some((name) => this.repositories.has(name));
    if (custom && this.options.store) {
      throw new InvalidStateError('Pass either a store or replacement core repositories, not both');
    }
    if (custom) {
      const base = new MemoryStore();
      const pick = <K extends (typeof CORE_REPOSITORIES)[number]>(name: K) =>
        (this.repositories.get(name) as unknown as Store[K] | undefined) ?? base[name];
      this.storeCache = new RepositoryStore(pick('tasks'), pick('workflows'), pick('agentConfigs'));
    } else {
      this.storeCache = createStore(this.options.store ?? DEFAULT_SQLITE_PATH, {
        logger: this.options.logger,
      });
    }
    return this.storeCache;
  }

  private runtime(): Promise<Runtime> {
    if (this.stopped) return Promise.reject(new EngineStoppedError());
    this.runtimePromise ??= (async () => {
      const store = this.store();
      await store.open();
      const runtime = new Runtime(this.options, store, this.hub, () => this.watches.wake());
      const poll = this.options.controlPollMs ?? (store.kind === 'memory' ? 0 : 500);
      if (poll > 0) await runtime.startControl(poll);
      return runtime;
    })();
    return this.runtimePromise;
  }
}
