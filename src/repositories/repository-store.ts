import type { AgentConfig } from '../domain/agent-config.js';
import type { Task } from '../domain/task.js';
import type { Workflow } from '../domain/workflow.js';
import { claimInRepository, getManyByGet, type Repository } from './repository.js';
import type { CommandAck, CompletionRecord, EngineBeat, Store, StoreBatch, StoredCommand } from './store.js';
import { CommandLog } from './memory/command-log.js';

/**
 * `repository` itself when it has `getMany`; otherwise a repository that forwards every call to
 * it and answers `getMany` with one `get` per id (for repositories written before `getMany`).
 */
export function withGetMany<T extends { id: string }>(repository: Repository<T>): Repository<T> {
  if (typeof (repository as Partial<Repository<T>>).getMany === 'function') return repository;
  return {
    get: (id) => repository.get(id),
    getMany: (ids) => getManyByGet(repository, ids),
    find: (query) => repository.find(query),
    count: (where) => repository.count(where),
    create: (entity) => repository.create(entity),
    saveMany: (entities) => repository.saveMany(entities),
    delete: (id) => repository.delete(id),
  };
}

/**
 * A store made of separate repositories (some replaced by the user). Batches are written
 * repository by repository, so they are atomic only within each repository's `saveMany`.
 */
export class RepositoryStore implements Store {
  readonly kind = 'memory' as const;
  private readonly completionRecords = new Map<string, CompletionRecord>();
  private readonly commandLog = new CommandLog();

  readonly tasks: Repository<Task>;
  readonly workflows: Repository<Workflow>;
  readonly agentConfigs: Repository<AgentConfig>;

  /** A repository without `getMany` is wrapped so that the store's repositories all have it. */
  constructor(
    tasks: Repository<Task>,
    workflows: Repository<Workflow>,
    agentConfigs: Repository<AgentConfig>,
  ) {
    this.tasks = withGetMany(tasks);
    this.workflows = withGetMany(workflows);
    this.agentConfigs = withGetMany(agentConfigs);
  }

  async open(): Promise<void> {}

  async commit(batch: StoreBatch): Promise<void> {
    // The rows are live (see Store.commit) and these writes await: they get a copy.
    const copy = structuredClone(batch);
    if (copy.agentConfigs?.length) await this.agentConfigs.saveMany(copy.agentConfigs);
    if (copy.workflows?.length) await this.workflows.saveMany(copy.workflows);
    if (copy.tasks?.length) await this.tasks.saveMany(copy.tasks);
    for (const record of copy.completions ?? []) {
      if (!this.completionRecords.has(record.taskId)) this.completionRecords.set(record.taskId, record);
    }
    this.commandLog.apply(copy);
  }

  async completions(taskId?: string): Promise<CompletionRecord[]> {
    const all = [...this.completionRecords.values()];
    return (taskId === undefined ? all : all.filter((record) => record.taskId === taskId)).map((r) => ({
      ...r,
    }));
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
