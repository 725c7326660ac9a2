import type { AgentConfig } from '../domain/agent-config.js';
import type { Task } from '../domain/task.js';
import type { Workflow } from '../domain/workflow.js';
import { getManyByGet, type Repository } from './repository.js';
import type { CommitResult, Store, StoreBatch } from './store.js';
import type { EventRecord } from './events.js';
import { InProcessRecords } from './memory/in-process-records.js';
import { rowsAfterStates } from './task-states.js';
import { lostWorkflows, withLeft, withoutLost } from './coordination.js';
import { deriveInMemory, statusesBefore, storedDerived } from './workflow-derivation.js';

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
export class RepositoryStore extends InProcessRecords implements Store {
  readonly kind = 'memory' as const;

  readonly tasks: Repository<Task>;
  readonly workflows: Repository<Workflow>;
  readonly agentConfigs: Repository<AgentConfig>;

  /** A repository without `getMany` is wrapped so that the store's repositories all have it. */
  constructor(
    tasks: Repository<Task>,
    workflows: Repository<Workflow>,
    agentConfigs: Repository<AgentConfig>,
  ) {
    super();
    this.tasks = withGetMany(tasks);
    this.workflows = withGetMany(workflows);
    this.agentConfigs = withGetMany(agentConfigs);
  }

  async commit(coordinated: StoreBatch): Promise<CommitResult> {
    // Checked before the first await; the writes below are not atomic anyway (see the class).
    const lost = lostWorkflows(coordinated.coordination, (id) => this.coordinatorOf(id));
    const { batch, left } = withoutLost(coordinated, lost);
    // The rows are live (see Store.commit) and these writes await: they get a copy.
    const { deriveWorkflows, ...rest } = batch;
    const copy = structuredClone(rest);
    const signals = this.prepareSignals(copy);
    const events = this.prepareEvents(copy);
    if (copy.agentConfigs?.length) await this.agentConfigs.saveMany(copy.agentConfigs);
    // The stored statuses before the writes, which the derived events start from.
    const ids = deriveWorkflows?.eventsBy === undefined ? [] : [...deriveWorkflows.workflowIds];
    const prior = new Map((await this.workflows.getMany(ids)).map((row) => [row.id, row.status]));
    const before = statusesBefore(deriveWorkflows, (id) => prior.get(id));
    if (copy.workflows?.length) await this.workflows.saveMany(copy.workflows);
    if (copy.tasks?.length) await this.tasks.saveMany(copy.tasks);
    let fenced: string[] = [];
    if (copy.taskStates?.length) {
      const stored = new Map(
        (await this.tasks.getMany(copy.taskStates.map((t) => t.id))).map((t) => [t.id, t]),
      );
      const after = rowsAfterStates(copy.taskStates, (id) => stored.get(id), copy.fences);
      fenced = after.fenced;
      if (after.rows.length) await this.tasks.saveMany(after.rows);
    }
    let derivedEvents: EventRecord[] = [];
    if (deriveWorkflows?.workflowIds.length) {
      const ids = [...deriveWorkflows.workflowIds];
      const rows = new Map((await this.workflows.getMany(ids)).map((row) => [row.id, row]));
      const tasks = await Promise.all(ids.map((workflowId) => this.tasks.find({ where: { workflowId } })));
      const byWorkflow = new Map(ids.map((id, i) => [id, tasks[i]!]));
      const derived = deriveInMemory(
        { ...deriveWorkflows, workflowIds: ids },
        (id) => rows.get(id),
        (id) => byWorkflow.get(id) ?? [],
        before,
      );
      if (derived.rows.length) await this.workflows.saveMany(derived.rows);
      derivedEvents = derived.events;
    }
    const completed = new Set<string>();
    if (copy.completions?.length) {
      for (const task of await this.tasks.getMany(copy.completions.map((r) => r.taskId)))
        if (task.status === 'COMPLETED') completed.add(task.id);
    }
    this.keepRecords(copy, (id) => completed.has(id));
    signals();
    events(fenced);
    const storedEvents = storedDerived(deriveWorkflows, derivedEvents);
    if (storedEvents.length) this.prepareEvents({ events: storedEvents })([]);
    fenced = withLeft(fenced, left);
    const result: CommitResult = derivedEvents.length ? { fenced, derived: derivedEvents } : { fenced };
    if (lost.size > 0) result.lost = [...lost];
    return result;
  }
}
