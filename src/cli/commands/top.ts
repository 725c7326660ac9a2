import { hostname } from 'node:os';
import { createLogUpdate } from 'log-update';
import { WORKFLOW_STATUSES } from '../../../machines/status.js';
import { CliUsageError } from '../cli-error.js';
import { ExitCode } from '../exit-codes.js';
import { formatDate, table, truncate } from '../format.js';
import { printJson, println, type CliIO } from '../io.js';
import { describeBreaker, describeRateLimit } from '../overview/agents.js';
import { readOverview, type Overview } from '../overview/overview.js';
import { openSession, resolveDbSpec } from '../store.js';
import { listenForInterrupts } from '../execute.js';
import type { CommonOptions } from './common.js';
import { visible } from '../visible.js';
import { parseLimit, parseStatus, workflowTable } from './list.js';
import { workerTable } from './workers.js';

export interface TopOptions extends CommonOptions {
  /** Print one frame and exit. */
  once?: boolean;
  /** Milliseconds between reads of the store. */
  interval?: string;
  limit?: string;
  status?: string;
}

/** Most workflows a frame lists unless `--limit` says otherwise. */
const DEFAULT_LIMIT = 20;

function parseInterval(value: string | undefined): number {
  if (value === undefined) return 1000;
  const ms = Number(value);
  if (!Number.isInteger(ms) || ms < 100) {
    throw new CliUsageError(
      `--interval: expected an integer >= 100 (milliseconds), got ${JSON.stringify(value)}`,
    );
  }
  return ms;
}

/** The body of a frame (everything but its first line, the time it was read). */
export function renderOverview(overview: Overview): string[] {
  const lines: string[] = [];
  const counts = WORKFLOW_STATUSES.filter((status) => overview.workflowsByStatus[status] > 0).map(
    (status) => `${overview.workflowsByStatus[status]} ${status}`,
  );
  lines.push(`Workflows: ${counts.length === 0 ? 'none' : counts.join(', ')}`);
  if (overview.workflows.length > 0) lines.push(...workflowTable(overview.workflows));
  lines.push('', 'Agents');
  if (overview.agents.length === 0) lines.push('  none');
  else {
    const rows = [['NAME', 'STATE', 'RUNNING', 'PENDING', 'DONE', 'FAILED', 'BREAKER', 'RATE LIMITS']];
    for (const agent of overview.agents) {
      rows.push([
        truncate(agent.config.name, 30),
        agent.state,
        `${agent.load.running}/${agent.config.maxConcurrency}`,
        String(agent.load.pending),
        String(agent.completed),
        String(agent.failed),
        describeBreaker(agent),
        (agent.config.rateLimits ?? []).map(describeRateLimit).join(', ') || '-',
      ]);
    }
    lines.push(...table(rows, new Set([2, 3, 4, 5])).map((line) => `  ${line}`));
  }
  lines.push('', 'Workers');
  if (overview.workers.length === 0) lines.push('  none');
  else lines.push(...workerTable(overview.workers).map((line) => `  ${line}`));
  return lines;
}

const header = (overview: Overview) => `Symphony · ${overview.store} · ${formatDate(overview.at)} UTC`;

/**
 * `symphony top`: the store at a glance (workflows by status, the newest workflows with their
 * counts, agents with their load and breaker, workers), read again every `--interval`. On a
 * terminal the frame is redrawn in place; elsewhere each changed frame is printed as plain lines.
 * `--once` prints one frame; `--json` one overview as JSON. Ctrl-C ends it (exit 0).
 */
export async function topCommand(io: CliIO, options: TopOptions): Promise<number> {
  const limit = options.limit === undefined ? DEFAULT_LIMIT : parseLimit(options.limit);
  const status = parseStatus(options.status);
  const interval = parseInterval(options.interval);
  const session = await openSession(resolveDbSpec(options.db, io), {
    mustExist: true,
    readOnly: true,
    cwd: io.cwd,
    env: io.env,
    engine: { engineId: `symphony-top:${hostname()}:${process.pid}` },
  });
  try {
    const read = () => readOverview(session, { limit, status });
    if (options.json) {
      printJson(io.stdout, await read());
      return ExitCode.OK;
    }
    if (options.once) {
      const overview = await read();
      for (const line of [header(overview), ...renderOverview(overview)]) println(io.stdout, line);
      return ExitCode.OK;
    }
    await follow(io, read, interval);
    return ExitCode.OK;
  } finally {
    await session.stop();
  }
}

/** Reads and shows frames until SIGINT or SIGTERM: redrawn on a terminal, printed when changed elsewhere. */
async function follow(io: CliIO, read: () => Promise<Overview>, interval: number): Promise<void> {
  let stop: () => void = () => {};
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const stopListening = listenForInterrupts(() => stop());
  const live = io.stdout.isTTY === true;
  const draw = live ? createLogUpdate(io.stdout as NodeJS.WriteStream, { showCursor: false }) : null;
  let last = '';
  try {
    for (;;) {
      const overview = await read();
      const body = renderOverview(overview).map(visible).join('\n');
      if (draw) draw(`${header(overview)}\n${body}`);
      else if (body !== last) {
        if (last !== '') println(io.stdout);
        for (const line of [header(overview), ...body.split('\n')]) println(io.stdout, line);
      }
      last = body;
      let timer: NodeJS.Timeout | undefined;
      const waited = await Promise.race([
        stopped.then(() => 'stop'),
        new Promise<string>((resolve) => (timer = setTimeout(() => resolve('tick'), interval))),
      ]);
      clearTimeout(timer);
      if (waited === 'stop') return;
    }
  } finally {
    draw?.done();
    stopListening();
  }
}
