import {
  TASK_STATUSES,
  WORKFLOW_STATUSES,
  type TaskStatus,
  type WorkflowStatus,
} from '../../../machines/status.js';
import type { Task, Workflow } from '../../index.js';
import { CliUsageError, UnknownIdError } from '../cli-error.js';
import { runRecordOf } from '../run-record.js';
import type { Session } from '../store.js';

/** A workflow as `symphony list`, `symphony top` and the dashboard's list show it. */
export interface WorkflowListEntry {
  id: string;
  name: string;
  status: WorkflowStatus;
  createdAt: number;
  updatedAt: number;
  tasks: number;
  counts: Record<TaskStatus, number>;
  /**
   * Live engines holding its unfinished tasks (empty: no process is running them; `symphony
   * resume` continues it). Null when nothing is unfinished.
   */
  heldBy: string[] | null;
  /**
   * Handed to workers: by `run --submit` (its run record says so), as a whole (a workflow with
   * graph parts enqueued for workers, not ended), or task by task (a PENDING task of it has an
   * execution plan and no holder: `executor.enqueueTasks`, `retry --submit`). A `symphony worker`
   * runs its unfinished tasks.
   */
  submitted: boolean;
}

export interface ListWorkflowsOptions {
  /** Only workflows with this status. */
  status?: WorkflowStatus | undefined;
  /** At most this many, newest first. */
  limit: number;
}

/** The tasks of a workflow that are not finished (the ones an engine can hold). */
export const unfinishedCount = (counts: Record<TaskStatus, number>): number =>
  counts.PENDING + counts.RUNNING + counts.PAUSED;

/** Tasks waiting to run, as `symphony list` counts them: PENDING and PAUSED. */
export const waitingCount = (counts: Record<TaskStatus, number>): number => counts.PENDING + counts.PAUSED;

type HoldersOf = Pick<WorkflowListEntry, 'heldBy' | 'submitted' | 'status'>;

/**
 * Whether the workflow waits for a worker to claim its tasks, not for `symphony resume`: it was
 * handed to workers, no live process holds its unfinished tasks, and it is not paused (a paused
 * one is resumed first).
 */
export function awaitsWorker(entry: HoldersOf): boolean {
  return entry.submitted && entry.heldBy?.length === 0 && entry.status !== 'PAUSED';
}

/**
 * `heldBy` in words: `-` (nothing unfinished), `no worker` (handed to workers, none alive holds
 * it: `awaitsWorker`), `nobody` (no live process), or the engines.
 */
export function describeHolders(entry: HoldersOf): string {
  const { heldBy } = entry;
  if (heldBy === null) return '-';
  if (awaitsWorker(entry)) return 'no worker';
  return heldBy.length === 0 ? 'nobody' : heldBy.join(', ');
}

/**
 * The newest workflows with their task counts by status and the live engines holding their
 * unfinished tasks: what `symphony list` prints.
 */
export async function listWorkflowEntries(
  session: Session,
  options: ListWorkflowsOptions,
): Promise<WorkflowListEntry[]> {
  const { registry } = session;
  const workflows: Workflow[] = await registry.getWorkflowTracker().listWorkflows({
    ...(options.status === undefined ? {} : { where: { status: options.status } }),
    orderBy: 'createdAt',
    descending: true,
    limit: options.limit,
  });
  const tasks = registry.getRepository('tasks');
  const live = await liveEngines(session);
  const byWorkers = new Set(
    (await session.submittedWorkflows()).filter((run) => run.endedAt === null).map((run) => run.workflowId),
  );
  const entries: WorkflowListEntry[] = [];
  for (const workflow of workflows) {
    const counts = {} as Record<TaskStatus, number>;
    let total = 0;
    for (const taskStatus of TASK_STATUSES) {
      counts[taskStatus] = await tasks.count({ workflowId: workflow.id, status: taskStatus });
      total += counts[taskStatus];
    }
    const heldBy = await heldByOf(session, workflow.id, unfinishedCount(counts), live);
    const submitted =
      runRecordOf(workflow)?.submitted === true ||
      byWorkers.has(workflow.id) ||
      (heldBy?.length === 0 && counts.PENDING > 0 && (await queuedForWorkers(session, workflow.id)));
    entries.push({
      id: workflow.id,
      name: workflow.name,
      status: workflow.status,
      createdAt: workflow.createdAt,
      updatedAt: workflow.updatedAt,
      tasks: total,
      counts,
      heldBy,
      submitted,
    });
  }
  return entries;
}

/** Pages of PENDING unheld tasks `queuedForWorkers` reads at most. */
const QUEUED_PAGE = 200;

/**
 * A task waits for a worker to claim it when it is PENDING with an execution plan and no holder
 * (what `executor.enqueueTasks` and `retry --submit` leave; a worker's claim takes exactly those).
 */
export function waitsForWorker(task: Pick<Task, 'status' | 'leaseOwner' | 'execution'>): boolean {
  return task.status === 'PENDING' && task.leaseOwner === null && task.execution !== null;
}

/**
 * Whether some PENDING task of the workflow waits for a worker (`waitsForWorker`), read among its
 * first PENDING tasks with no holder (a page: tasks made but never run have no plan).
 */
export async function queuedForWorkers(session: Session, workflowId: string): Promise<boolean> {
  const unheld = await session.registry.getRepository('tasks').find({
    where: { workflowId, status: 'PENDING', leaseOwner: null },
    limit: QUEUED_PAGE,
  });
  return unheld.some(waitsForWorker);
}

/**
 * The live engines (of `live`) holding some task of the workflow: `symphony list`'s HELD BY.
 * Empty: no live process runs its unfinished tasks; null when nothing is unfinished.
 */
export async function heldByOf(
  session: Session,
  workflowId: string,
  unfinished: number,
  live: ReadonlyArray<{ engineId: string }>,
): Promise<string[] | null> {
  if (unfinished === 0) return null;
  const tasks = session.registry.getRepository('tasks');
  const heldBy: string[] = [];
  for (const engine of live) {
    if ((await tasks.count({ workflowId, leaseOwner: engine.engineId })) > 0) heldBy.push(engine.engineId);
  }
  return heldBy;
}

/** The live engines of the store but the reader's own. */
export async function liveEngines(session: Session): Promise<Array<{ engineId: string }>> {
  return (await session.registry.listEngines()).filter((engine) => engine.alive && !engine.self);
}

/** How many workflows of the store have each status. */
export async function workflowStatusCounts(session: Session): Promise<Record<WorkflowStatus, number>> {
  const workflows = session.registry.getRepository('workflows');
  const counts = {} as Record<WorkflowStatus, number>;
  for (const status of WORKFLOW_STATUSES) counts[status] = await workflows.count({ status });
  return counts;
}

/**
 * The workflow an id names: a workflow's id, or a task's (its workflow). `command` names what
 * refuses a task of no workflow (`symphony show shows workflows`).
 */
export async function resolveWorkflowId(
  session: Session,
  id: string,
  command: string,
): Promise<{ workflowId: string; task: Task | null }> {
  const { registry } = session;
  if (await registry.getRepository('workflows').get(id)) return { workflowId: id, task: null };
  const task = await registry.getRepository('tasks').get(id);
  if (!task) throw new UnknownIdError(id, session.storeName);
  if (task.workflowId === null) {
    throw new CliUsageError(`Task ${id} ${JSON.stringify(task.name)} belongs to no workflow; ${command}`);
  }
  return { workflowId: task.workflowId, task };
}
