import type { TaskStatus } from '../../machines/status.js';
import type { AgentConfig, LoadSnapshot, Task, Workflow } from '../index.js';
import { stopGraceMs } from './engine-env.js';
import type { RunOutcome } from './execute.js';
import { formatDuration, taskDuration, truncate } from './format.js';
import { println, type CliIO } from './io.js';
import { ExitCode } from './exit-codes.js';
import type { CommandHints } from './hints.js';
import { countByStatus } from './progress/watcher.js';
import type { Session } from './store.js';
import { sagaOutcome } from '../graph/compensation.js';

export interface RunSummary {
  workflow: { id: string; name: string; status: Workflow['status'] };
  store: string;
  interrupted: boolean;
  durationMs: number;
  tasks: { total: number; byStatus: Record<TaskStatus, number>; retried: number };
  agents: Array<{ id: string; name: string; type: string; completed: number; failedAttempts: number }>;
  results: Array<{
    taskId: string;
    name: string;
    status: TaskStatus;
    attempts: number;
    agentId: string | null;
    durationMs: number | null;
    /** The last error's message; null for a task that ended well (or has none recorded). */
    error: string | null;
    /** The last error's stable code (`SCHEDULE_TO_CLOSE_TIMEOUT`, an agent's own...); null: none. */
    errorCode: string | null;
  }>;
  /** Present when the workflow FAILED and a task of it declares a compensation (`sagaOutcome`). */
  compensated?: boolean;
  /** With `compensated`: the compensating tasks due, and how many of them COMPLETED. */
  compensations?: { due: number; completed: number };
}

/**
 * What a run did: its tasks as the watcher last read them from the store (the store may be closed
 * already after an interruption), agents from this engine's load table.
 */
export async function summarize(
  session: Session,
  workflowId: string,
  agents: readonly AgentConfig[],
  outcome: RunOutcome,
  taskIds?: ReadonlySet<string>,
): Promise<RunSummary> {
  const { registry } = session;
  let workflow: Workflow;
  let tasks: Task[];
  let load: LoadSnapshot;
  if (outcome.state) {
    ({ workflow, tasks, load } = outcome.state);
  } else {
    workflow = (await registry.getRepository('workflows').get(workflowId))!;
    tasks = await registry.getRepository('tasks').find({ where: { workflowId } });
    if (taskIds) tasks = tasks.filter((task) => taskIds.has(task.id));
    load = await registry.getTaskRouter().getLoad();
  }
  const saga = sagaOutcome(workflow.status, tasks);
  return {
    ...(saga === null
      ? {}
      : {
          compensated: saga.compensated,
          compensations: { due: saga.due.length, completed: saga.done.length },
        }),
    workflow: { id: workflow.id, name: workflow.name, status: workflow.status },
    store: session.storeName,
    interrupted: outcome.interrupted,
    durationMs: outcome.durationMs,
    tasks: {
      total: tasks.length,
      byStatus: countByStatus(tasks),
      retried: tasks.filter((task) => task.attempts > 1).length,
    },
    agents: agents.map((agent) => ({
      id: agent.id,
      name: agent.name,
      type: agent.type,
      completed: load.get(agent.id)?.completed ?? 0,
      failedAttempts: load.get(agent.id)?.failed ?? 0,
    })),
    results: tasks.map((task) => {
      const last = task.status === 'COMPLETED' || task.status === 'SKIPPED' ? undefined : task.errors.at(-1);
      return {
        taskId: task.id,
        name: task.name,
        status: task.status,
        attempts: task.attempts,
        agentId: task.agentId,
        durationMs: taskDuration(task),
        error: last?.message ?? null,
        errorCode: last?.code ?? null,
      };
    }),
  };
}

/** `compensated (2 of 2 compensations COMPLETED)`, or `not compensated (1 of 2 ...)`. */
export function describeSaga({
  compensated,
  due,
  done,
}: {
  compensated: boolean;
  due: number;
  done: number;
}): string {
  return `${compensated ? 'compensated' : 'not compensated'} (${done} of ${due} compensations COMPLETED)`;
}

/** Whether every task of the summary is done (COMPLETED, or SKIPPED by its workflow graph). */
export function allCompleted(summary: RunSummary): boolean {
  const { total, byStatus } = summary.tasks;
  return total > 0 && byStatus.COMPLETED + byStatus.SKIPPED === total;
}

