import type { Task } from '../domain/task.js';
import type { Workflow } from '../domain/workflow.js';
import type { Repository } from './repository.js';

/**
 * Pruning the serve marks of fairness keys (docs/policies.md "Fairness keys", `Store.pruneFairMarks`).
 * A key's mark goes when the key has no unfinished task (PENDING, RUNNING or PAUSED) and it was
 * served before every group that has a task waiting to be claimed (`waiting` below; a group never
 * served counts 0, so while one waits no mark goes). The mark of the tasks without a key ('') stays.
 * A key that comes back counts as never served (mark 0). Why the rule still holds: each group waiting
 * now started after the pruned key last did, so its wait began after that start, and the key's next
 * start is its first in that wait (K = 1); the order between groups with unfinished tasks is
 * untouched. The in-process, SQLite and PostgreSQL versions below say the same.
 */

/** Unfinished: may still run, so its key's mark is kept. */
const UNFINISHED = ['PENDING', 'RUNNING', 'PAUSED'] as const;

/**
 * Waiting to be claimed, as far as pruning goes: PENDING and due, or RUNNING and held by no engine
 * (an interrupted attempt), outside paused and cancelled workflows. (Held PENDING tasks count too: a
 * bit more than needed, never less.)
 */
function waiting(task: Task, now: number, stopped: ReadonlySet<string>): boolean {
  if (task.execution === null) return false;
  if (task.workflowId !== null && stopped.has(task.workflowId)) return false;
  if (task.status === 'PENDING') return task.runAfter === null || task.runAfter <= now;
  return task.status === 'RUNNING' && task.leaseOwner === null;
}

/** The rule above over repositories in this process; deletes from `marks`, resolves to how many. */
export async function pruneFairMarksInProcess(
  source: { tasks: Repository<Task>; workflows: Repository<Workflow>; marks: Map<string, number> },
  now: number,
): Promise<number> {
  const { marks } = source;
  if (marks.size <= 1) return 0;
  const unfinished: Task[] = [];
  for (const status of UNFINISHED) unfinished.push(...(await source.tasks.find({ where: { status } })));
  const workflowIds = [...new Set(unfinished.flatMap((t) => (t.workflowId === null ? [] : [t.workflowId])))];
  const stopped = new Set(
    (await source.workflows.getMany(workflowIds)).filter((w) => w.paused || w.cancelled).map((w) => w.id),
  );
  const live = new Set<string>();
  let floor = Infinity;
  for (const task of unfinished) {
    const key = task.execution?.concurrencyKey;
    if (key !== undefined) live.add(key);
    if (waiting(task, now, stopped)) floor = Math.min(floor, marks.get(key ?? '') ?? 0);
  }
  let pruned = 0;
  for (const [key, served] of marks) {
    if (key === '' || live.has(key) || served >= floor) continue;
    marks.delete(key);
    pruned += 1;
  }
  return pruned;
}

/** Which groups wait (see `waiting`), in SQL: `plan` the tasks' plan column, `key` its fairness key. */
interface PruneSql {
  tasks: string;
  workflows: string;
  marks: string;
  isObject: (column: string) => string;
  planKey: (column: string) => string;
  isTrue: (column: string) => string;
  /** The placeholder of the time. */
  now: string;
  /** A plan's key as compared with the marks' keys (collations). */
  markKey: (column: string) => string;
  /** The highest mark there can be. */
  maxMark: string;
}

/** The DELETE of the rule above, for SQLite and PostgreSQL. */
export function pruneFairMarksSql(s: PruneSql): string {
  const plan = 't."execution"';
  const waitingGroups =
    `SELECT DISTINCT COALESCE(${s.planKey(plan)}, '') AS "key" FROM ${s.tasks} AS t WHERE ${s.isObject(plan)}` +
    ` AND ((t."status" = 'PENDING' AND (t."run_after" IS NULL OR t."run_after" <= ${s.now}))` +
    ` OR (t."status" = 'RUNNING' AND t."lease_owner" IS NULL))` +
    ` AND (t."workflow_id" IS NULL OR NOT EXISTS (SELECT 1 FROM ${s.workflows} AS w` +
    ` WHERE w."id" = t."workflow_id" AND (${s.isTrue('w."paused"')} OR ${s.isTrue('w."cancelled"')})))`;
  const floor =
    `SELECT COALESCE(MIN(COALESCE(f."served", 0)), ${s.maxMark}) FROM (${waitingGroups}) AS g` +
    ` LEFT JOIN ${s.marks} AS f ON f."key" = ${s.markKey('g."key"')}`;
  return (
    `DELETE FROM ${s.marks} AS m WHERE m."key" <> '' AND m."served" < (${floor})` +
    ` AND NOT EXISTS (SELECT 1 FROM ${s.tasks} AS t WHERE t."status" IN (${UNFINISHED.map((x) => `'${x}'`).join(', ')})` +
    ` AND ${s.markKey(s.planKey(plan))} = m."key")`
  );
}
