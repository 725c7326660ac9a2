import type { CommandAck, ControlCommand, StoreBatch, StoredBeat, StoredCommand } from '../store.js';

/** The time an in-process store stamps and judges beats by: its own, like a database server's. */
export interface StoreClock {
  now(): number;
}

/**
 * The control records of an in-process store: commands numbered as they arrive (a known id is
 * skipped), their acknowledgements, and each engine's last beat, stamped by the store's clock.
 */
export class CommandLog {
  /** By seq - 1; pruned ones stay as holes (null) so that seq keeps its meaning. */
  private readonly commands: Array<StoredCommand | null> = [];
  private readonly ids = new Set<string>();
  private readonly acks = new Map<string, CommandAck[]>();
  private readonly beats = new Map<string, Omit<StoredBeat, 'alive'>>();

  constructor(private readonly clock: StoreClock) {}

  /** Records the commands, acknowledgements and beats of a batch. */
  apply(batch: StoreBatch): void {
    this.append(batch.commands);
    for (const ack of batch.acks ?? []) {
      const list = this.acks.get(ack.commandId) ?? [];
      if (list.some((known) => known.engineId === ack.engineId)) continue;
      list.push({ ...ack });
      this.acks.set(ack.commandId, list);
    }
    const now = this.clock.now();
    for (const { engineId, ttlMs, stopped } of batch.beats ?? []) {
      this.beats.set(engineId, { engineId, beatAt: now, expiresAt: now + ttlMs, stopped });
    }
  }

  after(afterSeq: number, limit = 1_000): StoredCommand[] {
    const found: StoredCommand[] = [];
    for (
      let i = Math.max(0, Math.floor(afterSeq));
      i < this.commands.length && found.length < limit;
      i += 1
    ) {
      const command = this.commands[i];
      if (command) found.push({ ...command });
    }
    return found;
  }

  latest(): number {
    return this.commands.length;
  }

  acksOf(commandId: string): CommandAck[] {
    return (this.acks.get(commandId) ?? []).map((ack) => ({ ...ack }));
  }

  /** Every engine's last beat, by engine id (the order of the SQL stores), alive by the store's clock. */
  allBeats(): StoredBeat[] {
    const now = this.clock.now();
    return [...this.beats.values()]
      .sort((a, b) => (a.engineId < b.engineId ? -1 : a.engineId > b.engineId ? 1 : 0))
      .map((beat) => ({ ...beat, alive: !beat.stopped && beat.expiresAt > now }));
  }

  /** See Store.pruneControl. Kept commands keep their seq. */
  prune(before: number): void {
    for (let i = 0; i < this.commands.length - 1; i += 1) {
      const command = this.commands[i];
      if (command && command.createdAt < before) {
        this.commands[i] = null;
        this.acks.delete(command.id);
      }
    }
    for (const [engineId, beat] of this.beats) {
      if (beat.expiresAt < before && (beat.stopped || beat.beatAt < before)) this.beats.delete(engineId);
    }
  }

  private append(commands: readonly ControlCommand[] | undefined): void {
    for (const command of commands ?? []) {
      if (this.ids.has(command.id)) continue;
      this.ids.add(command.id);
      this.commands.push({ ...command, seq: this.commands.length + 1 });
    }
  }
}
