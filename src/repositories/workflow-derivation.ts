import type { Task } from '../domain/task.js';
import type { Workflow } from '../domain/workflow.js';
import type { EventRecord } from './events.js';
import type { WorkflowDerivation, WorkflowTasks } from './store.js';

/** No task at all: every status counted zero, nothing started. */
export function noWorkflowTasks(): WorkflowTasks {
  return {
    counts: { PENDING: 0, RUNNING: 0, COMPLETED: 0, FAILED: 0, PAUSED: 0, CANCELLED: 0, SKIPPED: 0 },
    started: false,
  };
}

/** Adds one group of a workflow's tasks (a status, how many, their most attempts) to `tasks`. */
export function tallyTasks(
  tasks: WorkflowTasks,
  status: Task['status'],
  count: number,
  attempts: number,
): void {
  tasks.counts[status] += count;
  if (attempts > 0) tasks.started = true;
}

/** The workflows to derive, in id order (the order their rows are locked in), each once. */
export function derivationOrder(derivation: WorkflowDerivation | undefined): string[] {
  return derivation ? [...new Set(derivation.workflowIds)].sort() : [];
}

/** The row a derivation leaves, or null when the status it derives is the stored one. */
export function derivedRow(
  derivation: WorkflowDerivation,
  row: Workflow,
  tasks: WorkflowTasks,
): Workflow | null {
  const status = derivation.status(row, tasks);
  return status === row.status ? null : { ...row, status, updatedAt: derivation.at };
}

/**
 * The `workflow.status` event of a status a derivation changed (`stored` to `derived`), when the
 * derivation asks for events (`eventsBy`); its payload is the one the engine's own event has.
 */
export function derivedEvent(
  derivation: WorkflowDerivation,
  stored: Workflow,
  derived: Workflow,
): EventRecord | null {
  if (derivation.eventsBy === undefined) return null;
  const payload = {
    workflowId: stored.id,
    name: stored.name,
    from: stored.status,
    to: derived.status,
    at: derivation.at,
  };
  return {
    name: 'workflow.status',
    payload,
    engineId: derivation.eventsBy,
    workflowId: stored.id,
    taskId: null,
    at: derivation.at,
  };
}

/** The status derivations of a batch over tasks held in memory (memory and repository stores). */
export function deriveInMemory(
  derivation: WorkflowDerivation | undefined,
  workflow: (id: string) => Workflow | undefined,
  tasksOf: (workflowId: string) => Iterable<Task>,
): { rows: Workflow[]; events: EventRecord[] } {
  const rows: Workflow[] = [];
  const events: EventRecord[] = [];
  for (const workflowId of derivationOrder(derivation)) {
    const row = workflow(workflowId);
    if (!row) continue;
    const tasks = noWorkflowTasks();
    for (const task of tasksOf(workflowId)) tallyTasks(tasks, task.status, 1, task.attempts);
    const derived = derivedRow(derivation!, row, tasks);
    if (!derived) continue;
    rows.push(derived);
    const event = derivedEvent(derivation!, row, derived);
    if (event) events.push(event);
  }
  return { rows, events };
}
