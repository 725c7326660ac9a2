import type { EngineStatus } from '../../index.js';
import type { Session } from '../store.js';

/** The statuses of the tasks an engine may hold (a finished task's lease is cleared). */
export const HELD_STATUSES = ['RUNNING', 'PENDING', 'PAUSED'] as const;
export type HeldStatus = (typeof HELD_STATUSES)[number];

/** How an engine's last beat reads: beating, stopped cleanly, or silent past its beat's expiry. */
export type EngineState = 'alive' | 'stopped' | 'dead';

/** An engine as `symphony workers`, `symphony top` and the dashboard show it. */
export interface WorkerListEntry {
  engineId: string;
  state: EngineState;
  alive: boolean;
  /** When the store received its last beat (epoch ms of the store's clock). */
  beatAt: number;
  /** Until when that beat counts as a sign of life (epoch ms of the store's clock). */
  expiresAt: number;
  /** Tasks whose lease it holds (`leaseOwner`), by status. */
  holds: Record<HeldStatus, number>;
  /** Workflows with graph parts it coordinates now (see docs/scale-out.md), by id. */
  coordinates: string[];
}

export function engineState(engine: Pick<EngineStatus, 'alive' | 'stopped'>): EngineState {
  if (engine.alive) return 'alive';
  return engine.stopped ? 'stopped' : 'dead';
}

/**
 * The engines that beat on the store (the session's own left out), alive ones first, then by last
 * beat, newest first; each with the tasks it holds by status and the graph workflows it coordinates.
 */
export async function listWorkerEntries(
  session: Session,
  options: { alive?: boolean | undefined } = {},
): Promise<WorkerListEntry[]> {
  const { registry } = session;
  const tasks = registry.getRepository('tasks');
  const engines = (await registry.listEngines())
    .filter((engine) => !engine.self && (engine.alive || !options.alive))
    .sort((a, b) => Number(b.alive) - Number(a.alive) || b.beatAt - a.beatAt);
  const coordinated = (await session.submittedWorkflows()).filter((run) => run.endedAt === null);
  const entries: WorkerListEntry[] = [];
  for (const engine of engines) {
    const holds = {} as Record<HeldStatus, number>;
    for (const status of HELD_STATUSES) {
      holds[status] = await tasks.count({ leaseOwner: engine.engineId, status });
    }
    entries.push({
      engineId: engine.engineId,
      state: engineState(engine),
      alive: engine.alive,
      beatAt: engine.beatAt,
      expiresAt: engine.expiresAt,
      holds,
      coordinates: coordinated
        .filter((run) => run.coordinator === engine.engineId)
        .map((run) => run.workflowId),
    });
  }
  return entries;
}
