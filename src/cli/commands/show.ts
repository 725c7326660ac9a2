import { ExitCode } from '../exit-codes.js';
import {
  agentName,
  formatClock,
  formatDate,
  formatDuration,
  table,
  taskDuration,
  truncate,
} from '../format.js';
import { printJson, println, type CliIO } from '../io.js';
import { countByStatus } from '../progress/watcher.js';
import { runRecordOf } from '../run-record.js';
import { openSession, resolveDbSpec } from '../store.js';
import { tokensOf } from '../../engine/budgets.js';
import { describeQuota, describeSpend } from '../spend.js';
import type { CommonOptions } from './common.js';
import {
  describeUsage,
  formatCount,
  loadWorkflowDetails,
  taskNotes,
  tokenUsages,
  workflowSpan,
  type WorkflowDetails,
} from '../overview/details.js';
import { resolveWorkflowId } from '../overview/workflows.js';
import { sagaOutcome } from '../../graph/compensation.js';
import { describeSaga } from '../summary.js';

/** Characters of a task's output (as JSON) that `show` prints on its line. */
export const OUTPUT_WIDTH = 100;

/** A task's output on one line of at most `width` characters, saying how much was cut. */
export function formatOutput(output: unknown, width = OUTPUT_WIDTH): string {
  const text = (JSON.stringify(output) ?? String(output)).replace(/\s*[\r\n]+\s*/g, ' ');
  if (text.length <= width) return text;
  const cut = text.length - width;
  return `${text.slice(0, width)}… (${formatCount(cut)} more character${cut === 1 ? '' : 's'})`;
}

export type { WorkflowDetails };

/**
 * `symphony show <workflowId | taskId>`: the workflow (a task's workflow, for a task id), its
 * agents, and every task with attempts and errors.
 */
export async function showCommand(io: CliIO, id: string, options: CommonOptions): Promise<number> {
  const session = await openSession(resolveDbSpec(options.db, io), {
    mustExist: true,
    readOnly: true,
    cwd: io.cwd,
    env: io.env,
  });
  try {
    const { workflowId, task } = await resolveWorkflowId(session, id, 'symphony show shows workflows');
    if (task && !options.json) println(io.stdout, `Task ${id} "${task.name}" is in workflow ${workflowId}:`);
    const details = await loadWorkflowDetails(session, workflowId);
    if (options.json) {
      printJson(io.stdout, details satisfies WorkflowDetails);
      return ExitCode.OK;
    }
    printDetails(io, details);
    return ExitCode.OK;
  } finally {
    await session.stop();
  }
}

