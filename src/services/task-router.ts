import { ROUTING_STRATEGIES, type RoutingStrategy } from '../../machines/router.machine.js';
import type { AgentConfig } from '../domain/agent-config.js';
import type { Task } from '../domain/task.js';
import {
  CircuitOpenError,
  InvalidArgumentError,
  NoAgentAvailableError,
  TaskNotFoundError,
} from '../errors/errors.js';
import type { Breakers } from '../engine/breakers.js';
import type { Runtime } from '../engine/runtime.js';
import { loadWithQueued, readOnlyLoad } from '../routing/load-table.js';
import { planRoutes, planRoutesWaiting, type BatchRoutingPlan } from '../routing/batch.js';
import type { AgentLoad, CustomRoutingFunction, LoadSnapshot } from '../routing/types.js';
import type { TaskManager } from './task-manager.js';
import { expectBoolean, expectId, expectRecord, expectStrings } from './validate.js';

/** What routing needs of the engine. */
export type RouterEngine = Pick<
  Runtime,
  'store' | 'load' | 'router' | 'queuedByAgent' | 'send' | 'cluster' | 'breakers'
>;

/** Which load a call reads. */
export interface LoadOptions {
  /**
   * Add the tasks other live engines on the store hold per agent config (their RUNNING tasks to
   * `inFlight`, their PENDING ones to `queued`), read from the store at most once per
   * `controlPollMs`. @default the engine's `clusterLoad` option: on in an engine that runs a worker
   */
  cluster?: boolean;
}

export interface RouteOptions extends LoadOptions {
  /** Use this strategy for this call only. */
  strategy?: RoutingStrategy;
  /** Consider only these agent config ids. @default every agent config */
  candidates?: readonly string[];
  /** Leave out these agent config ids (a fallback leaves out those that failed the task). @default none */
  exclude?: readonly string[];
  /**
   * When every config that fits is at its `maxConcurrency`, choose among those busy configs anyway
   * (their in-flight work read as queued): the task is to wait in the chosen agent's queue. Free
   * configs still come first. A fallback routes so. @default false (busy configs are skipped)
   */
  queueWhenBusy?: boolean;
}

interface ResolvedRouteOptions {
  strategy: RoutingStrategy | undefined;
  candidates: ReadonlySet<string> | undefined;
  exclude: ReadonlySet<string> | undefined;
  cluster: boolean | undefined;
  queueWhenBusy: boolean;
}

function expectStrategy(strategy: unknown): RoutingStrategy {
  if (!ROUTING_STRATEGIES.includes(strategy as RoutingStrategy)) {
    throw new InvalidArgumentError(
      `Expected a routing strategy (${ROUTING_STRATEGIES.join(', ')}), got ${JSON.stringify(String(strategy))}`,
    );
  }
  return strategy as RoutingStrategy;
}

function expectRouteOptions(options: unknown): ResolvedRouteOptions {
  const fields = expectRecord('options', options) as RouteOptions;
  return {
    strategy: fields.strategy === undefined ? undefined : expectStrategy(fields.strategy),
    candidates:
      fields.candidates === undefined ? undefined : new Set(expectStrings('candidates', fields.candidates)),
    exclude: fields.exclude === undefined ? undefined : new Set(expectStrings('exclude', fields.exclude)),
    cluster: expectBoolean('cluster', fields.cluster),
    queueWhenBusy: expectBoolean('queueWhenBusy', fields.queueWhenBusy) ?? false,
  };
}

/**
 * The load routing reads: this engine's load table and queues, plus, for cluster routing, what the
 * other engines hold (refreshed from the store first if the last read is older than a control poll).
 */
async function loadFor(runtime: RouterEngine, cluster: boolean | undefined): Promise<Map<string, AgentLoad>> {
  const withOthers = cluster ?? runtime.cluster.enabled;
  if (withOthers) await runtime.cluster.refresh();
  return loadWithQueued(runtime.load, runtime.queuedByAgent(), withOthers);
}

function isTask(value: unknown): value is Task {
  return typeof value === 'object' && value !== null && typeof (value as { id?: unknown }).id === 'string';
}

