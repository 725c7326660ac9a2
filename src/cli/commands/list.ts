import { TASK_STATUSES, type TaskStatus, type WorkflowStatus } from '../../../machines/status.js';
import type { Workflow } from '../../index.js';
import { CliUsageError } from '../cli-error.js';
import { ExitCode } from '../exit-codes.js';
import { formatDate, table, truncate } from '../format.js';
import { printJson, println, type CliIO } from '../io.js';
import { openSession, resolveDbSpec } from '../store.js';
import type { CommonOptions } from './common.js';

export interface ListOptions extends CommonOptions {
  status?: string;
  limit?: string;
}

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
}

function parseLimit(value: string | undefined): number {
  if (value === undefined) return 50;
  const limit = Number(value);
  if (!Number.isInteger(limit) || limit < 1) {
    throw new CliUsageError(`--limit: expected an integer >= 1, got ${JSON.stringify(value)}`);
  }
  return limit;
}

function parseStatus(value: string | undefined): WorkflowStatus | undefined {
  if (value === undefined) return undefined;
  const status = value.toUpperCase() as WorkflowStatus;
  if (!TASK_STATUSES.includes(status)) {
    throw new CliUsageError(
      `--status: expected one of ${TASK_STATUSES.join(', ')}, got ${JSON.stringify(value)}`,
    );
  }
  return status;
}

/** `symphony list`: the newest workflows with their status and task counts. */
export async function listCommand(io: CliIO, options: ListOptions): Promise<number> {
  const limit = parseLimit(options.limit);
  const status = parseStatus(options.status);
  const session = await openSession(resolveDbSpec(options.db, io), {
    mustExist: true,
    cwd: io.cwd,
    env: io.env,
  });
  try {
    const { registry } = session;
    const workflows: Workflow[] = await registry.getWorkflowTracker().listWorkflows({
      ...(status === undefined ? {} : { where: { status } }),
      orderBy: 'createdAt',
      descending: true,
      limit,
    });
    const tasks = registry.getRepository('tasks');
    const live = (await registry.listEngines()).filter((engine) => engine.alive && !engine.self);
    const entries: WorkflowListEntry[] = [];
    for (const workflow of workflows) {
      const counts = {} as Record<TaskStatus, number>;
      let total = 0;
      for (const taskStatus of TASK_STATUSES) {
        counts[taskStatus] = await tasks.count({ workflowId: workflow.id, status: taskStatus });
        total += counts[taskStatus];
      }
      const unfinished = counts.PENDING + counts.RUNNING + counts.PAUSED;
      let heldBy: string[] | null = null;
      if (unfinished > 0) {
        heldBy = [];
        for (const engine of live) {
          if ((await tasks.count({ workflowId: workflow.id, leaseOwner: engine.engineId })) > 0)
            heldBy.push(engine.engineId);
        }
      }
      entries.push({
        id: workflow.id,
        name: workflow.name,
        status: workflow.status,
        createdAt: workflow.createdAt,
        updatedAt: workflow.updatedAt,
        tasks: total,
        counts,
        heldBy,
      });
    }
    if (options.json) {
      printJson(io.stdout, entries);
      return ExitCode.OK;
    }
    if (entries.length === 0) {
      println(
        io.stdout,
        `No workflows${status === undefined ? '' : ` with status ${status}`} in ${session.storeName}`,
      );
      return ExitCode.OK;
    }
    const rows = [
      [
        'ID',
        'STATUS',
        'TASKS',
        'DONE',
        'RUNNING',
        'WAITING',
        'FAILED',
        'CANCELLED',
        'SKIPPED',
        'CREATED',
        'HELD BY',
        'NAME',
      ],
    ];
    for (const entry of entries) {
      const { counts } = entry;
      rows.push([
        entry.id,
        entry.status,
        String(entry.tasks),
        String(counts.COMPLETED),
        String(counts.RUNNING),
        String(counts.PENDING + counts.PAUSED),
        String(counts.FAILED),
        String(counts.CANCELLED),
        String(counts.SKIPPED),
        formatDate(entry.createdAt),
        entry.heldBy === null ? '-' : entry.heldBy.length === 0 ? 'nobody' : entry.heldBy.join(', '),
        truncate(entry.name, 40),
      ]);
    }
    for (const line of table(rows, new Set([2, 3, 4, 5, 6, 7, 8]))) println(io.stdout, line);
    if (entries.some((entry) => entry.heldBy?.length === 0)) {
      println(
        io.stdout,
        `Held by nobody: no live process runs its unfinished tasks (interrupted, or never run); ${session.hints.quoted('resume <id>')} continues it.`,
      );
    }
    return ExitCode.OK;
  } finally {
    await session.stop();
  }
}
