import type { Task } from '../domain/task.js';
import type { Workflow } from '../domain/workflow.js';
import type { CoordinationFence } from '../repositories/coordination.js';

/**
 * The submitted workflows this engine coordinates, for the coordinator fence of its commits (see
 * `StoreBatch.coordination`): every batch that writes one of them (a task row, whole or state, or
 * its workflow row) has the store check that it still names this engine their coordinator. When
 * the store says it does not (another worker took the workflow over while this one was paused
 * past its liveness window), the workflow is dropped here and the listeners are told.
 */
export class CoordinatedWorkflows {
  private readonly held = new Set<string>();
  private readonly listeners = new Set<(workflowId: string) => void>();

  constructor(private readonly engineId: string) {}

  /** The store names this engine the workflow's coordinator (it claimed it). */
  hold(workflowId: string): void {
    this.held.add(workflowId);
  }

  /** This engine lets the workflow go (or ends it): its writes are no longer fenced. */
  release(workflowId: string): void {
    this.held.delete(workflowId);
  }

  has(workflowId: string): boolean {
    return this.held.has(workflowId);
  }

  /** The workflows held now. */
  ids(): string[] {
    return [...this.held];
  }

  /** Calls `fn` with each workflow a commit found coordinated by another engine. */
  onLost(fn: (workflowId: string) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** The fence of a batch that writes these rows; undefined when it writes none of the workflows. */
  fenceOf(tasks: Iterable<Task>, workflows: Iterable<Workflow>): CoordinationFence | undefined {
    if (this.held.size === 0) return undefined;
    const ids = new Set<string>();
    for (const task of tasks)
      if (task.workflowId !== null && this.held.has(task.workflowId)) ids.add(task.workflowId);
    for (const workflow of workflows) if (this.held.has(workflow.id)) ids.add(workflow.id);
    return ids.size === 0 ? undefined : { engineId: this.engineId, workflowIds: [...ids] };
  }

  /** A commit reported these workflows lost: they are dropped here and the listeners told. */
  lost(workflowIds: readonly string[]): void {
    for (const workflowId of workflowIds) {
      if (!this.held.delete(workflowId)) continue;
      for (const fn of [...this.listeners]) fn(workflowId);
    }
  }
}
