import { isTerminalStatus } from '../../../machines/status.js';
import type { AgentConfig, Task, Workflow, WorkflowSpend } from '../../index.js';
import { addTokenUsage, taskTokenUsage, type TokenUsage } from '../../ai/usage.js';
import { spendOf, tokensOf, type Spend } from '../../engine/budgets.js';
import { sagaOutcome } from '../../graph/compensation.js';
import type { StoredSignal } from '../../repositories/store.js';
import { configsById } from '../commands/common.js';
import { truncate } from '../format.js';
import { runRecordOf } from '../run-record.js';
import { showQuotas, showSpend, type QuotaSpend } from '../spend.js';
import type { Session } from '../store.js';

/** A workflow with everything `symphony show` (and the dashboard's workflow page) shows of it. */
export interface WorkflowDetails {
  workflow: Workflow;
  tasks: Task[];
  agents: AgentConfig[];
  /** The signals sent to the workflow, oldest first; `takenBy` null: no wait has taken it yet. */
  signals: StoredSignal[];
  /** Its spend against its budget (docs/policies.md#budgets); absent: no budget and no usage. */
  spend?: WorkflowSpend;
  /**
   * Its agent configs with a quota, each with its spend over every task it ran (in every
   * workflow) against it; absent: none has a quota.
   */
  quotas?: QuotaSpend[];
  /**
   * Present when the workflow FAILED and a task of it declares a compensation: true when every
   * compensation due ran and COMPLETED.
   */
  compensated?: boolean;
}

/**
 * The stored workflow, its tasks, the agent configs involved, its signals, spend (its own and its
 * configs' quotas') and saga outcome.
 */
export async function loadWorkflowDetails(session: Session, workflowId: string): Promise<WorkflowDetails> {
  const { registry } = session;
  const tracker = registry.getWorkflowTracker();
  const workflow = await tracker.getWorkflow(workflowId);
  const tasks = await tracker.getWorkflowTasks(workflowId);
  const record = runRecordOf(workflow);
  const agents = await configsById(registry, [
    ...(record?.agentConfigIds ?? []),
    ...tasks.flatMap((task) => (task.agentId === null ? [] : [task.agentId])),
  ]);
  const signals = await session.signals(workflowId);
  const spent = await showSpend(registry, workflowId, record);
  const quotas = await showQuotas(registry, agents, record);
  const saga = sagaOutcome(workflow.status, tasks);
  return {
    workflow,
    tasks,
    agents,
    signals,
    ...(spent ? { spend: spent } : {}),
    ...(quotas.length > 0 ? { quotas } : {}),
    ...(saga === null ? {} : { compensated: saga.compensated }),
  };
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

/**
 * The notes of a task's row: a loop's iterations, an unfinished wait's signals, a child workflow,
 * and the last error of a task that did not complete (its message cut at `errorWidth`).
 */
export function taskNotes(task: Task, errorWidth = 60): string[] {
  const notes: string[] = [];
  const { loop, waitFor, children } = task.graph ?? {};
  if (loop) notes.push(`loop: ${children?.length ?? 0} iteration(s), at most ${loop.maxIterations} a round`);
  if (waitFor && !isTerminalStatus(task.status))
    notes.push(`waits for signal ${waitFor.signals.join(' or ')}`);
  const note = childNote(task);
  if (note !== null) notes.push(note);
  if (task.status !== 'COMPLETED' && task.errors.length > 0)
    notes.push(truncate(task.errors.at(-1)!.message, errorWidth));
  return notes;
}

/** From the first start to the last end, once every task has ended (else null). */
export function workflowSpan(tasks: readonly Task[]): number | null {
  const starts = tasks.flatMap((task) => (task.startedAt === null ? [] : [task.startedAt]));
  const ends = tasks.flatMap((task) => (task.finishedAt === null ? [] : [task.finishedAt]));
  const unfinished = tasks.some((task) => task.finishedAt === null);
  return starts.length > 0 && ends.length > 0 && !unfinished ? Math.max(...ends) - Math.min(...starts) : null;
}

/** Every task's token usage (null: none recorded) and their sum (null: no task recorded any). */
export function tokenUsages(tasks: readonly Task[]): {
  byTask: Map<string, TokenUsage | null>;
  total: TokenUsage | null;
} {
  const byTask = new Map(tasks.map((task) => [task.id, taskTokenUsage(task)]));
  let total: TokenUsage | null = null;
  for (const usage of byTask.values()) if (usage) total = addTokenUsage(total ?? undefined, usage);
  return { byTask, total };
}

/** One task's spend, priced as its workflow's spend is (the prices of its run record). */
export function taskSpend(task: Task, workflow: Workflow): Spend {
  return spendOf([task], runRecordOf(workflow)?.prices ?? {});
}

/** `1,234`. */
export const formatCount = (n: number): string => n.toLocaleString('en-US');

/** `1,234 tokens (1,000 in, 234 out)`. */
export function describeUsage(usage: TokenUsage): string {
  return `${formatCount(tokensOf(usage))} tokens (${formatCount(usage.inputTokens ?? 0)} in, ${formatCount(usage.outputTokens ?? 0)} out)`;
}
