import type { HeldLoad } from '../repositories/held-load.js';
import type { Store } from '../repositories/store.js';
import type { LoadTable, OthersLoad } from './load-table.js';

/** What ClusterLoad needs of its engine. */
export interface ClusterLoadDeps {
  /** This engine: its own tasks are counted by its agent actors, not read back from the store. */
  engineId: string;
  store: Pick<Store, 'heldLoad'>;
  clock: { now(): number };
  /** Where the figures go, through its `othersObserved` event. */
  table: LoadTable;
  /** How long a read stays fresh, in ms: the engine's control poll (0: every routing reads). */
  maxAgeMs(): number;
}

/**
 * The other engines' load per agent id, summed over holders other than `engineId`: RUNNING tasks
 * in flight, PENDING ones queued (PAUSED ones are neither, as for this engine's own figures).
 */
export function othersLoad(rows: readonly HeldLoad[], engineId: string): Map<string, OthersLoad> {
  const loads = new Map<string, OthersLoad>();
  for (const row of rows) {
    if (row.holder === engineId) continue;
    const load = loads.get(row.agentKey) ?? { inFlight: 0, queued: 0 };
    load.inFlight += row.running;
    load.queued += row.pending;
    loads.set(row.agentKey, load);
  }
  return loads;
}

/**
 * Keeps the load table's view of the other engines on the store (`othersObserved`) fresh enough
 * for routing: `refresh()` reads `Store.heldLoad` at most once per `maxAgeMs` and otherwise leaves
 * the last read in place, so routing in a busy engine costs one store read per control poll, not
 * one per task. Concurrent refreshes share one read. An engine reads only while cluster routing is
 * on for it: it runs a worker, or its `clusterLoad` option (or the call) asks for it.
 */
export class ClusterLoad {
  /** When the last read started, by the engine's clock; none yet. */
  private readAt: number | null = null;
  private reading: Promise<void> | null = null;
  private workerRuns = false;

  /** @param option The engine's `clusterLoad` option: undefined follows whether a worker runs. */
  constructor(
    private readonly deps: ClusterLoadDeps,
    private readonly option: boolean | undefined,
  ) {}

  /** Whether routing adds the other engines' load when the call does not say. */
  get enabled(): boolean {
    return this.option ?? this.workerRuns;
  }

  /** The engine runs a worker (`registry.startWorker`): cluster routing is on unless the option is false. */
  workerStarted(): void {
    this.workerRuns = true;
  }

  /** Reads the store unless the last read is fresh; stores without `heldLoad` leave the view empty. */
  async refresh(): Promise<void> {
    if (this.reading !== null) return this.reading;
    const { store, clock } = this.deps;
    if (store.heldLoad === undefined) return;
    const now = clock.now();
    if (this.readAt !== null && now - this.readAt < this.deps.maxAgeMs()) return;
    this.reading = (async () => {
      try {
        const rows = await store.heldLoad!({ now });
        this.readAt = now;
        this.deps.table.trigger.othersObserved({ loads: othersLoad(rows, this.deps.engineId) });
      } finally {
        this.reading = null;
      }
    })();
    return this.reading;
  }
}
