import { InvalidArgumentError, InvalidStateError } from '../errors/errors.js';
import type { ControlCommand, Store, StoredBeat, StoredCommand } from '../repositories/store.js';
import type { Committer } from './committer.js';
import type { ResolvedEngineOptions } from './options.js';
import type { WorkflowCommand } from './workflow-control.js';

/** What the poller needs of its engine: the store's control records and how to apply a command. */
export interface ControlDeps {
  options: Pick<
    ResolvedEngineOptions,
    'clock' | 'engineId' | 'idGenerator' | 'livenessMs' | 'eventRetention'
  >;
  store: Pick<
    Store,
    'pruneControl' | 'pruneFairMarks' | 'latestCommandSeq' | 'engineBeats' | 'commandAcks' | 'commandsAfter'
  >;
  committer: Pick<Committer, 'settle' | 'stageCommand' | 'stageAck' | 'stageBeat'>;
  /** Whether this engine holds the command's target (has a live execution of it). */
  holds(target: CommandTarget): boolean;
  /** Applies a command to a target this engine holds; rejects when the machines refuse it. */
  apply(command: StoredCommand): Promise<unknown>;
  /** Drops this engine's cached copy of a workflow that another engine may change. */
  unload(workflowId: string): void;
  /** Runs after each poll's commands: reads what else other processes sent (signals). */
  polled?(): Promise<void>;
}

/**
 * An engine as its beats show it: times and `alive` (its last beat has not expired by the store's
 * clock and was not a stop) are the store's.
 */
export interface EngineStatus extends StoredBeat {
  /** It is the engine of the registry asking. */
  self: boolean;
}

/** What a command steers: a workflow, or one task (with its workflow, if any). */
type CommandTarget = Pick<ControlCommand, 'workflowId' | 'taskId'>;

/** How long commands, acknowledgements and ended engines' beats are kept. */
const CONTROL_RETENTION_MS = 24 * 60 * 60 * 1000;

/** Longest wait for an engine that beats but does not answer a command (its polls failing). */
const MAX_ANSWER_WAIT_MS = 60_000;

/**
 * How long an engine's last beat counts as a sign of life: the `livenessMs` option if given
 * (longer than a poll, or the engine would look dead between its own beats), else ten polls and
 * never under 5 s.
 */
export function livenessWindowMs(pollMs: number, livenessMs?: number): number {
  if (livenessMs === undefined) return Math.max(10 * pollMs, 5_000);
  if (livenessMs <= pollMs) {
    throw new InvalidArgumentError(
      `Expected \`livenessMs\` to be greater than \`controlPollMs\` (${pollMs}), got ${livenessMs}`,
    );
  }
  return livenessMs;
}

/**
 * An engine's link with the other processes on its store. Every `intervalMs` it writes a beat
 * (a sign of life others read before taking over its leased attempts or steering its workflows;
 * the store stamps it and judges it alive by its own clock, so engines' clocks need not agree),
 * then reads the control commands written since the last poll: it applies those for workflows it
 * holds and acknowledges each one, applied or not. Its timer never keeps the process alive.
 */
export class ControlPoller {
  private seq = 0;
  private timer: unknown = null;
  private running = false;
  private intervalMs = 0;
  private windowMs = livenessWindowMs(0);
  /** Ids of the commands this engine wrote, skipped when they come back in a poll. */
  private readonly sent = new Set<string>();
  /** When this engine last pruned the store (its clock). */
  private prunedAt = -Infinity;

  constructor(private readonly engine: ControlDeps) {}

  get livenessMs(): number {
    return this.windowMs;
  }

  /** Milliseconds between polls; 0 until started (and for an engine that does not poll). */
  get pollMs(): number {
    return this.intervalMs;
  }

  async start(intervalMs: number): Promise<void> {
    this.windowMs = livenessWindowMs(intervalMs, this.engine.options.livenessMs);
    this.intervalMs = intervalMs;
    await this.prune();
    this.seq = await this.engine.store.latestCommandSeq();
    this.running = true;
    this.beat(false);
    await this.engine.committer.settle();
    this.schedule();
  }

  /** Stops polling; the engine's last beat says it stopped (committed with the engine's last batch). */
  stop(): void {
    if (!this.running) return;
    this.running = false;
    if (this.timer !== null) this.engine.options.clock.clearTimeout(this.timer);
    this.timer = null;
    this.beat(true);
  }

  /**
   * Control records only matter while fresh: drops those older than a day, the stored events past
   * the `eventRetention` option, and the serve marks of fairness keys claims no longer need
   * (`Store.pruneFairMarks`). Best effort: a failed prune is left to the next.
   */
  private async prune(): Promise<void> {
    const now = this.engine.options.clock.now();
    const { maxAgeMs, maxEvents } = this.engine.options.eventRetention;
    this.prunedAt = now;
    const { store } = this.engine;
    await store
      .pruneControl(now - CONTROL_RETENTION_MS, { before: now - maxAgeMs, maxEvents })
      .catch(() => {});
    await store.pruneFairMarks?.(now).catch(() => 0);
  }

  /** Writes a command for the other engines (committed with the next batch). */
  send(target: CommandTarget, type: WorkflowCommand): ControlCommand {
    const command: ControlCommand = {
      id: this.engine.options.idGenerator(),
      workflowId: target.workflowId,
      taskId: target.taskId,
      type,
      createdAt: this.engine.options.clock.now(),
    };
    if (this.running) this.sent.add(command.id);
    this.engine.committer.stageCommand(command);
    return command;
  }

