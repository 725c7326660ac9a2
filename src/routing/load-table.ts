import { createStore } from '@xstate/store';
import { produce } from 'immer';
import { InvalidArgumentError } from '../errors/errors.js';
import { NO_LOAD } from './shared.js';
import type { AgentLoad, LoadSnapshot } from './types.js';

/** A read-only, live window on the table's Map: no copy, and no way to write through it. */
class LoadView implements ReadonlyMap<string, AgentLoad> {
  readonly #loads: Map<string, AgentLoad>;
  constructor(loads: Map<string, AgentLoad>) {
    this.#loads = loads;
  }
  get size(): number {
    return this.#loads.size;
  }
  get(agentId: string): AgentLoad | undefined {
    return this.#loads.get(agentId);
  }
  has(agentId: string): boolean {
    return this.#loads.has(agentId);
  }
  forEach(
    callback: (value: AgentLoad, key: string, map: ReadonlyMap<string, AgentLoad>) => void,
    thisArg?: unknown,
  ) {
    for (const [key, value] of this.#loads) callback.call(thisArg, value, key, this);
  }
  entries(): MapIterator<[string, AgentLoad]> {
    return this.#loads.entries();
  }
  keys(): MapIterator<string> {
    return this.#loads.keys();
  }
  values(): MapIterator<AgentLoad> {
    return this.#loads.values();
  }
  [Symbol.iterator](): MapIterator<[string, AgentLoad]> {
    return this.#loads.entries();
  }
  get [Symbol.toStringTag](): string {
    return 'LoadSnapshot';
  }
}

export interface LoadTableContext {
  /** Live read-only view of the counters; entries are frozen and replaced, never edited. */
  loads: LoadSnapshot;
  /**
   * What the other engines on the store hold per agent id, as last read from the store (see
   * `othersObserved`): `inFlight` their RUNNING tasks, `queued` their PENDING ones; empty until
   * read. Replaced whole by each read, never edited.
   */
  others: ReadonlyMap<string, Readonly<OthersLoad>>;
  /** Goes up by one on every change, so selectors can compare a number. */
  version: number;
}

/** The load other engines put on one agent: what the store says they hold. */
export interface OthersLoad {
  inFlight: number;
  queued: number;
}

function count(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidArgumentError(`Expected \`${field}\` to be an integer >= 0, got ${String(value)}`, {
      details: { field },
    });
  }
  return value;
}

