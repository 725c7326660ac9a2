import type { Task } from '../domain/task.js';
import type { Repository } from './repository.js';

/**
 * What `Store.heldLoad` is asked: the reading engine's clock, for the leases of engines that never
 * beat (the same rule as a claim's, see `ClaimRunnableOptions`).
 */
export interface HeldLoadOptions {
  /** Epoch milliseconds of the reading engine's clock. */
  now: number;
}

/**
 * The unfinished tasks of one agent key that one live engine holds, as the store counts them: the
 * load that engine puts on the agent config of that id (the plan's `agentKey` of a task routed to
 * a stored agent config is the config's id). Other engines' routers add it to their own figures.
 */
export interface HeldLoad {
  /** The plan's `execution.agentKey`. */
  agentKey: string;
  /** The engine holding the tasks (their `leaseOwner`). */
  holder: string;
  /** RUNNING tasks: attempts in flight. */
  running: number;
  /** PENDING tasks: waiting for a slot of the holder, or for a retry's due time. */
  pending: number;
  /** PAUSED tasks. */
  paused: number;
}

/** Statuses of the tasks an engine can hold (the unfinished ones). */
export const HELD_STATUSES = ['PENDING', 'RUNNING', 'PAUSED'] as const;

/** Rows in a stable order whatever the store's collation: by agent key, then holder (code units). */
export function byKeyAndHolder(a: HeldLoad, b: HeldLoad): number {
  if (a.agentKey !== b.agentKey) return a.agentKey < b.agentKey ? -1 : 1;
  return a.holder < b.holder ? -1 : a.holder > b.holder ? 1 : 0;
}

/** An engine's last beat, as the in-process stores keep it (`alive` judged by the store's clock). */
interface BeatView {
  engineId: string;
  alive: boolean;
}

/**
 * Whether `task`'s holder still holds it, by the claim's rule: the holder's last beat is alive; an
 * engine that never beat holds it until its lease (if any) has expired by `now`.
 */
function stillHeld(task: Task, beats: ReadonlyMap<string, BeatView>, now: number): boolean {
  const beat = beats.get(task.leaseOwner!);
  if (beat !== undefined) return beat.alive;
  return task.leaseExpiresAt === null || task.leaseExpiresAt > now;
}

/**
 * `Store.heldLoad` over a task repository in this process: reads the unfinished tasks and counts
 * those with a plan and a live holder per agent key and holder.
 */
export async function heldLoadInRepository(
  tasks: Repository<Task>,
  beats: () => Promise<readonly BeatView[]>,
  options: HeldLoadOptions,
): Promise<HeldLoad[]> {
  const known = new Map((await beats()).map((beat) => [beat.engineId, beat]));
  const groups = new Map<string, HeldLoad>();
  for (const status of HELD_STATUSES) {
    for (const task of await tasks.find({ where: { status } })) {
      const agentKey = task.execution?.agentKey;
      if (task.leaseOwner === null || typeof agentKey !== 'string') continue;
      if (!stillHeld(task, known, options.now)) continue;
      const id = JSON.stringify([agentKey, task.leaseOwner]);
      let group = groups.get(id);
      if (group === undefined) {
        group = { agentKey, holder: task.leaseOwner, running: 0, pending: 0, paused: 0 };
        groups.set(id, group);
      }
      if (task.status === 'RUNNING') group.running += 1;
      else if (task.status === 'PENDING') group.pending += 1;
      else group.paused += 1;
    }
  }
  return [...groups.values()].sort(byKeyAndHolder);
}

/** A row of the SQL stores' held-load statements (counts may come back as text). */
interface HeldLoadRow {
  agent_key: string;
  holder: string;
  running: number | string;
  pending: number | string;
  paused: number | string;
}

/** The rows of a SQL store's held-load statement as HeldLoad, by agent key then holder. */
export function toHeldLoad(rows: readonly unknown[]): HeldLoad[] {
  return (rows as HeldLoadRow[])
    .map((row) => ({
      agentKey: row.agent_key,
      holder: row.holder,
      running: Number(row.running),
      pending: Number(row.pending),
      paused: Number(row.paused),
    }))
    .sort(byKeyAndHolder);
}
