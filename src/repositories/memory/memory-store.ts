import type { AgentConfig } from '../../domain/agent-config.js';
import type { Task } from '../../domain/task.js';
import type { Workflow } from '../../domain/workflow.js';
import type { CompletionRecord, Store, StoreBatch } from '../store.js';
import { MemoryRepository } from './memory-repository.js';

/** Keeps everything in process memory; nothing survives the process. */
export class MemoryStore implements Store {
  readonly kind = 'memory' as const;
  readonly tasks = new MemoryRepository<Task>('task');
  readonly workflows = new MemoryRepository<Workflow>('workflow');
  readonly agentConfigs = new MemoryRepository<AgentConfig>('agent config');
  private readonly completionRecords = new Map<string, CompletionRecord>();

  async open(): Promise<void> {}

  async commit(batch: StoreBatch): Promise<void> {
    if (batch.tasks?.length) await this.tasks.saveMany(batch.tasks);
    if (batch.workflows?.length) await this.workflows.saveMany(batch.workflows);
    if (batch.agentConfigs?.length) await this.agentConfigs.saveMany(batch.agentConfigs);
    for (const record of batch.completions ?? []) {
      if (!this.completionRecords.has(record.taskId)) this.completionRecords.set(record.taskId, { ...record });
    }
  }

  async completions(taskId?: string): Promise<CompletionRecord[]> {
    if (taskId !== undefined) {
      const record = this.completionRecords.get(taskId);
      return record ? [{ ...record }] : [];
    }
    return [...this.completionRecords.values()].map((record) => ({ ...record }));
  }

  async close(): Promise<void> {}
}
