import { isTerminalStatus } from '../../../machines/status.js';
import type { AgentConfig, Task, Workflow } from '../../index.js';
import { CliUsageError, UnknownIdError } from '../cli-error.js';
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
import type { StoredSignal } from '../../repositories/store.js';
import { openSession, resolveDbSpec } from '../store.js';
import { addTokenUsage, taskTokenUsage, type TokenUsage } from '../../ai/usage.js';
import { describeSpend, showSpend } from '../spend.js';
import type { WorkflowSpend } from '../../index.js';
import { configsById, type CommonOptions } from './common.js';
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

/** `1,234`. */
const formatCount = (n: number): string => n.toLocaleString('en-US');

/** All the tokens of a usage: its total, else input plus output. */
const totalTokens = (usage: TokenUsage): number =>
  usage.totalTokens ?? (usage.inputTokens ?? 0) + (usage.outputTokens ?? 0);

/** `1,234 tokens (1,000 in, 234 out)`. */
function describeUsage(usage: TokenUsage): string {
  return `${formatCount(totalTokens(usage))} tokens (${formatCount(usage.inputTokens ?? 0)} in, ${formatCount(usage.outputTokens ?? 0)} out)`;
}

export interface WorkflowDetails {
  workflow: Workflow;
  tasks: Task[];
  agents: AgentConfig[];
  /** The signals sent to the workflow, oldest first; `takenBy` null: no wait has taken it yet. */
  signals: StoredSignal[];
  /** Its spend against its budget (docs/policies.md#budgets); absent: no budget and no usage. */
  spend?: WorkflowSpend;
  /**
   * Present when the workflow FAILED and a task of it declares a compensation: true when every
   * compensation due ran and COMPLETED.
   */
  compensated?: boolean;
}

/**
 * `symphony show <workflowId | taskId>`: the workflow (a task's workflow, for a task id), its
 * agents, and every task with attempts and errors.
 */
export async function showCommand(io: CliIO, id: string, options: CommonOptions): Promise<number> {
  const session = await openSession(resolveDbSpec(options.db, io), {
    mustExist: true,
    cwd: io.cwd,
    env: io.env,
  });
  try {
    const { registry } = session;
    const tracker = registry.getWorkflowTracker();
    let workflowId = id;
    if (!(await registry.getRepository('workflows').get(id))) {
      const task = await registry.getRepository('tasks').get(id);
      if (!task) throw new UnknownIdError(id, session.storeName);
      if (task.workflowId === null) {
        throw new CliUsageError(
          `Task ${id} ${JSON.stringify(task.name)} belongs to no workflow; symphony show shows workflows`,
        );
      }
      workflowId = task.workflowId;
      if (!options.json) println(io.stdout, `Task ${id} "${task.name}" is in workflow ${workflowId}:`);
    }
    const workflow = await tracker.getWorkflow(workflowId);
    const tasks = await tracker.getWorkflowTasks(workflowId);
    const record = runRecordOf(workflow);
    const agents = await configsById(registry, [
      ...(record?.agentConfigIds ?? []),
      ...tasks.flatMap((task) => (task.agentId === null ? [] : [task.agentId])),
    ]);
    const signals = await session.signals(workflowId);
    const spent = await showSpend(registry, workflowId, record);
    const details: WorkflowDetails = { workflow, tasks, agents, signals, ...(spent ? { spend: spent } : {}) };
    if (options.json) {
      const saga = sagaOutcome(workflow.status, tasks);
      printJson(io.stdout, {
        ...details,
        ...(saga === null ? {} : { compensated: saga.compensated }),
      } satisfies WorkflowDetails);
      return ExitCode.OK;
    }
    printDetails(io, details);
    return ExitCode.OK;
  } finally {
    await session.stop();
  }
}

/** What `show` notes of a child-workflow node: its child's id once made, else the child's name. */
export function childNote(task: Task): string | null {
  const child = task.graph?.workflow ?? null;
  if (child === null) return null;
  const name = child.definition?.name;
  if (child.id !== null) return `child workflow ${child.id}`;
  const named = name === undefined ? '' : ` ${JSON.stringify(truncate(name, 30))}`;
  return task.graph?.loop
    ? `each iteration runs child workflow${named}`
    : `child workflow${named} (not made yet)`;
}

function printDetails(io: CliIO, { workflow, tasks, agents, signals, spend }: WorkflowDetails): void {
  const out = io.stdout;
  const byId = new Map(agents.map((agent) => [agent.id, agent]));
  const counts = countByStatus(tasks);
  const starts = tasks.flatMap((task) => (task.startedAt === null ? [] : [task.startedAt]));
  const ends = tasks.flatMap((task) => (task.finishedAt === null ? [] : [task.finishedAt]));
  const unfinished = tasks.some((task) => task.finishedAt === null);
  const span =
    starts.length > 0 && ends.length > 0 && !unfinished ? Math.max(...ends) - Math.min(...starts) : null;
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
  const usages = new Map(tasks.map((task) => [task.id, taskTokenUsage(task)]));
  let totalUsage: TokenUsage | null = null;
  for (const usage of usages.values()) if (usage) totalUsage = addTokenUsage(totalUsage ?? undefined, usage);
  if (totalUsage !== null) println(out, `  tokens    ${describeUsage(totalUsage)}`);
  if (spend !== undefined) println(out, `  spend     ${describeSpend(spend)}`);
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
    const notes: string[] = [];
    const { loop, waitFor, children } = task.graph ?? {};
    if (loop)
      notes.push(`loop: ${children?.length ?? 0} iteration(s), at most ${loop.maxIterations} a round`);
    if (waitFor && !isTerminalStatus(task.status))
      notes.push(`waits for signal ${waitFor.signals.join(' or ')}`);
    const note = childNote(task);
    if (note !== null) notes.push(note);
    if (task.status !== 'COMPLETED' && task.errors.length > 0)
      notes.push(truncate(task.errors.at(-1)!.message, 60));
    const usage = usages.get(task.id) ?? null;
    rows.push([
      task.id,
      task.status,
      truncate(agentName(byId, task.agentId), 24),
      String(task.attempts),
      formatDuration(taskDuration(task)),
      ...(tokens ? [usage === null ? '-' : formatCount(totalTokens(usage))] : []),
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