function printDetails(io: CliIO, { workflow, tasks, agents, signals, spend, quotas }: WorkflowDetails): void {
  const out = io.stdout;
  const byId = new Map(agents.map((agent) => [agent.id, agent]));
  const counts = countByStatus(tasks);
  const span = workflowSpan(tasks);
  const record = runRecordOf(workflow);
  println(out, `Workflow ${JSON.stringify(workflow.name)} (${workflow.id})`);
  if (workflow.description !== '') println(out, `  ${workflow.description}`);
  println(
    out,
    `  status    ${workflow.status}${workflow.paused ? ' (paused)' : ''}${workflow.cancelled ? ' (cancelled)' : ''}`,
  );
  println(
    out,
    `  created   ${formatDate(workflow.createdAt)} UTC, updated ${formatDate(workflow.updatedAt)} UTC`,
  );
  println(out, `  duration  ${span === null ? '-' : formatDuration(span)}`);
  const countText = Object.entries(counts)
    .filter(([, n]) => n > 0)
    .map(([status, n]) => `${n} ${status}`)
    .join(', ');
  println(out, `  tasks     ${tasks.length}${countText ? ` (${countText})` : ''}`);
  const saga = sagaOutcome(workflow.status, tasks);
  if (saga !== null)
    println(
      out,
      `  saga      ${describeSaga({ compensated: saga.compensated, due: saga.due.length, done: saga.done.length })}`,
    );
  // Tokens the attempts recorded (an LLM agent's usage, of completed and failed attempts).
  const { byTask: usages, total: totalUsage } = tokenUsages(tasks);
  if (totalUsage !== null) println(out, `  tokens    ${describeUsage(totalUsage)}`);
  if (spend !== undefined) println(out, `  spend     ${describeSpend(spend)}`);
  for (const quota of quotas ?? []) println(out, `  quota     ${describeQuota(quota)}`);
  const parentTaskId = workflow.metadata.parentTaskId;
  if (typeof parentTaskId === 'string') {
    println(
      out,
      `  parent    task ${parentTaskId} of workflow ${String(workflow.metadata.parentWorkflowId)}`,
    );
  }
  if (record) {
    const source = record.source === 'demo' ? 'symphony demo' : `symphony run ${record.file ?? ''}`;
    println(out, `  source    ${source}, routing ${record.strategy}`);
  }

  if (agents.length > 0) {
    println(out);
    println(out, 'Agents');
    const rows = [['ID', 'NAME', 'TYPE', 'MAX', 'TASKS', 'CAPABILITIES']];
    for (const agent of agents) {
      const ran = tasks.filter((task) => task.agentId === agent.id).length;
      rows.push([
        agent.id,
        agent.name,
        agent.type,
        String(agent.maxConcurrency),
        String(ran),
        agent.capabilities.join(', '),
      ]);
    }
    for (const line of table(rows, new Set([3, 4]))) println(out, `  ${line}`);
  }

  println(out);
  println(out, 'Tasks');
  // The TOKENS column is there when some attempt recorded token usage (an LLM agent).
  const tokens = totalUsage !== null;
  const rows = [
    ['ID', 'STATUS', 'AGENT', 'ATTEMPTS', 'DURATION', ...(tokens ? ['TOKENS'] : []), 'NAME', 'NOTE'],
  ];
  for (const task of tasks) {
    const notes = taskNotes(task);
    const usage = usages.get(task.id) ?? null;
    rows.push([
      task.id,
      task.status,
      truncate(agentName(byId, task.agentId), 24),
      String(task.attempts),
      formatDuration(taskDuration(task)),
      ...(tokens ? [usage === null ? '-' : formatCount(tokensOf(usage))] : []),
      truncate(task.name, 40),
      notes.join('; '),
    ]);
  }
  for (const line of table(rows, new Set(tokens ? [3, 4, 5] : [3, 4]))) println(out, `  ${line}`);

  if (signals.length > 0) {
    println(out);
    println(out, 'Signals');
    const names = new Map(tasks.map((task) => [task.id, task.name]));
    const signalRows = [['NAME', 'SENT (UTC)', 'TAKEN BY', 'PAYLOAD']];
    for (const signal of signals) {
      const taker =
        signal.takenBy === null
          ? 'pending'
          : `${signal.takenBy} ${JSON.stringify(truncate(names.get(signal.takenBy) ?? '?', 30))}`;
      signalRows.push([signal.name, formatDate(signal.sentAt), taker, formatOutput(signal.payload, 60)]);
    }
    for (const line of table(signalRows)) println(out, `  ${line}`);
  }

  const withOutput = tasks.filter((task) => task.outputData !== null && task.outputData !== undefined);
  if (withOutput.length > 0) {
    println(out);
    println(out, `Outputs (as JSON, cut at ${OUTPUT_WIDTH} characters; all of it: --json)`);
    for (const task of withOutput) {
      println(out, `  ${task.id} ${JSON.stringify(task.name)}`);
      println(out, `    ${formatOutput(task.outputData)}`);
    }
  }

  const withErrors = tasks.filter((task) => task.errors.length > 0);
  if (withErrors.length > 0) {
    println(out);
    println(out, 'Errors');
    for (const task of withErrors) {
      println(out, `  ${task.id} ${JSON.stringify(task.name)}`);
      for (const error of task.errors) {
        const code = error.code === undefined ? error.name : error.code;
        const next = error.retryable ? 'retried' : 'not retried';
        println(
          out,
          `    attempt ${error.attempt} at ${formatClock(error.at)} UTC  ${code}: ${truncate(error.message, 100)} (${next})`,
        );
      }
    }
  }
}
