import { TASK_STATUSES, type WorkflowStatus } from '../../../machines/status.js';
import { CliUsageError } from '../cli-error.js';
import { ExitCode } from '../exit-codes.js';
import { formatDate, table, truncate } from '../format.js';
import { printJson, println, type CliIO } from '../io.js';
import { openSession, resolveDbSpec } from '../store.js';
import type { CommonOptions } from './common.js';
import {
  awaitsWorker,
  describeHolders,
  listWorkflowEntries,
  waitingCount,
  type WorkflowListEntry,
} from '../overview/workflows.js';

export interface ListOptions extends CommonOptions {
  status?: string;
  limit?: string;
}

export type { WorkflowListEntry };

/** `--limit`: an integer >= 1, 50 when not given. */
export function parseLimit(value: string | undefined): number {
  if (value === undefined) return 50;
  const limit = Number(value);
  if (!Number.isInteger(limit) || limit < 1) {
    throw new CliUsageError(`--limit: expected an integer >= 1, got ${JSON.stringify(value)}`);
  }
  return limit;
}

/** `--status`: a status in any case. */
export function parseStatus(value: string | undefined): WorkflowStatus | undefined {
  if (value === undefined) return undefined;
  const status = value.toUpperCase() as WorkflowStatus;
  if (!TASK_STATUSES.includes(status)) {
    throw new CliUsageError(
      `--status: expected one of ${TASK_STATUSES.join(', ')}, got ${JSON.stringify(value)}`,
    );
  }
  return status;
}

/** The text table of `symphony list` (and `symphony top`): a header, then a row per workflow. */
export function workflowTable(entries: readonly WorkflowListEntry[]): string[] {
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
      String(waitingCount(counts)),
      String(counts.FAILED),
      String(counts.CANCELLED),
      String(counts.SKIPPED),
      formatDate(entry.createdAt),
      describeHolders(entry),
      truncate(entry.name, 40),
    ]);
  }
  return table(rows, new Set([2, 3, 4, 5, 6, 7, 8]));
}

/** `symphony list`: the newest workflows with their status and task counts. */
export async function listCommand(io: CliIO, options: ListOptions): Promise<number> {
  const limit = parseLimit(options.limit);
  const status = parseStatus(options.status);
  const session = await openSession(resolveDbSpec(options.db, io), {
    mustExist: true,
    readOnly: true,
    cwd: io.cwd,
    env: io.env,
  });
  try {
    const entries = await listWorkflowEntries(session, { status, limit });
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
    for (const line of workflowTable(entries)) println(io.stdout, line);
    if (entries.some((entry) => entry.heldBy?.length === 0 && !awaitsWorker(entry))) {
      println(
        io.stdout,
        `Held by nobody: no live process runs its unfinished tasks (interrupted, or never run); ${session.hints.quoted('resume <id>')} continues it.`,
      );
    }
    if (entries.some(awaitsWorker)) {
      println(
        io.stdout,
        `No worker: submitted to workers (run --submit, or queued for them through the API), and no live worker has claimed its tasks; start one: ${session.hints.quoted('worker --agents <module>')}.`,
      );
    }
    return ExitCode.OK;
  } finally {
    await session.stop();
  }
}