function agentIdOf(value: unknown): string {
  if (typeof value !== 'string' || value === '') {
    throw new InvalidArgumentError(
      `Expected \`agentId\` to be a non-empty string, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

// The table does not see queues: its entries say `queued: 0` (see loadWithQueued).
// Hot path: the engine observes every agent actor's snapshot after each RUN and SETTLED batch, so
// `observed` writes one frozen entry by hand instead of through an immer producer (measured with
// bench/load-table.ts: immer's produce copies the whole Map or record on each change, 20 us at 4
// agents and 84-95 us at 100, against a few us by hand). The cold path, the snapshot routing reads
// once per routeTask/routeTasks call (loadWithQueued), uses immer.
const entry = (inFlight: number, completed: number, failed: number): AgentLoad =>
  Object.freeze({ inFlight, queued: 0, completed, failed });

/**
 * The live load of each agent, for routing and progress: a read model of the agent actors. The
 * agent actor holds the one count of its slots (`inFlight`) and of its settled attempts; the engine
 * sends its snapshot here after each change (`observed`), so the table never counts on its own and
 * cannot drift from the actor that decides. Entries are frozen and replaced, never edited in place
 * (a Map with a version counter, not a record spread per change), so `observed` stays cheap however
 * many agents there are.
 *
 * - `observed { agentId, inFlight, completed, failed }`: the agent actor's counts now; an equal
 *   observation changes nothing (no version bump).
 * - `othersObserved { loads }`: what the other engines on the store hold per agent id (read from
 *   the store by ClusterLoad); replaces the previous read.
 * - `reset`: forgets every entry (engine start, tests).
 *
 * Invalid counts throw InvalidArgumentError from the trigger. The context's Map is shared by all
 * snapshots of one table: read it through {@link snapshotOf} and watch `version` for changes.
 *
 * @example
 * const table = createLoadTable();
 * table.trigger.observed({ agentId: 'a1', inFlight: 0, completed: 1, failed: 0 });
 * snapshotOf(table).get('a1'); // { inFlight: 0, queued: 0, completed: 1, failed: 0 }
 */
export function createLoadTable() {
  const loads = new Map<string, AgentLoad>();
  const context: LoadTableContext = { loads: new LoadView(loads), others: new Map(), version: 0 };
  return createStore({
    context,
    on: {
      observed: (
        ctx,
        event: { agentId: string; inFlight: number; completed: number; failed: number },
      ): LoadTableContext | undefined => {
        const agentId = agentIdOf(event.agentId);
        const inFlight = count('inFlight', event.inFlight);
        const completed = count('completed', event.completed);
        const failed = count('failed', event.failed);
        const prev = loads.get(agentId);
        if (prev && prev.inFlight === inFlight && prev.completed === completed && prev.failed === failed) {
          return undefined;
        }
        loads.set(agentId, entry(inFlight, completed, failed));
        return { ...ctx, version: ctx.version + 1 };
      },
      othersObserved: (
        ctx,
        event: { loads: ReadonlyMap<string, Readonly<OthersLoad>> },
      ): LoadTableContext => {
        const others = new Map<string, Readonly<OthersLoad>>();
        for (const [agentId, load] of event.loads) {
          const inFlight = count('inFlight', load.inFlight);
          const queued = count('queued', load.queued);
          if (inFlight + queued > 0) others.set(agentIdOf(agentId), Object.freeze({ inFlight, queued }));
        }
        return { ...ctx, others, version: ctx.version + 1 };
      },
      reset: (ctx): LoadTableContext => {
        loads.clear();
        return { ...ctx, others: new Map(), version: ctx.version + 1 };
      },
    },
  });
}

/** The store {@link createLoadTable} returns. */
export type LoadTable = ReturnType<typeof createLoadTable>;

/**
 * The table's counters as a LoadSnapshot: a live read-only view, O(1), no copy. Entries are
 * frozen and replaced on change, so an entry read now keeps its values; for a point-in-time copy
 * of the whole table use `new Map(snapshotOf(table))`.
 */
export function snapshotOf(table: { getSnapshot(): { context: LoadTableContext } }): LoadSnapshot {
  return table.getSnapshot().context.loads;
}

/** `load` with `queued` set, as a new frozen entry (the same entry when nothing changes). */
const withQueued = (load: Readonly<AgentLoad>, waiting: number): AgentLoad =>
  produce(load, (draft) => {
    draft.queued = waiting;
  });

/** `load` with the other engines' figures added, as a new frozen entry. */
const withOthers = (load: Readonly<AgentLoad>, others: Readonly<OthersLoad>): AgentLoad =>
  produce(load, (draft) => {
    draft.inFlight += others.inFlight;
    draft.queued += others.queued;
  });

/**
 * A point-in-time copy of the table's counters with `queued` laid over from `queued` (agent id ->
 * executions waiting to start); an agent known to either appears. With `cluster`, the other
 * engines' figures last read from the store (`othersObserved`) are added: their RUNNING tasks to
 * `inFlight`, their PENDING ones to `queued` (`completed` and `failed` stay this engine's). The copy
 * is the caller's to change; its entries are frozen (immer's producers make them), so change one by
 * replacing it. Entries with nothing queued nor added are the table's own.
 */
export function loadWithQueued(
  table: { getSnapshot(): { context: LoadTableContext } },
  queued: ReadonlyMap<string, number>,
  cluster = false,
): Map<string, AgentLoad> {
  const loads = new Map<string, AgentLoad>();
  for (const [agentId, load] of snapshotOf(table)) {
    const waiting = queued.get(agentId) ?? 0;
    loads.set(agentId, waiting === 0 ? load : withQueued(load, waiting));
  }
  for (const [agentId, waiting] of queued) {
    if (!loads.has(agentId) && waiting > 0) loads.set(agentId, withQueued(NO_LOAD, waiting));
  }
  if (cluster) {
    for (const [agentId, others] of table.getSnapshot().context.others) {
      loads.set(agentId, withOthers(loads.get(agentId) ?? NO_LOAD, others));
    }
  }
  return loads;
}

/** A read-only window on a Map of loads: no copy, and no way to write through it. */
export function readOnlyLoad(loads: Map<string, AgentLoad>): LoadSnapshot {
  return new LoadView(loads);
}
