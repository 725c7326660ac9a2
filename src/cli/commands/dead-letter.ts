import type { DeadLetterFilter, DeadLetterPage, RedriveReport } from '../../index.js';
import { CliUsageError } from '../cli-error.js';
import { ExitCode } from '../exit-codes.js';
import { formatDate, table, truncate } from '../format.js';
import { printJson, println, type CliIO } from '../io.js';
import { resolveDbSpec } from '../store.js';
import { withSession, type CommonOptions } from './common.js';

/** The filters both subcommands take. */
export interface DeadLetterFilterOptions extends CommonOptions {
  workflow?: string;
  agent?: string;
  error?: string;
  since?: string;
  before?: string;
}

export interface DeadLetterListOptions extends DeadLetterFilterOptions {
  limit?: string;
  after?: string;
}

export interface DeadLetterRedriveOptions extends DeadLetterFilterOptions {
  all?: boolean;
  submit?: boolean;
  dryRun?: boolean;
}

const MAX_LIMIT = 1000;

function parseLimit(value: string | undefined): number {
  if (value === undefined) return 50;
  const limit = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw new CliUsageError(
      `--limit: expected an integer from 1 to ${MAX_LIMIT}, got ${JSON.stringify(value)}`,
    );
  }
  return limit;
}

/** A time given on the command line: epoch milliseconds, or a date the `Date` parser reads (ISO 8601). */
function parseTime(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  const time = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(time)) {
    throw new CliUsageError(
      `${flag}: expected a date (ISO 8601, e.g. 2026-05-01T12:00:00Z) or epoch milliseconds, got ${JSON.stringify(value)}`,
    );
  }
  return time;
}

function filterOf(options: DeadLetterFilterOptions): DeadLetterFilter {
  const since = parseTime('--since', options.since);
  const before = parseTime('--before', options.before);
  return {
    ...(options.workflow === undefined ? {} : { workflowId: options.workflow }),
    ...(options.agent === undefined ? {} : { agentId: options.agent }),
    ...(options.error === undefined ? {} : { error: options.error }),
    ...(since === undefined ? {} : { failedSince: since }),
    ...(before === undefined ? {} : { failedBefore: before }),
  };
}

/** The filter flags as given, to repeat in a suggested command. */
function filterArgs(options: DeadLetterFilterOptions): string {
  const args: string[] = [];
  for (const flag of ['workflow', 'agent', 'error', 'since', 'before'] as const) {
    const value = options[flag];
    if (value !== undefined) args.push(`--${flag} ${JSON.stringify(value)}`);
  }
  return args.length === 0 ? '' : ` ${args.join(' ')}`;
}

/**
 * `symphony dead-letter list`: the FAILED tasks across workflows, newest failure first, a page at a
 * time (`--after` the cursor the previous page printed). `--json` prints the page as the API gives
 * it: `{ items, nextCursor }`.
 */
export async function deadLetterListCommand(io: CliIO, options: DeadLetterListOptions): Promise<number> {
  const limit = parseLimit(options.limit);
  const filter = filterOf(options);
  return withSession(
    io,
    options,
    async (session) => {
      const page: DeadLetterPage = await session.registry.getTaskManager().listDeadLetters({
        ...filter,
        limit,
        ...(options.after === undefined ? {} : { after: options.after }),
      });
      if (options.json) {
        printJson(io.stdout, page);
        return ExitCode.OK;
      }
      if (page.items.length === 0) {
        println(
          io.stdout,
          `No dead letters${options.after === undefined ? '' : ' after this cursor'} in ${session.storeName}`,
        );
        return ExitCode.OK;
      }
      const rows = [['TASK', 'WORKFLOW', 'NAME', 'ATTEMPTS', 'FAILED AT', 'LAST ERROR']];
      for (const item of page.items) {
        const last = item.lastError;
        rows.push([
          item.taskId,
          item.workflowId ?? '-',
          truncate(item.name, 30),
          String(item.attempts),
          formatDate(item.failedAt),
          last === null ? '-' : truncate(`${last.code ?? last.name}: ${last.message}`, 80),
        ]);
      }
      for (const line of table(rows, new Set([3]))) println(io.stdout, line);
      if (page.nextCursor !== null) {
        println(
          io.stdout,
          `More: ${session.hints.quoted(`dead-letter list${filterArgs(options)} --limit ${limit} --after ${page.nextCursor}`, `--after ${page.nextCursor}`)}`,
        );
      }
      return ExitCode.OK;
    },
    true,
  );
}

/** Checks the selection: task ids, or `--all` with optional filters; not both. */
function selectionOf(taskIds: readonly string[], options: DeadLetterRedriveOptions) {
  const filtered = ['workflow', 'agent', 'error', 'since', 'before'].some(
    (flag) => options[flag as keyof DeadLetterFilterOptions] !== undefined,
  );
  if (taskIds.length > 0 && (options.all || filtered)) {
    throw new CliUsageError('Expected task ids or --all (with filters), not both');
  }
  if (taskIds.length === 0 && !options.all) {
    throw new CliUsageError(
      filtered
        ? 'Filters select dead letters with --all: add --all (try --dry-run first)'
        : 'Expected task ids, or --all (with filters) to re-drive every dead letter they select',
    );
  }
  return taskIds.length > 0 ? { taskIds } : { filter: filterOf(options) };
}

function printReport(io: CliIO, report: RedriveReport, submit: boolean): void {
  const verb = report.dryRun ? 'would be re-driven' : 're-driven';
  for (const result of report.results) {
    if (result.outcome === 'refused') {
      println(io.stdout, `${result.taskId}  refused: ${result.error!.code}: ${result.error!.message}`);
    } else if (result.error !== undefined) {
      println(
        io.stdout,
        `${result.taskId}  re-driven, not submitted: ${result.error.code}: ${result.error.message}`,
      );
    } else {
      println(
        io.stdout,
        `${result.taskId}  ${verb}${result.agentKey === undefined ? '' : ` onto ${result.agentKey}`}`,
      );
    }
  }
  println(
    io.stdout,
    `${report.redriven} task(s) ${verb}, ${report.refused} refused${report.dryRun ? ' (dry run: nothing changed)' : ''}`,
  );
  if (!report.dryRun && !submit && report.redriven > 0) {
    println(
      io.stdout,
      'They wait PENDING with no execution plan: a program runs them (executeTask, or enqueueTasks for workers); symphony resume cannot. --submit leaves them to workers.',
    );
  }
}

/**
 * `symphony dead-letter redrive <taskId...> | --all [filters]`: each task goes through `retryTask`
 * (PENDING again, its error history kept), with `--submit` enqueued for workers on the agent config
 * that ran it. Exit 0 when every selected task was re-driven (or none was selected), 2 when some
 * were refused (the report says why).
 */
export async function deadLetterRedriveCommand(
  io: CliIO,
  taskIds: readonly string[],
  options: DeadLetterRedriveOptions,
): Promise<number> {
  const selection = selectionOf(taskIds, options);
  const spec = resolveDbSpec(options.db, io);
  const submit = options.submit === true;
  if (submit && (spec === ':memory:' || spec === 'memory')) {
    throw new CliUsageError(
      `--submit: workers take the tasks from a store they open too; ${spec} is this process's own`,
    );
  }
  return withSession(io, options, async (session) => {
    const report = await session.registry.getTaskManager().redriveDeadLetters({
      ...selection,
      submit,
      dryRun: options.dryRun === true,
    });
    if (options.json) printJson(io.stdout, report);
    else printReport(io, report, submit);
    return report.refused > 0 ? ExitCode.USAGE : ExitCode.OK;
  });
}
