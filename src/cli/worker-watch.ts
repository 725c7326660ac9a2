import { isTerminalStatus } from '../../machines/status.js';
import type { AgentConfig, AgentLoad, Task } from '../index.js';
import { finishRun } from './commands/common.js';
import { pickReporter } from './execute.js';
import { ExitCode } from './exit-codes.js';
import { println, type CliIO } from './io.js';
import { WorkflowWatcher, type WatchState } from './progress/watcher.js';
import type { Session } from './store.js';

/**
 * Watching work left to workers (`run --submit --wait`, `retry --submit --wait`): this process runs
 * nothing, it reads the store until the workers are done, then prints the summary `run` prints.
 */

/** Whether the workers are done with the watched tasks: the workflow has ended, or every task has. */
function workersDone(state: WatchState): boolean {
  const status = state.workflow.status;
  if (status === 'COMPLETED' || status === 'FAILED' || status === 'CANCELLED') return true;
  return state.tasks.length > 0 && state.tasks.every((task) => isTerminalStatus(task.status));
}

/**
 * The agents' counts as the tasks' rows tell them (the workers' load tables are theirs): tasks
 * COMPLETED by each agent config, and the failed attempts of the tasks it ran last.
 */
function loadOfTasks(tasks: readonly Task[]): Map<string, AgentLoad> {
  const load = new Map<string, AgentLoad>();
  for (const task of tasks) {
    if (task.agentId === null) continue;
    let entry = load.get(task.agentId);
    if (!entry) load.set(task.agentId, (entry = { inFlight: 0, queued: 0, completed: 0, failed: 0 }));
    if (task.status === 'COMPLETED') entry.completed += 1;
    entry.failed += task.errors.length;
  }
  return load;
}

export interface WorkerWatch {
  session: Session;
  workflowId: string;
  /** The agent configs the workers run the tasks on, for the live view and the summary. */
  agents: AgentConfig[];
  /** Settles when the user asks to stop watching (SIGINT or SIGTERM). */
  stopped: Promise<void>;
  /** Watch and summarise only these tasks (a retry watches the tasks it retried). */
  taskIds?: ReadonlySet<string>;
}

/**
 * Watches the store (progress as `run` shows it) until the workers are done with the workflow (or
 * with `taskIds`), then prints the summary and returns `run`'s exit code for those tasks. A stop
 * ends the watch only (130): the workers go on.
 */
export async function waitForWorkers(io: CliIO, json: boolean, watch: WorkerWatch): Promise<number> {
  const { session, workflowId, agents, taskIds } = watch;
  const startedAt = Date.now();
  const reporter = pickReporter(io, json, session.hints);
  let done = false;
  let finished: () => void = () => {};
  const ended = new Promise<void>((resolve) => (finished = resolve));
  const watcher = new WorkflowWatcher({
    registry: session.registry,
    workflowId,
    agents,
    ...(taskIds === undefined ? {} : { taskIds }),
    reporter: {
      update(state, events) {
        reporter.update(state, events);
        if (!done && workersDone(state)) {
          done = true;
          finished();
        }
      },
      close: (state) => reporter.close(state),
    },
  });
  await watcher.start();
  await Promise.race([ended, watch.stopped]);
  const last = await watcher.stop();
  const interrupted = !done;
  if (interrupted && !json) {
    const show = session.hints.command(`show ${workflowId}`);
    println(
      io.stdout,
      `Stopped watching workflow ${workflowId}; the workers go on with it${show === null ? '.' : `: ${show}`}`,
    );
    return ExitCode.INTERRUPTED;
  }
  const state = last === null ? null : { ...last, load: loadOfTasks(last.tasks) };
  return finishRun(
    io,
    json,
    session,
    workflowId,
    agents,
    { results: null, interrupted, durationMs: Date.now() - startedAt, state },
    taskIds === undefined ? {} : { taskIds },
  );
}