/**
 * How a run ended, as an exit code: 130 interrupted; 0 when every task it ran completed (even if
 * the workflow was paused during its last task and so stays PAUSED: its work is done); 1 when a
 * task failed or was cancelled; 4 when the workflow was left PAUSED with tasks unfinished, or
 * with none to run.
 */
export function exitCodeOf(summary: RunSummary): ExitCode {
  if (summary.interrupted) return ExitCode.INTERRUPTED;
  if (allCompleted(summary)) return ExitCode.OK;
  const { byStatus } = summary.tasks;
  const status = summary.workflow.status;
  if (byStatus.FAILED > 0 || byStatus.CANCELLED > 0 || status === 'FAILED' || status === 'CANCELLED') {
    return ExitCode.WORKFLOW_FAILED;
  }
  if (status === 'PAUSED' || byStatus.PAUSED > 0) return ExitCode.PAUSED;
  return ExitCode.WORKFLOW_FAILED;
}

/** The summary as text: workflow, task counts, agents, failed tasks, where to look next. */
export function printSummary(io: CliIO, summary: RunSummary, hints: CommandHints): void {
  const out = io.stdout;
  const { workflow, tasks } = summary;
  println(out);
  const how = summary.interrupted ? 'interrupted' : workflow.status;
  println(
    out,
    `Workflow ${JSON.stringify(workflow.name)} ${how} in ${formatDuration(summary.durationMs)} (id ${workflow.id})`,
  );
  const counts = Object.entries(tasks.byStatus)
    .filter(([, n]) => n > 0)
    .map(([status, n]) => `${n} ${status}`)
    .join(', ');
  println(out, `Tasks: ${tasks.total} (${counts || 'none'}); ${tasks.retried} needed a retry`);
  if (summary.compensations) {
    const { due, completed } = summary.compensations;
    println(
      out,
      `Saga: ${describeSaga({ compensated: summary.compensated === true, due, done: completed })}`,
    );
  }
  if (summary.agents.length > 0) {
    println(out, 'Agents:');
    const width = Math.max(...summary.agents.map((agent) => agent.name.length));
    for (const agent of summary.agents) {
      println(
        out,
        `  ${agent.name.padEnd(width)}  completed ${agent.completed}, failed attempts ${agent.failedAttempts}`,
      );
    }
  }
  const failed = summary.results.filter((result) => result.status === 'FAILED');
  if (failed.length > 0) {
    println(out, 'Failed tasks:');
    for (const result of failed) {
      const code = result.errorCode === null ? '' : `${result.errorCode}: `;
      println(
        out,
        `  ${result.taskId} ${JSON.stringify(result.name)}: ${code}${truncate(result.error ?? 'no error recorded', 100)}`,
      );
    }
    const retry = hints.command(`retry ${workflow.id}`);
    if (retry !== null) println(out, `Retry them: ${retry}`);
  }
  const resume = hints.command(`resume ${workflow.id}`);
  if (summary.interrupted) {
    const running = tasks.byStatus.RUNNING;
    const grace =
      running > 0
        ? ` (${running} running when stopped, given ${stopGraceMs(io.env) / 1000} s to finish)`
        : '';
    println(out, `Interrupted: unfinished tasks stay in the store${grace}.`);
  } else if (workflow.status === 'PAUSED') {
    const unfinished = tasks.byStatus.PENDING + tasks.byStatus.RUNNING + tasks.byStatus.PAUSED;
    if (allCompleted(summary)) {
      const then = resume === null ? '' : `; \`${resume}\` marks it COMPLETED`;
      println(
        out,
        `Every task completed, but the workflow was paused during its last task and stays PAUSED${then}.`,
      );
    } else if (unfinished > 0) {
      const then = resume === null ? '' : `; \`${resume}\` runs them`;
      println(out, `Paused with ${unfinished} unfinished task(s)${then}.`);
    } else {
      println(out, 'Paused with no task to run.');
    }
  }
  println(out, `Store: ${summary.store}`);
  const details = hints.command(`show ${workflow.id}`);
  if (details !== null) println(out, `Details: ${details}`);
}
