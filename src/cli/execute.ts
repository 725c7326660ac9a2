import type { AgentConfig, ExecuteOptions, ExecutionResult, TaskAgentPair } from '../index.js';
import { ErrorCode, SymphonyError } from '../index.js';
import { stopGraceMs } from './engine-env.js';
import type { CommandHints } from './hints.js';
import { ExitCode } from './exit-codes.js';
import { printJson, println, type CliIO } from './io.js';
import { LiveReporter } from './progress/live-reporter.js';
import { PlainReporter, silentReporter } from './progress/plain-reporter.js';
import { WorkflowWatcher, countByStatus, type Reporter, type WatchState } from './progress/watcher.js';
import type { Session } from './store.js';

export { STOP_GRACE_MS } from './engine-env.js';

/** A duration as the stop message says it: "5 s", "0.25 s". */
const seconds = (ms: number) => `${ms / 1000} s`;

/**
 * Listens for SIGINT and SIGTERM until the returned function is called: the first signal runs
 * `onFirst` (the command ends its work cleanly), a second one exits at once (INTERRUPTED). Every
 * command that catches the two signals does it through this, so that they mean the same everywhere.
 */
export function listenForInterrupts(onFirst: () => void): () => void {
  let signalled = false;
  const onSignal = () => {
    if (signalled) process.exit(ExitCode.INTERRUPTED);
    signalled = true;
    onFirst();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}

/**
 * Ctrl-C (SIGINT) and SIGTERM, caught from the moment a command that runs work has its engine
 * open. The first signal prints the stop notice and is handed to the run (`whenInterrupted`), which
 * stops the engine gracefully; until the run is watched the command goes on (its store still open),
 * and the run, once it starts, stops at once. A second signal exits at once. `dispose()` when the
 * command ends.
 */
export class Interrupts {
  interrupted = false;
  readonly graceMs: number;
  private onInterrupt: (() => void) | null = null;
  private readonly stopListening: () => void;

  constructor(private readonly io: CliIO) {
    this.graceMs = stopGraceMs(io.env);
    this.stopListening = listenForInterrupts(this.onSignal);
  }

  /** Runs `stop` at the first signal, or now if one came already. */
  whenInterrupted(stop: () => void): void {
    this.onInterrupt = stop;
    if (this.interrupted) stop();
  }

  dispose(): void {
    this.stopListening();
  }

  private readonly onSignal = () => {
    this.interrupted = true;
    this.io.stderr.write(
      `\nStopping: running attempts get ${seconds(this.graceMs)}; unfinished tasks stay in the store.\n`,
    );
    this.onInterrupt?.();
  };
}

/** Catches Ctrl-C for a command that runs work; see Interrupts. */
export function catchInterrupts(io: CliIO): Interrupts {
  return new Interrupts(io);
}

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
  /**
   * The command's Ctrl-C handling, when caught before the run (a signal that came already stops
   * the run as soon as it is watched). @default caught for the run only
   */
  interrupts?: Interrupts;
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

/**
 * The live view on a terminal, plain lines otherwise, nothing with `--json`; `hints` writes the
 * commands they suggest.
 */
export function pickReporter(io: CliIO, json: boolean, hints?: CommandHints): Reporter {
  if (json) return silentReporter;
  return io.stdout.isTTY ? new LiveReporter(io.stdout, hints) : new PlainReporter(io.stdout, hints);
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
    reporter: pickReporter(io, json, session.hints),
    ...(run.taskIds ? { taskIds: run.taskIds } : {}),
  });
  const interrupts = run.interrupts ?? catchInterrupts(io);
  const { graceMs } = interrupts;
  // Stopping rejects the promises of executions still waiting for a lane of the batch, which
  // nothing awaits yet (see the report on batchExecute); those rejections are expected here.
  const onUnhandled = (reason: unknown) => {
    if (interrupts.interrupted && isEngineStopped(reason)) return;
    throw reason;
  };
  process.on('unhandledRejection', onUnhandled);
  const started = run.startedAt ?? Date.now();
  // Executions under way may be refused (SINGLETON_ACTIVE) before the watch awaits them below.
  run.started?.catch(() => {});
  try {
    const first = watcher.start();
    // The stop waits for the watcher's first read, so that an interrupted run always has a state.
    interrupts.whenInterrupted(
      () =>
        void first
          .catch(() => {})
          .then(() => session.stop(graceMs))
          .catch(() => {}),
    );
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
    if (interrupts.interrupted || isEngineStopped(error)) {
      // The summary tells how the stop left the store: attempts that finished in the grace
      // period, released ones back to PENDING.
      await session.stop(graceMs).catch(() => {});
      state = (await finalState(session, state, run, started)) ?? state;
      return { results: null, interrupted: true, durationMs: Date.now() - started, state };
    }
    throw error;
  } finally {
    if (!run.interrupts) interrupts.dispose();
    // Rejections of the stopped batch may still be on their way; keep ignoring those.
    if (!interrupts.interrupted) process.off('unhandledRejection', onUnhandled);
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
  const stopListening = listenForInterrupts(() => {
    interrupted = true;
    void session.stop(0).catch(() => {});
  });
  try {
    const value = await work();
    return interrupted ? { interrupted: true } : { interrupted: false, value };
  } catch (error) {
    if (interrupted) return { interrupted: true };
    throw error;
  } finally {
    stopListening();
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
