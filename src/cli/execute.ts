import type { AgentConfig, ExecuteOptions, ExecutionResult, TaskAgentPair } from '../index.js';
import { ErrorCode, SymphonyError } from '../index.js';
import { CliUsageError } from './cli-error.js';
import { ExitCode } from './exit-codes.js';
import { printJson, println, type CliIO } from './io.js';
import { LiveReporter } from './progress/live-reporter.js';
import { PlainReporter, silentReporter } from './progress/plain-reporter.js';
import { WorkflowWatcher, countByStatus, type Reporter, type WatchState } from './progress/watcher.js';
import type { Session } from './store.js';

/** How long running attempts may go on after Ctrl-C before they are aborted (and kept for later). */
export const STOP_GRACE_MS = 5000;

/** The environment variable that replaces STOP_GRACE_MS (milliseconds, an integer >= 0). */
export const STOP_GRACE_ENV = 'SYMPHONY_STOP_GRACE_MS';

/** The grace period of an interrupted run: `$SYMPHONY_STOP_GRACE_MS`, else STOP_GRACE_MS. */
export function stopGraceMs(env: CliIO['env']): number {
  const value = env[STOP_GRACE_ENV];
  if (value === undefined || value === '') return STOP_GRACE_MS;
  const ms = Number(value);
  if (!Number.isInteger(ms) || ms < 0) {
    throw new CliUsageError(
      `$${STOP_GRACE_ENV}: expected an integer >= 0 (milliseconds), got ${JSON.stringify(value)}`,
    );
  }
  return ms;
}

/** A duration as the stop message says it: "5 s", "0.25 s". */
const seconds = (ms: number) => `${ms / 1000} s`;

export interface WatchedRun {
  session: Session;
  workflowId: string;
  /** What the run executes: these pairs as one batch, or `started`. */
  pairs?: TaskAgentPair[];
  /** Executions already under way (a recovery): their results, in order. */
  started?: Promise<ExecutionResult[]>;
  /** The agent configs the run routed among, for the live view. */
  agents: AgentConfig[];
  /** Executions of this run at once. */
  maxConcurrent?: number;
  execute?: ExecuteOptions;
  /** Watch only these tasks (a retry watches its new tasks). */
  taskIds?: ReadonlySet<string>;
  /** When the run began (epoch ms), if before this call. @default now */
  startedAt?: number;
}

export interface RunOutcome {
  /** In input order; null when the run was interrupted. */
  results: ExecutionResult[] | null;
  interrupted: boolean;
  durationMs: number;
  /** The store as last read by the watcher: after the batch, or just after an interruption. */
  state: WatchState | null;
}

const isEngineStopped = (error: unknown) =>
  SymphonyError.isInstance(error) && error.code === ErrorCode.ENGINE_STOPPED;

/**
 * The store as an interrupted run left it, read again once the engine has stopped (its own
 * connection is closed by then): the watcher's last state with the workflow and tasks read anew,
 * or built from the store if the watcher never read it. Undefined when the store does not outlive
 * its engine (`:memory:`) or cannot be read.
 */
async function finalState(
  session: Session,
  state: WatchState | null,
  run: WatchedRun,
  startedAt: number,
): Promise<WatchState | undefined> {
  return session
    .readAgain(async (store) => {
      const workflow = await store.workflows.get(run.workflowId);
      if (!workflow) return undefined;
      let tasks = await store.tasks.find({ where: { workflowId: run.workflowId } });
      if (run.taskIds) tasks = tasks.filter((task) => run.taskIds!.has(task.id));
      const at = Date.now();
      const base = state ?? { load: new Map(), agents: run.agents, elapsedMs: at - startedAt, at };
      return { ...base, workflow, tasks, counts: countByStatus(tasks) };
    })
    .catch(() => undefined);
}

/** The live view on a terminal, plain lines otherwise, nothing with `--json`. */
export function pickReporter(io: CliIO, json: boolean): Reporter {
  if (json) return silentReporter;
  return io.stdout.isTTY ? new LiveReporter(io.stdout) : new PlainReporter(io.stdout);
}