  /** Every engine that ever beat on the store, with whether it counts as alive now. */
  async engines(): Promise<EngineStatus[]> {
    return (await this.engine.store.engineBeats()).map((beat) => ({
      ...beat,
      self: beat.engineId === this.engine.options.engineId,
    }));
  }

  /** Ids of the other engines whose last beat is recent and not a stop. */
  async otherLiveEngines(): Promise<string[]> {
    const beats = await this.engine.store.engineBeats();
    return beats.filter((beat) => this.isAlive(beat)).map((beat) => beat.engineId);
  }

  /**
   * Waits until an engine acknowledges the command as applied (true; a refusal by that engine, such
   * as pausing a task it has just started, is thrown as INVALID_STATE), or until every engine in
   * `engines` has either answered without holding the target or stopped beating (false). An engine
   * that beats is waited for however slowly it polls; only one that beats but never answers (its
   * polls failing) is given up on, after MAX_ANSWER_WAIT_MS.
   */
  async appliedElsewhere(command: ControlCommand, engines: readonly string[]): Promise<boolean> {
    const waiting = new Set(engines);
    const deadline = this.engine.options.clock.now() + Math.max(this.livenessMs, MAX_ANSWER_WAIT_MS);
    const step = Math.max(5, Math.min(50, this.intervalMs / 4));
    for (;;) {
      const acks = await this.engine.store.commandAcks(command.id);
      const applied = acks.find((ack) => ack.applied);
      if (applied) {
        if (applied.error !== null) {
          throw new InvalidStateError(`${applied.error} (in engine ${applied.engineId})`, {
            commandId: command.id,
            engineId: applied.engineId,
          });
        }
        return true;
      }
      for (const ack of acks) waiting.delete(ack.engineId);
      if (waiting.size > 0) {
        const alive = new Set(await this.otherLiveEngines());
        for (const id of waiting) if (!alive.has(id)) waiting.delete(id);
      }
      if (waiting.size === 0 || this.engine.options.clock.now() >= deadline) return false;
      await new Promise<void>((resolve) => this.engine.options.clock.setTimeout(() => resolve(), step));
    }
  }

  /**
   * Tells whether the engine named in a task's lease may still be running the attempt: its beats
   * say so if it writes them (as the store judges them); an engine that never beat here holds it
   * until the lease expires (a time of that engine's clock, read against this one's).
   */
  async leaseHolders(): Promise<(owner: string | null, leaseExpiresAt: number | null) => boolean> {
    const beats = new Map((await this.engine.store.engineBeats()).map((beat) => [beat.engineId, beat]));
    const now = this.engine.options.clock.now();
    return (owner, leaseExpiresAt) => {
      if (owner === null || owner === this.engine.options.engineId) return false;
      const beat = beats.get(owner);
      return beat ? this.isAlive(beat) : (leaseExpiresAt ?? 0) > now;
    };
  }

  /** `leaseHolders` for one task; no store read when no other engine is named in its lease. */
  async isLeasedElsewhere(owner: string | null, leaseExpiresAt: number | null): Promise<boolean> {
    if (owner === null || owner === this.engine.options.engineId) return false;
    return (await this.leaseHolders())(owner, leaseExpiresAt);
  }

  /** Applies every command written since the last poll; returns how many this engine applied. */
  async poll(): Promise<number> {
    let applied = 0;
    const commands = await this.engine.store.commandsAfter(this.seq);
    for (const command of commands) {
      this.seq = command.seq;
      if (this.sent.delete(command.id)) continue;
      if (await this.answer(command)) applied += 1;
    }
    await this.engine.polled?.();
    return applied;
  }

  /**
   * Applies a command if this engine holds its target, and acknowledges it: `applied` says the
   * holder handled it (a transition the machines refuse leaves the target as it was).
   */
  private async answer(command: StoredCommand): Promise<boolean> {
    const engine = this.engine;
    // A stopping engine still answers: during its grace period it holds running attempts, and a
    // CANCEL must reach them.
    const held = engine.holds(command);
    let error: string | null = null;
    if (held) {
      await engine.apply(command).catch((refused: unknown) => {
        error = refused instanceof Error ? refused.message : String(refused);
      });
    } else if (command.workflowId !== null) {
      // Whoever changes it now, the copy this engine may have cached is stale.
      engine.unload(command.workflowId);
    }
    engine.committer.stageAck({
      commandId: command.id,
      engineId: engine.options.engineId,
      applied: held,
      error,
      ackedAt: engine.options.clock.now(),
    });
    return held && error === null;
  }

  /** Another engine, alive by the store's verdict. */
  private isAlive(beat: StoredBeat): boolean {
    return beat.engineId !== this.engine.options.engineId && beat.alive;
  }

  /** The store stamps the beat with its own clock; the beat says only how long it counts. */
  private beat(stopped: boolean): void {
    this.engine.committer.stageBeat({
      engineId: this.engine.options.engineId,
      ttlMs: this.livenessMs,
      stopped,
    });
  }

  private schedule(): void {
    if (!this.running) return;
    const handle = this.engine.options.clock.setTimeout(() => {
      this.timer = null;
      if (!this.running) return;
      const { clock, eventRetention } = this.engine.options;
      if (clock.now() - this.prunedAt >= eventRetention.pruneEveryMs) void this.prune();
      this.beat(false);
      void this.poll()
        .catch(() => {})
        .finally(() => this.schedule());
    }, this.intervalMs);
    (handle as { unref?: () => void } | null)?.unref?.();
    this.timer = handle;
  }
}
