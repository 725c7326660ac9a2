import type { AgentConfig, ExecuteOptions, ExecutionResult, TaskAgentPair } from '../index.js';
import { ErrorCode, SymphonyError } from '../index.js';
import type { CliIO } from './io.js';
import { LiveReporter } from './progress/live-reporter.js';
import { PlainReporter, silentReporter } from './progress/plain-reporter.js';
import { WorkflowWatcher, countByStatus, type Reporter, type WatchState } from './progress/watcher.js';
import type { Session } from './store.js';

/** How long running attempts may go on after Ctrl-C before they are aborted (and kept for later). */
export const STOP_GRACE_MS = 5000;

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

/** The watcher's last state with the workflow and tasks read again from the store, if it outlives the engine. */
async function finalState(
  session: Session,
  state: WatchState | null,
  taskIds: ReadonlySet<string> | undefined,
): Promise<WatchState | null | undefined> {
  if (!state) return state;
  return session
    .readAgain(async (store) => {
      const workflow = await store.workflows.get(state.workflow.id);
      let tasks = await store.tasks.find({ where: { workflowId: state.workflow.id } });
      if (taskIds) tasks = tasks.filter((task) => taskIds.has(task.id));
      return workflow ? { ...state, workflow, tasks, counts: countByStatus(tasks) } : undefined;
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
 * progress. SIGINT or SIGTERM stops the
 * engine gracefully: running attempts get STOP_GRACE_MS, unfinished tasks stay in the store.
 * A second signal exits at once.
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
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    io.stderr.write(
      `\nStopping: running attempts get ${STOP_GRACE_MS / 1000} s; unfinished tasks stay in the store.\n`,
    );
    void session.stop(STOP_GRACE_MS).catch(() => {});
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
    await watcher.start();
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
      await session.stop(STOP_GRACE_MS).catch(() => {});
      state = (await finalState(session, state, run.taskIds)) ?? state;
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
