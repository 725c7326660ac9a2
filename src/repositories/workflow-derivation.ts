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
 * What a derivation does to one workflow (`row`: as stored after the batch's writes): the row to
 * write (null when the status it derives is the stored one), and, when the derivation asks for
 * events (`eventsBy`), the `workflow.status` event of the commit's change of status: from `before`,
 * the status the row had under the lock before the batch's writes (a row the batch inserted: its
 * status as inserted), to the one the commit leaves. None when the two are equal: an engine's own
 * view of the workflow never makes an event.
 */
export function deriveWorkflow(
  derivation: WorkflowDerivation,
  row: Workflow,
  tasks: WorkflowTasks,
  before: Workflow['status'] = row.status,
): { write: Workflow | null; event: EventRecord | null } {
  const write = derivedRow(derivation, row, tasks);
  const to = write?.status ?? row.status;
  if (derivation.eventsBy === undefined || to === before) return { write, event: null };
  const payload = { workflowId: row.id, name: row.name, from: before, to, at: derivation.at };
  const event = {
    name: 'workflow.status',
    payload,
    engineId: derivation.eventsBy,
    workflowId: row.id,
    taskId: null,
    at: derivation.at,
  };
  return { write, event };
}

/**
 * The statuses of a derivation's workflows before the batch's writes (those stored), read by
 * `status` when its events are asked for (`eventsBy`); empty otherwise.
 */
export function statusesBefore(
  derivation: WorkflowDerivation | undefined,
  status: (workflowId: string) => Workflow['status'] | undefined,
): Map<string, Workflow['status']> {
  const before = new Map<string, Workflow['status']>();
  if (derivation?.eventsBy === undefined) return before;
  for (const id of derivationOrder(derivation)) {
    const stored = status(id);
    if (stored !== undefined) before.set(id, stored);
  }
  return before;
}

/** The derived events a store writes: none when the derivation keeps them off the store. */
export function storedDerived(
  derivation: WorkflowDerivation | undefined,
  events: EventRecord[],
): EventRecord[] {
  return derivation?.storeEvents === false ? [] : events;
}

/** The status derivations of a batch over tasks held in memory (memory and repository stores). */
export function deriveInMemory(
  derivation: WorkflowDerivation | undefined,
  workflow: (id: string) => Workflow | undefined,
  tasksOf: (workflowId: string) => Iterable<Task>,
  before: ReadonlyMap<string, Workflow['status']>,
): { rows: Workflow[]; events: EventRecord[] } {
  const rows: Workflow[] = [];
  const events: EventRecord[] = [];
  for (const workflowId of derivationOrder(derivation)) {
    const row = workflow(workflowId);
    if (!row) continue;
    const tasks = noWorkflowTasks();
    for (const task of tasksOf(workflowId)) tallyTasks(tasks, task.status, 1, task.attempts);
    const { write, event } = deriveWorkflow(derivation!, row, tasks, before.get(workflowId));
    if (write) rows.push(write);
    if (event) events.push(event);
  }
  return { rows, events };
}
