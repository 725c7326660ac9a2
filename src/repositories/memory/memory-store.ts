import type { AgentConfig } from '../../domain/agent-config.js';
import type { Task } from '../../domain/task.js';
import type { Workflow } from '../../domain/workflow.js';
import { agentConfigSpec, taskSpec, workflowSpec } from '../entities.js';
import { InvalidArgumentError } from '../../errors/errors.js';
import type {
  CommandAck,
  CompletionRecord,
  ControlCommand,
  EngineBeat,
  Store,
  StoreBatch,
  StoredCommand,
} from '../store.js';
import { claimInRepository } from '../repository.js';
import { CommandLog } from './command-log.js';
import { MemoryRepository } from './memory-repository.js';

const COMMAND_TYPES: readonly string[] = ['PAUSE', 'RESUME', 'CANCEL'];

/** The CHECK constraints of the SQL stores' `control_commands`. */
function checkCommand(command: ControlCommand): void {
  if (!COMMAND_TYPES.includes(command.type)) {
    throw new InvalidArgumentError(
      `Expected \`command.type\` to be one of ${COMMAND_TYPES.join(', ')}, got ${JSON.stringify(command.type)} (control command ${JSON.stringify(command.id)})`,
    );
  }
  if (command.workflowId === null && command.taskId === null) {
    throw new InvalidArgumentError(
      `Expected a workflowId or a taskId in control command ${JSON.stringify(command.id)}, got neither`,
    );
  }
}

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
  private readonly commandLog = new CommandLog();

  async open(): Promise<void> {}

  async commit(batch: StoreBatch): Promise<void> {
    const writes = [
      batch.tasks?.length ? this.tasks.prepareSave(batch.tasks) : undefined,
      batch.workflows?.length ? this.workflows.prepareSave(batch.workflows) : undefined,
      batch.agentConfigs?.length ? this.agentConfigs.prepareSave(batch.agentConfigs) : undefined,
    ];
    for (const command of batch.commands ?? []) checkCommand(command);
    for (const write of writes) write?.();
    for (const record of batch.completions ?? []) {
      if (!this.completionRecords.has(record.taskId))
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

  async close(): Promise<void> {}
}
