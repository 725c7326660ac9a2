import { ExitCode } from '../exit-codes.js';
import { formatDate, table } from '../format.js';
import { printJson, println, type CliIO } from '../io.js';
import { openSession, resolveDbSpec } from '../store.js';
import type { CommonOptions } from './common.js';
import { listWorkerEntries, type EngineState, type WorkerListEntry } from '../overview/workers.js';

export interface WorkersOptions extends CommonOptions {
  /** Only the engines whose last beat is a sign of life. */
  alive?: boolean;
}

export type { EngineState, WorkerListEntry };

/** The text table of `symphony workers` (and `symphony top`): a header, then a row per engine. */
export function workerTable(entries: readonly WorkerListEntry[]): string[] {
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
  return table(rows, new Set([3, 4, 5, 6]));
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
    readOnly: true,
    cwd: io.cwd,
    env: io.env,
  });
  try {
    const entries = await listWorkerEntries(session, { alive: options.alive });
    if (options.json) {
      printJson(io.stdout, entries);
      return ExitCode.OK;
    }
    if (entries.length === 0) {
      println(io.stdout, `No ${options.alive ? 'live ' : ''}engines beat on ${session.storeName}`);
      return ExitCode.OK;
    }
    for (const line of workerTable(entries)) println(io.stdout, line);
    const alive = entries.filter((entry) => entry.alive).length;
    println(io.stdout, `${entries.length} engine(s), ${alive} alive; store ${session.storeName}`);
    return ExitCode.OK;
  } finally {
    await session.stop();
  }
}