/**
 * Picks the agent config for a task. The strategy lives in the router actor (its state), the
 * load in the live load table fed by the agent actors, plus the executions waiting in each
 * agent's queue; with cluster routing (an engine that runs a worker, or `clusterLoad: true`), plus
 * what the other engines on the store hold (see `getLoad`).
 * @example
 * const agentConfigId = await router.routeTask(task, { strategy: 'LOAD_BALANCED' });
 * const agentConfigIds = await router.routeTasks(tasks, { strategy: 'LOAD_BALANCED' });
 */
export class TaskRouter {
  constructor(
    private readonly runtime: () => Promise<RouterEngine>,
    private readonly tasks: TaskManager,
    private custom: CustomRoutingFunction | undefined,
  ) {}

  async getStrategy(): Promise<RoutingStrategy> {
    const value = (await this.runtime()).router.getSnapshot().value;
    return value as RoutingStrategy;
  }

  /** Switches the strategy for every later call that does not name one. */
  async setStrategy(strategy: RoutingStrategy, custom?: CustomRoutingFunction): Promise<void> {
    const chosen = expectStrategy(strategy);
    if (custom !== undefined) this.setCustomStrategy(custom);
    (await this.runtime()).router.send({ type: 'SET_STRATEGY', strategy: chosen });
  }

  /** The function the CUSTOM strategy calls. */
  setCustomStrategy(custom: CustomRoutingFunction): void {
    if (typeof custom !== 'function') throw new InvalidArgumentError('Expected a custom routing function');
    this.custom = custom;
  }

  /**
   * The load per agent config id, taken now: in flight, queued (waiting to start), completed,
   * failed. A read-only Map that does not change afterwards; call again for fresh numbers. With
   * `cluster` (the default in an engine that runs a worker) `inFlight` and `queued` also count the
   * tasks other live engines on the store hold (RUNNING, PENDING), as of the last read of the store
   * (at most one per `controlPollMs`); `completed` and `failed` are this engine's.
   * @example
   * const load = await router.getLoad({ cluster: true });
   * load.get(config.id)?.inFlight; // attempts of this config running in any worker
   */
  async getLoad(options: LoadOptions = {}): Promise<LoadSnapshot> {
    const fields = expectRecord('options', options) as LoadOptions;
    const runtime = await this.runtime();
    return readOnlyLoad(await loadFor(runtime, expectBoolean('cluster', fields.cluster)));
  }

  /**
   * Returns the id of the chosen agent config; rejects with NO_AGENT_AVAILABLE when none fits, or
   * CIRCUIT_OPEN when every candidate's circuit breaker is open.
   */
  async routeTask(task: Task | string, options: RouteOptions = {}): Promise<string> {
    const resolved = expectRouteOptions(options);
    const runtime = await this.runtime();
    const subject = typeof task === 'string' ? await this.tasks.getTask(task) : task;
    if (!isTask(subject)) throw new InvalidArgumentError('Expected `task` to be a Task or a task id');
    const plan = await this.plan(runtime, [subject], resolved);
    if (plan.unroutable.length > 0) throw plan.unroutable[0]!.error;
    return plan.chosen[0]!.id;
  }

  /**
   * Routes a batch as one plan and returns the chosen agent config ids in input order. Each
   * choice counts as one more execution queued on the chosen agent for the choices after it, so
   * a batch routed before any of it runs spreads as if each task were already queued; ROUND_ROBIN
   * advances its cursor once per task. Rejects with NO_AGENT_AVAILABLE naming the first task no
   * agent can take (`details.unroutable` lists every such task); then nothing is recorded.
   * @example
   * const ids = await router.routeTasks(tasks, { strategy: 'LOAD_BALANCED', candidates });
   */
  async routeTasks(tasks: readonly (Task | string)[], options: RouteOptions = {}): Promise<string[]> {
    if (!Array.isArray(tasks)) {
      throw new InvalidArgumentError(
        `Expected \`tasks\` to be an array of Tasks or task ids, got ${tasks === null ? 'null' : typeof tasks}`,
      );
    }
    const resolved = expectRouteOptions(options);
    const seen = new Set<string>();
    const ids: string[] = [];
    tasks.forEach((task: unknown, index) => {
      const name = `tasks[${index}]`;
      let id: string;
      if (typeof task === 'string') {
        id = expectId(name, task);
        ids.push(id);
      } else if (isTask(task)) id = task.id;
      else
        throw new InvalidArgumentError(`Expected \`${name}\` to be a Task or a task id, got ${typeof task}`);
      if (seen.has(id))
        throw new InvalidArgumentError(`Task ${JSON.stringify(id)} appears twice in the batch`);
      seen.add(id);
    });
    if (tasks.length === 0) return [];
    const runtime = await this.runtime();
    const rows = new Map<string, Task>();
    if (ids.length > 0) for (const row of await runtime.store.tasks.getMany(ids)) rows.set(row.id, row);
    const subjects = tasks.map((task) => {
      if (typeof task !== 'string') return task;
      const row = rows.get(task);
      if (row === undefined) throw new TaskNotFoundError(task);
      return row;
    });
    const plan = await this.plan(runtime, subjects, resolved);
    if (plan.unroutable.length > 0) throw batchError(plan.unroutable, subjects.length);
    return plan.chosen.map((agent) => agent!.id);
  }

