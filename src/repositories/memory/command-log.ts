import type { ControlCommand, StoredCommand } from '../store.js';

/** The control commands of an in-process store, numbered as they arrive; a known id is skipped. */
export class CommandLog {
  private readonly commands: StoredCommand[] = [];
  private readonly ids = new Set<string>();

  append(commands: readonly ControlCommand[] | undefined): void {
    for (const command of commands ?? []) {
      if (this.ids.has(command.id)) continue;
      this.ids.add(command.id);
      this.commands.push({ ...command, seq: this.commands.length + 1 });
    }
  }

  after(afterSeq: number, limit = 1_000): StoredCommand[] {
    const start = Math.max(0, Math.floor(afterSeq));
    return this.commands.slice(start, start + limit).map((command) => ({ ...command }));
  }

  latest(): number {
    return this.commands.length;
  }
}
