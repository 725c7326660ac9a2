import type { TaskFence } from '../repositories/store.js';

/** What this engine knows of a task it holds, for the fences of its writes. */
interface Hold {
  /** The owner the row named when this engine took the task (null: nobody). */
  takenFrom: string | null;
  /** True once a write by this engine has committed: the store names this engine from then on. */
  taken: boolean;
  /** The execution ended here: the entry goes once its last write has committed. */
  released: boolean;
  /** Called when the store refused a write of the task: another engine holds it now. */
  lost: () => void;
}

/**
 * The fences of the task writes of one engine (see `TaskFence`): while this engine holds a task,
 * each of its state writes applies only where the store still names this engine as the holder (the
 * first one, by which it takes the task, also where the row still names the owner it found). An
 * engine paused past its liveness window, whose tasks another engine took over, thus changes
 * nothing when it wakes up: its writes are refused and its executions of those tasks are dropped.
 */
export class Fences {
  private readonly holds = new Map<string, Hold>();
  /** The released holds not forgotten yet: what `take` looks through, not every hold. */
  private readonly released = new Set<string>();

  constructor(private readonly engineId: string) {}

  /** This engine holds the task from now on; `takenFrom` is the owner its row named when read. */
  hold(taskId: string, takenFrom: string | null, lost: () => void): void {
    const known = this.holds.get(taskId);
    if (known) {
      known.released = false;
      known.lost = lost;
      this.released.delete(taskId);
      return;
    }
    this.holds.set(taskId, { takenFrom, taken: false, released: false, lost });
  }

  /** The execution ended here; its last write (staged already, or none) is still fenced. */
  release(taskId: string): void {
    const known = this.holds.get(taskId);
    if (!known) return;
    known.released = true;
    this.released.add(taskId);
  }

  /**
   * The fences of a batch's state writes; a released hold whose task has no write in the batch is
   * forgotten now (its last write, if any, is in a batch taken before), unless `inFlight` says that
   * batch is still in flight (its commit may yet be refused and call `lost`).
   */
  take(taskIds: Iterable<string>, inFlight?: ReadonlySet<string>): Map<string, TaskFence> {
    const fences = new Map<string, TaskFence>();
    for (const taskId of taskIds) {
      const known = this.holds.get(taskId);
      if (!known) continue;
      fences.set(
        taskId,
        known.taken ? { holder: this.engineId } : { holder: this.engineId, takenFrom: known.takenFrom },
      );
    }
    for (const taskId of this.released)
      if (!fences.has(taskId) && !inFlight?.has(taskId)) this.forget(taskId);
    return fences;
  }

  /** A batch with these fences committed; the store refused the writes of `refused`. */
  committed(fences: ReadonlyMap<string, TaskFence>, refused: readonly string[]): void {
    const lost = new Set(refused);
    for (const taskId of fences.keys()) {
      const known = this.holds.get(taskId);
      if (!known) continue;
      if (lost.has(taskId)) {
        this.forget(taskId);
        known.lost();
      } else if (known.released) {
        this.forget(taskId);
      } else {
        known.taken = true;
      }
    }
  }

  private forget(taskId: string): void {
    this.holds.delete(taskId);
    this.released.delete(taskId);
  }

  /** Tasks held (for tests and diagnostics). */
  get size(): number {
    return this.holds.size;
  }
}
