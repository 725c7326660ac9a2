import type { Task } from '../../domain/task.js';
import { claimInRepository, type Repository } from '../repository.js';
import type { CommandAck, CompletionRecord, EngineBeat, StoreBatch, StoredCommand } from '../store.js';
import { CommandLog } from './command-log.js';

/**
 * What the in-process stores (MemoryStore, the store of replaced repositories) keep besides their
 * repositories: completion records and control records, in process memory.
 */
export abstract class InProcessRecords {
  abstract readonly tasks: Repository<Task>;
  private readonly completionRecords = new Map<string, CompletionRecord>();
  private readonly commandLog = new CommandLog();

  /**
   * Keeps a batch's completion records (the first per task, for tasks `isCompleted` says are
   * COMPLETED once the batch's rows are written) and control records.
   */
  protected keepRecords(batch: StoreBatch, isCompleted: (taskId: string) => boolean): void {
    for (const record of batch.completions ?? []) {
      if (!this.completionRecords.has(record.taskId) && isCompleted(record.taskId))
        this.completionRecords.set(record.taskId, { ...record });
    }
    this.commandLog.apply(batch);
  }

  async completions(taskId?: string): Promise<CompletionRecord[]> {
    if (taskId !== undefined) {
      const record = this.completionRecords.get(taskId);
      return record ? [{ ...record }] : [];
    }
    return [...this.completionRecords.values()].map((record) => ({ ...record }));
  }

  async commandsAfter(afterSeq: number, limit?: number): Promise<StoredCommand[]> {
    return this.commandLog.after(afterSeq, limit);
  }

  async latestCommandSeq(): Promise<number> {
    return this.commandLog.latest();
  }

  async engineBeats(): Promise<EngineBeat[]> {
    return this.commandLog.allBeats();
  }

  async commandAcks(commandId: string): Promise<CommandAck[]> {
    return this.commandLog.acksOf(commandId);
  }

  async claimTasks(ids: readonly string[], engineId: string, from: readonly string[]): Promise<string[]> {
    return claimInRepository(this.tasks, ids, engineId, from);
  }

  async pruneControl(before: number): Promise<void> {
    this.commandLog.prune(before);
  }

  async open(): Promise<void> {}

  async close(): Promise<void> {}
}
