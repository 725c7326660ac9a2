import type { EngineStatus } from '../../index.js';
import { ExitCode } from '../exit-codes.js';
import { formatDate, table } from '../format.js';
import { printJson, println, type CliIO } from '../io.js';
import { openSession, resolveDbSpec } from '../store.js';
import type { CommonOptions } from './common.js';

export interface WorkersOptions extends CommonOptions {
  /** Only the engines whose last beat is a sign of life. */
  alive?: boolean;
}

/** The statuses of the tasks an engine may hold (a finished task's lease is cleared). */
const HELD_STATUSES = ['RUNNING', 'PENDING', 'PAUSED'] as const;
type HeldStatus = (typeof HELD_STATUSES)[number];

/** How an engine's last beat reads: beating, stopped cleanly, or silent past its beat's expiry. */
export type EngineState = 'alive' | 'stopped' | 'dead';

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

function stateOf(engine: EngineStatus): EngineState {
  if (engine.alive) return 'alive';
  return engine.stopped ? 'stopped' : 'dead';
}

/**
 * `symphony workers`: the engines that beat on the store (workers, and every other process that
 * ran a command on it within the store's retention), alive ones first, each with its last beat and
 * the tasks it holds by status and the graph workflows it coordinates. This command's own engine is
 * left out.
 */
export async function workersCommand(io: CliIO, options: WorkersOptions): Promise<number> {
  const session = await openSession(resolveDbSpec(options.db, io), {
    mustExist: true,
    cwd: io.cwd,
    env: io.env,
  });
  try {
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
        state: stateOf(engine),
        alive: engine.alive,
        beatAt: engine.beatAt,
        expiresAt: engine.expiresAt,
        holds,
        coordinates: coordinated
          .filter((run) => run.coordinator === engine.engineId)
          .map((run) => run.workflowId),
      });
    }
    if (options.json) {
      printJson(io.stdout, entries);
      return ExitCode.OK;
    }
    if (entries.length === 0) {
      println(io.stdout, `No ${options.alive ? 'live ' : ''}engines beat on ${session.storeName}`);
      return ExitCode.OK;
    }
    const rows = [['ENGINE', 'STATE', 'LAST BEAT', 'RUNNING', 'PENDING', 'PAUSED', 'WORKFLOWS']];
    for (const entry of entries) {
      rows.push([
        entry.engineId,
        entry.state,
        formatDate(entry.beatAt),
        String(entry.holds.RUNNING),
        String(entry.holds.PENDING),
        String(entry.holds.PAUSED),
        String(entry.coordinates.length),
      ]);
    }
    for (const line of table(rows, new Set([3, 4, 5, 6]))) println(io.stdout, line);
    const alive = entries.filter((entry) => entry.alive).length;
    println(io.stdout, `${entries.length} engine(s), ${alive} alive; store ${session.storeName}`);
    return ExitCode.OK;
  } finally {
    await session.stop();
  }
}
