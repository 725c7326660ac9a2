import type { TaskStatus, WorkflowStatus } from '../../machines/status.js';

/**
 * A reference for the workflow status rule, written from docs/status-rules.md ("Workflow status")
 * and not from `deriveWorkflowStatus`: it takes the tasks as a plain list of statuses (a multiset),
 * looks only at which statuses occur, and walks the documented rules as a table, first match wins.
 * It also says which rule decided, so it can be checked against the docs' "rule" column.
 */
export interface WorkflowFlags {
  /** Whether any task of the workflow has ever started running. */
  started: boolean;
  paused: boolean;
  cancelled: boolean;
}

export interface OracleAnswer {
  status: WorkflowStatus;
  /** The number of the documented rule that applied (1-8). */
  rule: number;
}

export function workflowStatusOracle(tasks: readonly TaskStatus[], flags: WorkflowFlags): OracleAnswer {
  const present = new Set(tasks);
  /** Every task is in one of `allowed` (the caller has already handled "no tasks"). */
  const onlyIn = (...allowed: TaskStatus[]) => [...present].every((status) => allowed.includes(status));
  const rules: readonly [applies: boolean, status: WorkflowStatus][] = [
    [flags.paused, 'PAUSED'],
    [flags.cancelled, 'CANCELLED'],
    [tasks.length === 0, 'PENDING'],
    // Done is COMPLETED or SKIPPED (a graph node that was not to run).
    [onlyIn('COMPLETED', 'SKIPPED'), 'COMPLETED'],
    [present.has('FAILED'), 'FAILED'],
    [onlyIn('COMPLETED', 'SKIPPED', 'CANCELLED'), 'CANCELLED'],
    [!flags.started, 'PENDING'],
    [true, 'RUNNING'],
  ];
  const index = rules.findIndex(([applies]) => applies);
  return { status: rules[index]![1], rule: index + 1 };
}

/** The multiset of task statuses that `counts` describes, e.g. `{ PENDING: 2 }` -> PENDING, PENDING. */
export function tasksFromCounts(counts: Readonly<Record<TaskStatus, number>>): TaskStatus[] {
  return (Object.entries(counts) as [TaskStatus, number][]).flatMap(([status, n]) =>
    Array.from({ length: n }, () => status),
  );
}

/** The counts of a multiset of task statuses, every status present (0 when absent). */
export function countsFromTasks(tasks: readonly TaskStatus[]): Record<TaskStatus, number> {
  const counts: Record<TaskStatus, number> = {
    PENDING: 0,
    RUNNING: 0,
    COMPLETED: 0,
    FAILED: 0,
    PAUSED: 0,
    CANCELLED: 0,
    SKIPPED: 0,
  };
  for (const status of tasks) counts[status] += 1;
  return counts;
}
