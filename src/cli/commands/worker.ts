import { hostname } from 'node:os';
import type { WorkerHandle, WorkerStats } from '../../index.js';
import { loadAgentsModule } from '../agents-module.js';
import { CliUsageError } from '../cli-error.js';
import { ExitCode } from '../exit-codes.js';
import { formatDuration } from '../format.js';
import { println, type CliIO } from '../io.js';
import { openSession, resolveDbSpec } from '../store.js';
import { listenForInterrupts } from '../execute.js';
import type { CommonOptions } from './common.js';
import { noteTypes } from '../file-agents.js';
import { readPricesFile } from '../prices-file.js';

export interface WorkerCommandOptions extends CommonOptions {
  /** The agents module that registers the agent types of the tasks this worker may take. */
  agents?: string;
  concurrency?: string;
  pollMs?: string;
  prefetch?: string;
  graceMs?: string;
  engineId?: string;
  /** A JSON or YAML price table that costUsd budgets and quotas are priced by (see prices-file.ts). */
  prices?: string;
}

/** Attempts a worker runs at once unless `--concurrency` says otherwise. */
export const WORKER_CONCURRENCY = 10;
/** Milliseconds between claims when nothing wakes the worker, unless `--poll-ms` says otherwise. */
export const WORKER_POLL_MS = 1000;
/** How long running attempts may go on after SIGTERM, unless `--grace-ms` says otherwise. */
export const WORKER_GRACE_MS = 30_000;

/** An integer option's value: `fallback` when absent, else an integer >= `min` or a usage error. */
function integerOption(flag: string, value: string | undefined, min: number, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < min) {
    throw new CliUsageError(`${flag}: expected an integer >= ${min}, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** One JSON document on one line: a worker's `--json` output is JSON Lines, one per event. */
function printJsonLine(io: CliIO, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value)}\n`);
}

/**
 * The summary line's counts, e.g. "claimed 12, completed 11, failed, cancelled or released 1"; the
 * graph workflows it coordinated, when any (their tasks are not claims: they are not in the counts).
 */
function describeStats(stats: WorkerStats): string {
  const parts = [
    `claimed ${stats.claimed}`,
    `completed ${stats.completed}`,
    `failed, cancelled or released ${stats.ended}`,
  ];
  if (stats.unresolved > 0) parts.push(`without an agent ${stats.unresolved}`);
  // A graph workflow's tasks run in its coordinator's own run (executeWorkflow), not through claims.
  if (stats.coordinated > 0) parts.push(`graph workflows coordinated ${stats.coordinated}`);
  if (stats.coordinationsLost > 0) parts.push(`taken over by another worker ${stats.coordinationsLost}`);
  if (stats.claimErrors > 0) parts.push(`failed claims ${stats.claimErrors}`);
  return parts.join(', ');
}

/**
 * `symphony worker`: an engine that takes runnable tasks of any workflow from the store (those
 * `run --submit` left, or that a stopped or dead engine held) and runs them on the agents of
 * `--agents`, until SIGTERM or SIGINT. Then it drains: no new claims, running attempts get
 * `--grace-ms` to finish, then are released with the attempt recorded; exit code 0 once drained.
 * A second signal exits at once (130).
 */
export async function workerCommand(io: CliIO, options: WorkerCommandOptions): Promise<number> {
  const json = options.json ?? false;
  if (options.agents === undefined) {
    throw new CliUsageError(
      '--agents: expected the path of a JS or TS module that registers the agent types of the tasks to run, got nothing',
    );
  }
  const concurrency = integerOption('--concurrency', options.concurrency, 1, WORKER_CONCURRENCY);
  const pollMs = integerOption('--poll-ms', options.pollMs, 1, WORKER_POLL_MS);
  const prefetch = integerOption('--prefetch', options.prefetch, 0, 0);
  const graceMs = integerOption('--grace-ms', options.graceMs, 0, WORKER_GRACE_MS);
  if (options.engineId !== undefined && options.engineId.trim() === '') {
    throw new CliUsageError('--engine-id: expected a non-empty id, got an empty string');
  }
  const engineId = options.engineId ?? `symphony-worker:${hostname()}:${process.pid}`;
  const spec = resolveDbSpec(options.db, io);
  if (spec === ':memory:' || spec === 'memory') {
    throw new CliUsageError(
      `--db: a worker takes its tasks from a store other processes write to; ${spec} is this process's own`,
    );
  }
  const agentsModule = await loadAgentsModule(options.agents, io.cwd, '--agents');
  const prices = await readPricesFile('--prices', options.prices, io.cwd);

  // SIGTERM or SIGINT from here on drains the worker (at once if it came before it started).
  let signalled: (() => void) | null = null;
  const stopRequested = new Promise<void>((resolve) => (signalled = resolve));
  const stopListening = listenForInterrupts(() => signalled!());
  // The worker's own timers may not keep the process alive: this one does, until the stop.
  const keepAlive = setInterval(() => {}, 1 << 30);
  try {
    const session = await openSession(spec, {
      cwd: io.cwd,
      env: io.env,
      inspect: options.inspect,
      engine: { engineId, maxConcurrency: concurrency, ...(prices === undefined ? {} : { prices }) },
    });
    try {
      const types = new Set<string>();
      try {
        await agentsModule.registerInto(noteTypes(session.registry.getAgentFactory(), types));
      } catch (error) {
        throw new CliUsageError(
          `${options.agents}: registering the agent types failed: ${(error as Error).message}`,
          { cause: error },
        );
      }
      const startedAt = Date.now();
      const worker: WorkerHandle = await session.registry.startWorker({ pollMs, prefetch });
      const agentTypes = [...types];
      if (json) {
        printJsonLine(io, {
          event: 'started',
          engineId,
          store: session.storeName,
          concurrency,
          pollMs,
          prefetch,
          graceMs,
          agentTypes,
        });
      } else {
        println(
          io.stdout,
          `Worker ${engineId} started: store ${session.storeName}, concurrency ${concurrency}, agent types ${agentTypes.join(', ') || 'none'}; SIGTERM or Ctrl-C drains it`,
        );
      }
      await stopRequested;
      io.stderr.write(
        `Draining worker ${engineId}: no new claims; running attempts get ${graceMs / 1000} s to finish, then are released.\n`,
      );
      await worker.stop({ graceMs });
      const stats = worker.stats();
      const durationMs = Date.now() - startedAt;
      if (json) printJsonLine(io, { event: 'stopped', engineId, durationMs, stats });
      else {
        println(
          io.stdout,
          `Worker ${engineId} stopped after ${formatDuration(durationMs)}: ${describeStats(stats)}`,
        );
      }
      return ExitCode.OK;
    } finally {
      await session.stop(graceMs);
    }
  } finally {
    clearInterval(keepAlive);
    stopListening();
  }
}