  /** Plans the routes of `subjects`; when every task has an agent, tells the router actor each pick. */
  private async plan(
    runtime: RouterEngine,
    subjects: readonly Task[],
    options: ResolvedRouteOptions,
  ): Promise<BatchRoutingPlan> {
    const router = runtime.router.getSnapshot();
    const strategy = options.strategy ?? (router.value as RoutingStrategy);
    let candidates: AgentConfig[] = await runtime.store.agentConfigs.find();
    const allowed = options.candidates;
    if (allowed !== undefined) candidates = candidates.filter((config) => allowed.has(config.id));
    const excluded = options.exclude;
    if (excluded !== undefined) candidates = candidates.filter((config) => !excluded.has(config.id));
    candidates = await withoutOpenBreakers(runtime.breakers, candidates);
    const plan = await (options.queueWhenBusy ? planRoutesWaiting : planRoutes)(
      strategy,
      {
        tasks: subjects,
        candidates,
        load: await loadFor(runtime, options.cluster),
        cursor: router.context.cursor,
      },
      this.custom ?? missingCustom,
    );
    if (plan.unroutable.length === 0) {
      runtime.send({ type: 'ROUTED', strategy, agentIds: plan.chosen.map((agent) => agent!.id) });
    }
    return plan;
  }
}

/**
 * The candidates whose circuit breaker lets work through (every strategy routes among these): an
 * OPEN breaker's agent is left out, a HALF_OPEN one's only once it has no probe left. Breakers are
 * started for candidates that have options, and refreshed from the store at most once per control
 * poll. Rejects with CIRCUIT_OPEN (retryAfterMs: the shortest cool-down left) when every candidate
 * is left out.
 */
async function withoutOpenBreakers(breakers: Breakers, candidates: AgentConfig[]): Promise<AgentConfig[]> {
  for (const config of candidates) breakers.ensure(config.id, config.circuitBreaker);
  if (breakers.size === 0) return candidates;
  await breakers.refresh();
  const admitted = candidates.filter((config) => breakers.admits(config.id));
  if (admitted.length > 0 || candidates.length === 0) return admitted;
  const waits = candidates
    .map((config) => breakers.retryAfterMs(config.id))
    .filter((ms): ms is number => ms !== undefined);
  const ids = candidates.map((config) => config.id);
  throw new CircuitOpenError(ids, waits.length === 0 ? undefined : Math.min(...waits));
}

/** The error of a batch with tasks no agent can take: the first one's, listing them all. */
function batchError(unroutable: BatchRoutingPlan['unroutable'], size: number): NoAgentAvailableError {
  const [first] = unroutable;
  const more = unroutable.length - 1;
  const others =
    more === 0 ? '' : `; ${more} more task${more === 1 ? '' : 's'} of it cannot be routed either`;
  const { index, taskId, error } = first!;
  const named = error.message.includes(JSON.stringify(taskId)) ? '' : `task ${JSON.stringify(taskId)}, `;
  return new NoAgentAvailableError(
    `${error.message} (${named}index ${index} in a batch of ${size}${others})`,
    {
      ...error.details,
      taskId,
      index,
      unroutable: unroutable.map(({ index, taskId, error }) => ({
        index,
        taskId,
        reason: error.details.reason,
        message: error.message,
      })),
    },
  );
}

const missingCustom: CustomRoutingFunction = () => {
  throw new InvalidArgumentError(
    'The CUSTOM strategy needs a function: pass `customRouting` to the registry or call router.setCustomStrategy(fn)',
  );
};
