import type { AgentConfig } from '../../domain/agent-config.js';
import type { Task } from '../../domain/task.js';
import type { Workflow } from '../../domain/workflow.js';
import { agentConfigSpec, taskSpec, workflowSpec } from '../entities.js';
import type { CompletionRecord, Store, StoreBatch } from '../store.js';
import { MemoryRepository } from './memory-repository.js';

/**
 * Keeps everything in process memory; nothing survives the process. Checks the same constraints as
 * the SQL stores (status values, unique idempotency keys) and applies a batch all or none.
 */
export class MemoryStore implements Store {
  readonly kind = 'memory' as const;
  readonly tasks = new MemoryRepository<Task>('task', taskSpec);
  readonly workflows = new MemoryRepository<Workflow>('workflow', workflowSpec);
  readonly agentConfigs = new MemoryRepository<AgentConfig>('agent config', agentConfigSpec);
  private readonly completionRecords = new Map<string, CompletionRecord>();

  async open(): Promise<void> {}

  async commit(batch: StoreBatch): Promise<void> {
    const writes = [
      batch.tasks?.length ? this.tasks.prepareSave(batch.tasks) : undefined,
      batch.workflows?.length ? this.workflows.prepareSave(batch.workflows) : undefined,
      batch.agentConfigs?.length ? this.agentConfigs.prepareSave(batch.agentConfigs) : undefined,
    ];
    for (const write of writes) write?.();
    for (const record of batch.completions ?? []) {
      if (!this.completionRecords.has(record.taskId))
        this.completionRecords.set(record.taskId, { ...record });
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
