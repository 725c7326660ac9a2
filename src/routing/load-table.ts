import { createStore } from '@xstate/store';
import { produce } from 'immer';
import { InvalidArgumentError, InvalidStateError } from '../errors/errors.js';
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
  /** Goes up by one on every change, so selectors can compare a number. */
  version: number;
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
// Hot path: the runtime triggers `started` and `settled` for every batch of attempts, so these
// write one frozen entry by hand instead of through an immer producer. Measured with
// bench/load-table.ts (started + settled, 2 loaded cores): 9 us a pair as written, 20 us through
// immer's produce at 4 agents and 84-95 us at 100 (immer copies the whole Map or record on each
// change). The cold path, the snapshot routing reads once per routeTask/routeTasks call
// (loadWithQueued), uses immer: ~10 us a call at 4 agents with work queued, ~1 us by hand.
const entry = (inFlight: number, completed: number, failed: number): AgentLoad =>
  Object.freeze({ inFlight, queued: 0, completed, failed });

/**
 * Creates the live load table: an `@xstate/store` store counting, per agent id, executions in
 * flight, completed and failed. It does not see the runtime's queues, so `queued` is always 0 in
 * its entries; {@link loadWithQueued} lays the queue counts over it. Updates write one Map entry and bump `version` (no copy of the
 * table), so a trigger stays cheap however many agents there are.
 *
 * - `started { agentId, count? }`: `count` (default 1) more executions in flight.
 * - `settled { agentId, ok, failed, cancelled? }`: `ok + failed + cancelled` executions left flight
 *   (batched counts); cancelled ones count as neither completed nor failed.
 *   Settling more than are in flight throws InvalidStateError and changes nothing.
 * - `reset`: forgets every counter. Only when nothing is in flight (engine start, tests), or the
 *   executions still running cannot settle.
 *
 * Invalid counts throw InvalidArgumentError from the trigger. The context's Map is shared by all
 * snapshots of one table: read it through {@link snapshotOf} and watch `version` for changes.
 *
 * @example
 * const table = createLoadTable();
 * table.trigger.started({ agentId: 'a1' });
 * table.trigger.settled({ agentId: 'a1', ok: 1, failed: 0 });
 * snapshotOf(table).get('a1'); // { inFlight: 0, queued: 0, completed: 1, failed: 0 }
 */
export function createLoadTable() {
  const loads = new Map<string, AgentLoad>();
  const context: LoadTableContext = { loads: new LoadView(loads), version: 0 };
  return createStore({
    context,
    on: {
      started: (ctx, event: { agentId: string; count?: number }): LoadTableContext | undefined => {
        const agentId = agentIdOf(event.agentId);
        const n = count('count', event.count ?? 1);
        if (n === 0) return undefined;
        const prev = loads.get(agentId);
        loads.set(agentId, entry((prev?.inFlight ?? 0) + n, prev?.completed ?? 0, prev?.failed ?? 0));
        return { loads: ctx.loads, version: ctx.version + 1 };
      },
      settled: (
        ctx,
        event: { agentId: string; ok: number; failed: number; cancelled?: number },
      ): LoadTableContext | undefined => {
        const agentId = agentIdOf(event.agentId);
        const ok = count('ok', event.ok);
        const failed = count('failed', event.failed);
        const cancelled = count('cancelled', event.cancelled ?? 0);
        const left = ok + failed + cancelled;
        if (left === 0) return undefined;
        const prev = loads.get(agentId);
        const inFlight = prev?.inFlight ?? 0;
        if (left > inFlight) {
          throw new InvalidStateError(
            `Expected at most ${inFlight} executions of agent ${JSON.stringify(agentId)} to settle, got ${left}`,
            { agentId, inFlight, ok, failed, cancelled },
          );
        }
        loads.set(agentId, entry(inFlight - left, (prev?.completed ?? 0) + ok, (prev?.failed ?? 0) + failed));
        return { loads: ctx.loads, version: ctx.version + 1 };
      },
      reset: (ctx): LoadTableContext => {
        loads.clear();
        return { loads: ctx.loads, version: ctx.version + 1 };
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

/**
 * A point-in-time copy of the table's counters with `queued` laid over from `queued` (agent id ->
 * executions waiting to start); an agent known to either appears. The copy is the caller's to
 * change; its entries are frozen (immer's producers make them), so change one by replacing it.
 * Entries with nothing queued are the table's own.
 */
export function loadWithQueued(
  table: { getSnapshot(): { context: LoadTableContext } },
  queued: ReadonlyMap<string, number>,
): Map<string, AgentLoad> {
  const loads = new Map<string, AgentLoad>();
  for (const [agentId, load] of snapshotOf(table)) {
    const waiting = queued.get(agentId) ?? 0;
    loads.set(agentId, waiting === 0 ? load : withQueued(load, waiting));
  }
  for (const [agentId, waiting] of queued) {
    if (!loads.has(agentId) && waiting > 0) loads.set(agentId, withQueued(NO_LOAD, waiting));
  }
  return loads;
}

/** A read-only window on a Map of loads: no copy, and no way to write through it. */
export function readOnlyLoad(loads: Map<string, AgentLoad>): LoadSnapshot {
  return new LoadView(loads);
}