/**
 * Runs the pairs as one batch (or waits for executions already started) while a watcher reports
 * progress. SIGINT or SIGTERM stops the engine gracefully: running attempts get STOP_GRACE_MS (or
 * `$SYMPHONY_STOP_GRACE_MS`), unfinished tasks stay in the store. A second signal exits at once.
 * Once interrupted, the engine's store is closed: the outcome's `state` is what the caller may
 * read (it is read again from the store after the stop).
 */
export async function runWatched(io: CliIO, json: boolean, run: WatchedRun): Promise<RunOutcome> {
  const { session, workflowId, pairs } = run;
  const registry = session.registry;
  const watcher = new WorkflowWatcher({
    registry,
    workflowId,
    agents: run.agents,
    reporter: pickReporter(io, json),
    ...(run.taskIds ? { taskIds: run.taskIds } : {}),
  });
  const graceMs = stopGraceMs(io.env);
  let interrupted = false;
  // The stop waits for the watcher's first read, so that an interrupted run always has a state.
  let watching: Promise<unknown> = Promise.resolve();
  const onSignal = () => {
    if (interrupted) process.exit(ExitCode.INTERRUPTED);
    interrupted = true;
    io.stderr.write(
      `\nStopping: running attempts get ${seconds(graceMs)}; unfinished tasks stay in the store.\n`,
    );
    void watching.then(() => session.stop(graceMs)).catch(() => {});
  };
  // Stopping rejects the promises of executions still waiting for a lane of the batch, which
  // nothing awaits yet (see the report on batchExecute); those rejections are expected here.
  const onUnhandled = (reason: unknown) => {
    if (interrupted && isEngineStopped(reason)) return;
    throw reason;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('unhandledRejection', onUnhandled);
  const started = run.startedAt ?? Date.now();
  try {
    const first = watcher.start();
    watching = first.catch(() => {});
    await first;
    const results = await (run.started ??
      registry.getEnhancedExecutor().batchExecute(pairs ?? [], {
        ...run.execute,
        workflowId,
        ...(run.maxConcurrent === undefined ? {} : { maxConcurrent: run.maxConcurrent }),
      }));
    const state = await watcher.stop();
    return { results, interrupted: false, durationMs: Date.now() - started, state };
  } catch (error) {
    let state = await watcher.stop();
    if (interrupted || isEngineStopped(error)) {
      // The summary tells how the stop left the store: attempts that finished in the grace
      // period, released ones back to PENDING.
      await session.stop(graceMs).catch(() => {});
      state = (await finalState(session, state, run, started)) ?? state;
      return { results: null, interrupted: true, durationMs: Date.now() - started, state };
    }
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    // Rejections of the stopped batch may still be on their way; keep ignoring those.
    if (!interrupted) process.off('unhandledRejection', onUnhandled);
  }
}

/**
 * Runs `work`, a command's wait on the store (such as a pause waiting for the process that runs
 * the workflow to apply it), so that SIGINT or SIGTERM ends it cleanly: the engine stops (which
 * makes the wait fail on the closed store) and the result says `interrupted` instead of reporting
 * that failure. What `work` wrote before stays in the store. A second signal exits at once.
 */
export async function untilInterrupted<T>(
  session: Session,
  work: () => Promise<T>,
): Promise<{ interrupted: false; value: T } | { interrupted: true }> {
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) process.exit(ExitCode.INTERRUPTED);
    interrupted = true;
    void session.stop(0).catch(() => {});
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const value = await work();
    return interrupted ? { interrupted: true } : { interrupted: false, value };
  } catch (error) {
    if (interrupted) return { interrupted: true };
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/**
 * What `pause` or `cancel` says when interrupted while waiting for the process running the
 * workflow: the command was written to the store, and that process applies it when it next reads
 * its commands. Returns the exit code (130).
 */
export function reportInterruptedCommand(
  io: CliIO,
  action: 'pause' | 'cancel',
  workflowId: string,
  json: boolean,
): number {
  if (json) printJson(io.stdout, { interrupted: true, workflowId, command: action });
  else {
    println(
      io.stdout,
      `Interrupted: the ${action} command for workflow ${workflowId} is in the store; the process running it applies it when it next reads its commands.`,
    );
  }
  return ExitCode.INTERRUPTED;
}
