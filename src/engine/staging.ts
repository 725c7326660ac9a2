import type { Task } from '../domain/task.js';
import type { Workflow } from '../domain/workflow.js';
import type {
  CommandAck,
  CompletionRecord,
  ControlCommand,
  EngineBeat,
  Signal,
  SignalTake,
} from '../repositories/store.js';
import type { Announcement } from './announcements.js';
import type { CoordinatedWorkflows } from './coordinated-workflows.js';

/** What a caller waiting on a commit is called with: null, or the commit's error. */
export type Callback = (error: unknown) => void;

/** The records a batch appends, in the order they were staged. */
export interface Appended {
  completions: CompletionRecord[];
  commands: ControlCommand[];
  acks: CommandAck[];
  signals: Signal[];
  signalTakes: SignalTake[];
}

export const APPENDED = ['completions', 'commands', 'acks', 'signals', 'signalTakes'] as const;

export function nothingAppended(): Appended {
  return { completions: [], commands: [], acks: [], signals: [], signalTakes: [] };
}

/**
 * A call waiting on a commit: on everything staged before it (`taskIds` null: `afterCommit`), or
 * only on the writes of some tasks (`afterTasksCommit`), which may run before commits taken earlier.
 */
export interface Waiter {
  fn: Callback;
  taskIds: readonly string[] | null;
}

/** What one flush took: the batch and the calls waiting on it. */
export interface Taken extends Appended {
  tasks: Task[];
  taskStates: Task[];
  workflows: Workflow[];
  beats: EngineBeat[];
  waiters: Waiter[];
  announcements: Announcement[];
}

/** A batch with nothing in it, to be filled (see `Staging.takeParts`). */
function emptyTaken(): Taken {
  return {
    tasks: [],
    taskStates: [],
    workflows: [],
    ...nothingAppended(),
    beats: [],
    waiters: [],
    announcements: [],
  };
}

/**
 * What is staged for the committer's next batch: task rows (whole, or their state fields), workflow
 * rows, appended records, beats, announced events and the calls waiting on them. A row staged twice
 * is written once, in its latest form.
 */
export class Staging {
  /** Staged tasks; those in `wholeTasks` are written whole, the others as state writes. */
  private tasks = new Map<string, Task>();
  private wholeTasks = new Set<string>();
  private workflows = new Map<string, Workflow>();
  private appended = nothingAppended();
  /** Engine beats, written with the next batch. */
  private beats: EngineBeat[] = [];
  private waiters: Waiter[] = [];
  /** Waiters put back in front of `waiters` (see `putBack`): later ones put back go after them. */
  private waitersPutBack = 0;
  private announcements: Announcement[] = [];

  /** A task row to be written whole: a new row, or a change of fields beyond its state. */
  task(task: Task): void {
    this.tasks.set(task.id, task);
    this.wholeTasks.add(task.id);
  }

  /** A change of a task's state fields; it stays a whole-row write if one is staged already. */
  taskState(task: Task): void {
    this.tasks.set(task.id, task);
  }

  workflow(workflow: Workflow): void {
    this.workflows.set(workflow.id, workflow);
  }

  append<K extends keyof Appended>(kind: K, record: Appended[K][number]): void {
    (this.appended[kind] as Array<Appended[K][number]>).push(record);
  }

  beat(beat: EngineBeat): void {
    this.beats.push(beat);
  }

  announce(announcement: Announcement): void {
    this.announcements.push(announcement);
  }

  wait(waiter: Waiter): void {
    this.waiters.push(waiter);
  }

  /** Whether a write of the task is staged. */
  has(taskId: string): boolean {
    return this.tasks.has(taskId);
  }

  /** How many task rows are staged. */
  get taskCount(): number {
    return this.tasks.size;
  }

  /** The ids of the staged state writes (not whole rows). */
  stateIds(): string[] {
    const ids: string[] = [];
    for (const [id] of this.tasks) if (!this.wholeTasks.has(id)) ids.push(id);
    return ids;
  }

  /** Whether rows or records are staged (announced events aside). */
  hasRows(): boolean {
    return (
      this.tasks.size > 0 ||
      this.workflows.size > 0 ||
      this.beats.length > 0 ||
      APPENDED.some((kind) => this.appended[kind].length > 0)
    );
  }

  /** Whether anything at all is staged, waiters and announced events included. */
  hasAny(): boolean {
    return this.hasRows() || this.waiters.length > 0 || this.announcements.length > 0;
  }

