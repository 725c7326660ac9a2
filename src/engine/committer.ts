import type { Task } from '../domain/task.js';
import type { Workflow } from '../domain/workflow.js';
import {
  isEmptyBatch,
  type CommandAck,
  type CompletionRecord,
  type ControlCommand,
  type EngineBeat,
  type Store,
} from '../repositories/store.js';

type Callback = (error: unknown) => void;

/** The next turn of the event loop; `setTimeout(0)` where there is no `setImmediate` (browsers). */
const nextTurn: (fn: () => void) => void =
  typeof setImmediate === 'function' ? (fn) => setImmediate(fn) : (fn) => setTimeout(fn, 0);

/**
 * Group commit: rows staged during one turn of the event loop are written in one `store.commit`
 * (one transaction), and the callbacks waiting on them run only after it has committed. A row
 * staged twice in a turn is written once, in its latest form.
 */
export class Committer {
  private tasks = new Map<string, Task>();
  private workflows = new Map<string, Workflow>();
  private completions: CompletionRecord[] = [];
  private commands: ControlCommand[] = [];
  /** Control records (beats, acknowledgements), written with the next batch. */
  private beats: EngineBeat[] = [];
  private acks: CommandAck[] = [];
  private callbacks: Callback[] = [];
  private scheduled = false;
  /** True while the before-flush hooks run: what they stage joins the batch being taken. */
  private taking = false;
  private flushing: Promise<void> | null = null;
  private readonly beforeFlush: Array<() => void> = [];

  constructor(private readonly store: Store) {}

  /** Runs just before each batch is taken, to stage derived rows (workflow statuses). */
  onBeforeFlush(fn: () => void): void {
    this.beforeFlush.push(fn);
  }

  stageTask(task: Task): void {
    this.tasks.set(task.id, task);
    this.schedule();
  }

  stageWorkflow(workflow: Workflow): void {
    this.workflows.set(workflow.id, workflow);
    this.schedule();
  }

  stageCompletion(record: CompletionRecord): void {
    this.completions.push(record);
    this.schedule();
  }

  stageCommand(command: ControlCommand): void {
    this.commands.push(command);
    this.schedule();
  }

  stageBeat(beat: EngineBeat): void {
    this.beats.push(beat);
    this.schedule();
  }

  stageAck(ack: CommandAck): void {
    this.acks.push(ack);
    this.schedule();
  }

  /** Calls `fn` once everything staged so far has committed (or with the error if it failed). */
  afterCommit(fn: Callback): void {
    this.callbacks.push(fn);
    this.schedule();
  }

  /** Resolves once everything staged so far has committed. */
  settle(): Promise<void> {
    return new Promise((resolve, reject) => this.afterCommit((error) => (error ? reject(error) : resolve())));
  }

  private schedule(): void {
    if (this.scheduled || this.flushing || this.taking) return;
    this.scheduled = true;
    nextTurn(() => void this.flush());
  }

  /**
   * Takes everything staged and commits it. One batch at a time: a second flush while one is in
   * flight would let two transactions race (on a store with several connections, an older state
   * could then commit last).
   */
  private async flush(): Promise<void> {
    this.scheduled = false;
    if (this.flushing) return; // the flush in flight reschedules when it ends
    this.taking = true;
    try {
      for (const fn of this.beforeFlush) fn();
    } finally {
      this.taking = false;
    }
    // The rows go as they are: a store reads them before its first await (see Store.commit), so a
    // later state never reaches the store ahead of the records that go with it.
    const tasks = [...this.tasks.values()];
    const workflows = [...this.workflows.values()];
    const completions = this.completions;
    const commands = this.commands;
    const beats = this.beats;
    const acks = this.acks;
    const callbacks = this.callbacks;
    this.tasks = new Map();
    this.workflows = new Map();
    this.completions = [];
    this.commands = [];
    this.beats = [];
    this.acks = [];
    this.callbacks = [];
    let failure: unknown = null;
    const run = async () => {
      try {
        const batch = { tasks, workflows, completions, commands, beats, acks };
        if (!isEmptyBatch(batch)) await this.store.commit(batch);
      } catch (error) {
        failure = error;
      }
    };
    this.flushing = run();
    await this.flushing;
    this.flushing = null;
    for (const callback of callbacks) callback(failure);
    if (
      this.tasks.size ||
      this.workflows.size ||
      this.completions.length ||
      this.commands.length ||
      this.beats.length ||
      this.acks.length ||
      this.callbacks.length
    ) {
      this.schedule();
    }
  }
}
