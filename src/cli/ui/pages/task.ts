import type { AgentConfig, Task } from '../../../index.js';
import { formatDuration, taskDuration } from '../../format.js';
import { runRecordOf } from '../../run-record.js';
import { usd } from '../../spend.js';
import type { Session } from '../../store.js';
import { describeUsage, taskNotes, taskSpend, tokenUsages } from '../../overview/details.js';
import { html, type SafeHtml } from '../html.js';
import { dataTable, facts, statusBadge, when, type Page } from '../layout.js';
import { actionButton } from './workflow.js';
import { UnknownActorError } from '../../overview/actors.js';

/** Characters of an output, input or error detail a page shows; the rest is cut, saying how much. */
export const SHOWN_JSON = 20_000;

/** A value as indented JSON in a `<pre>`, cut at SHOWN_JSON characters. */
export function jsonBlock(value: unknown, label: string): SafeHtml {
  const text = JSON.stringify(value, null, 2) ?? String(value);
  const cut = text.length > SHOWN_JSON ? text.length - SHOWN_JSON : 0;
  return html`<pre class="json" tabindex="0" aria-label="${label}">
${cut > 0 ? text.slice(0, SHOWN_JSON) : text}</pre>
    ${
      cut > 0
        ? html`<p class="note">
            … ${cut.toLocaleString('en-US')} more characters (all of it: <code>symphony show --json</code>).
          </p>`
        : ''
    }`;
}

/** The error history of a task: a row per failed attempt, its stack and details below. */
function errorHistory(task: Task, agent: AgentConfig | undefined): SafeHtml {
  if (task.errors.length === 0) return html`<p class="empty">No attempt of this task has failed.</p>`;
  const rows = task.errors.map((error) => [
    error.attempt,
    when(error.at),
    html`<code class="id">${error.code ?? error.name}</code>`,
    error.message,
    error.retryable ? 'retried' : 'not retried',
    agent !== undefined && error.agentId === agent.id ? agent.name : (error.agentId ?? '-'),
  ]);
  const more = task.errors
    .filter((error) => error.stack !== undefined || error.details !== undefined || error.usage !== undefined)
    .map(
      (error) =>
        html`<details>
          <summary>Attempt ${error.attempt}: stack and details</summary>
          ${error.stack ? html`<pre class="json" tabindex="0">${error.stack}</pre>` : ''}
          ${error.details ? jsonBlock(error.details, `Details of attempt ${error.attempt}`) : ''}
          ${error.usage ? jsonBlock(error.usage, `Usage of attempt ${error.attempt}`) : ''}
        </details>`,
    );
  return html`${dataTable(`${task.errors.length} failed attempt(s), oldest first`, ['Attempt', 'At', 'Code', 'Message', 'Retry', 'Agent'], rows, { numeric: new Set([0]), id: 'errors' })}${more}`;
}

/** `/tasks/:id`: a task's status, attempts, error history, output and input, tokens and cost. */
export async function taskPage(session: Session, taskId: string): Promise<Page> {
  const { registry } = session;
  const task = await registry.getRepository('tasks').get(taskId);
  if (!task) throw new UnknownActorError({ kind: 'task', id: taskId }, session.storeName);
  const workflow =
    task.workflowId === null ? null : await registry.getRepository('workflows').get(task.workflowId);
  const usage = tokenUsages([task]).total;
  const agent =
    task.agentId === null ? undefined : await registry.getRepository('agentConfigs').get(task.agentId);
  const rows: Array<[string, unknown]> = [
    ['status', statusBadge(task.status)],
    [
      'workflow',
      workflow ? html`<a href="/workflows/${encodeURIComponent(workflow.id)}">${workflow.name}</a>` : '-',
    ],
    [
      'agent',
      agent
        ? html`<a href="/machines/agent/${encodeURIComponent(agent.id)}">${agent.name}</a>`
        : (task.agentId ?? '-'),
    ],
    ['attempts', task.attempts],
    ['created', when(task.createdAt)],
    ['started', when(task.startedAt)],
    ['finished', when(task.finishedAt)],
    ['duration', formatDuration(taskDuration(task))],
    ['held by', task.leaseOwner ?? '-'],
  ];
  if (task.runAfter !== null) rows.push(['due', when(task.runAfter)]);
  if (usage !== null) rows.push(['tokens', describeUsage(usage)]);
  if (usage !== null && workflow && runRecordOf(workflow)?.prices !== undefined)
    rows.push(['cost', usd(taskSpend(task, workflow).costUsd)]);
  const notes = taskNotes(task, 200);
  if (notes.length > 0) rows.push(['note', notes.join('; ')]);
  const graph = task.graph !== null;
  const retryable = task.status === 'FAILED' || (graph && task.status === 'CANCELLED');
  const button =
    retryable && workflow && runRecordOf(workflow)?.submitted === true && !workflow.cancelled
      ? actionButton(
          'retry',
          'Retry this task',
          `/api/tasks/${encodeURIComponent(task.id)}/retry`,
          `Retry task ${JSON.stringify(task.name)}? The workers run it again, its history kept.`,
        )
      : '';
  const retryHint =
    retryable && !button && workflow && !workflow.cancelled
      ? html`<p class="note">Retried from a terminal: <code>symphony retry ${task.id}</code>.</p>`
      : '';
  return {
    title: `Task ${task.name}`,
    main: html`<h1>${task.name}</h1>
      <p class="sub">
        <code>${task.id}</code> · <a href="/machines/task/${encodeURIComponent(task.id)}">machine view</a>
      </p>
      ${task.description ? html`<p>${task.description}</p>` : ''}
      ${button ? html`<div class="actions" role="group" aria-label="Task actions">${button}</div>` : ''}${retryHint}
      ${facts(rows)}
      <section aria-labelledby="errors-h">
        <h2 id="errors-h">Error history</h2>
        ${errorHistory(task, agent)}
      </section>
      <section aria-labelledby="output-h">
        <h2 id="output-h">Output</h2>
        ${
          task.outputData === null || task.outputData === undefined
            ? html`<p class="empty">No output.</p>`
            : jsonBlock(task.outputData, 'Output as JSON')
        }
      </section>
      <section aria-labelledby="input-h">
        <h2 id="input-h">Input</h2>
        ${jsonBlock(task.inputData, 'Input as JSON')}
      </section>`,
  };
}