  /**
   * Whether what is staged holds task writes only (rows, state writes, their completion records
   * and events), none of a workflow this engine coordinates for others (those commit under the
   * coordinator fence): what may be split or commit beside another batch. A workflow's row commits
   * with the task changes it counts, never apart.
   */
  tasksOnly(coordinated: CoordinatedWorkflows | null): boolean {
    return (
      this.workflows.size === 0 &&
      this.beats.length === 0 &&
      APPENDED.every((kind) => kind === 'completions' || this.appended[kind].length === 0) &&
      (coordinated === null || coordinated.fenceOf(this.tasks.values(), []) === undefined)
    );
  }

  /** Whether a staged row, completion record or task event is of one of `taskIds`. */
  touches(taskIds: ReadonlySet<string>): boolean {
    for (const id of this.tasks.keys()) if (taskIds.has(id)) return true;
    for (const record of this.appended.completions) if (taskIds.has(record.taskId)) return true;
    for (const { taskId } of this.announcements) if (taskId !== null && taskIds.has(taskId)) return true;
    return false;
  }

  /** Takes everything staged, leaving it empty. */
  take(): Taken {
    const tasks: Task[] = [];
    const taskStates: Task[] = [];
    for (const [id, task] of this.tasks) (this.wholeTasks.has(id) ? tasks : taskStates).push(task);
    const taken: Taken = {
      tasks,
      taskStates,
      workflows: [...this.workflows.values()],
      ...this.appended,
      beats: this.beats,
      waiters: this.waiters,
      announcements: this.announcements,
    };
    this.clear();
    return taken;
  }

  private clear(): void {
    this.tasks = new Map();
    this.wholeTasks = new Set();
    this.workflows = new Map();
    this.appended = nothingAppended();
    this.beats = [];
    this.waiters = [];
    this.waitersPutBack = 0;
    this.announcements = [];
  }

  /**
   * Takes everything staged as `count` batches (every task's records, events and waiters with its
   * rows; other events and the waiters on everything with the last), to be committed side by side
   * on the lanes: two halves of rows taken in turn, or parts of `partRows` rows in the order they
   * were staged.
   */
  takeParts(count: number, partRows: number): Taken[] {
    const parts = Array.from({ length: count }, () => emptyTaken());
    const last = parts[count - 1]!;
    const partOf = new Map<string, Taken>();
    let i = 0;
    for (const [id, task] of this.tasks) {
      const part = parts[count === 2 ? i % 2 : Math.floor(i / partRows)]!;
      i += 1;
      partOf.set(id, part);
      (this.wholeTasks.has(id) ? part.tasks : part.taskStates).push(task);
    }
    for (const record of this.appended.completions)
      (partOf.get(record.taskId) ?? parts[0]!).completions.push(record);
    for (const announcement of this.announcements) {
      const part = announcement.taskId === null ? undefined : partOf.get(announcement.taskId);
      (part ?? parts[0]!).announcements.push(announcement);
    }
    for (const waiter of this.waiters) {
      const ids = waiter.taskIds;
      const part = ids === null ? undefined : partOf.get(ids[0]!);
      const one = part !== undefined && ids!.every((id) => partOf.get(id) === part);
      if (one) part.waiters.push(waiter);
      else last.waiters.push({ fn: waiter.fn, taskIds: null });
    }
    this.clear();
    return parts;
  }

  /**
   * Puts a failed batch back in front of what was staged since; a row staged again since keeps
   * its newer version, and only the latest beat of each engine is kept.
   */
  putBack(taken: Taken): void {
    const tasks = new Map<string, Task>();
    for (const task of [...taken.tasks, ...taken.taskStates]) tasks.set(task.id, task);
    for (const [id, task] of this.tasks) tasks.set(id, task);
    for (const task of taken.tasks) this.wholeTasks.add(task.id);
    const workflows = new Map(taken.workflows.map((workflow) => [workflow.id, workflow]));
    for (const [id, workflow] of this.workflows) workflows.set(id, workflow);
    const beats = new Map<string, EngineBeat>();
    for (const beat of [...taken.beats, ...this.beats]) beats.set(beat.engineId, beat);
    this.tasks = tasks;
    this.workflows = workflows;
    const appended = nothingAppended();
    for (const kind of APPENDED) {
      (appended[kind] as unknown[]) = [...taken[kind], ...this.appended[kind]];
    }
    this.appended = appended;
    this.beats = [...beats.values()];
    this.waitBefore(taken.waiters);
    this.announcements = [...taken.announcements, ...this.announcements];
  }

  /** Waiters that go before those staged since (in the order they came back), not after. */
  waitBefore(waiters: readonly Waiter[]): void {
    this.waiters.splice(this.waitersPutBack, 0, ...waiters);
    this.waitersPutBack += waiters.length;
  }
}
