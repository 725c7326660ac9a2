import { basename } from 'node:path';
import { isTerminalStatus } from '../../../../machines/status.js';
import type { Task, Workflow } from '../../../index.js';
import { tokensOf } from '../../../engine/budgets.js';
import { sagaOutcome } from '../../../graph/compensation.js';
import { agentName, formatDuration, taskDuration, truncate } from '../../format.js';
import { countByStatus } from '../../progress/watcher.js';
import { runRecordOf } from '../../run-record.js';
import { describeSpend, usd } from '../../spend.js';
import type { Session } from '../../store.js';
import {
  describeUsage,
  formatCount,
  loadWorkflowDetails,
  taskNotes,
  taskSpend,
  tokenUsages,
  workflowSpan,
} from '../../overview/details.js';
import { storedNodes } from '../../overview/graph-nodes.js';
import { heldByOf, liveEngines } from '../../overview/workflows.js';
import { describeSaga } from '../../summary.js';
import { formatOutput } from '../../commands/show.js';
import { graphSvg, MAX_DRAWN_NODES } from '../graph-svg.js';
import { html, type SafeHtml } from '../html.js';
import { dataTable, facts, statusBadge, when, type Page } from '../layout.js';

const taskHref = (id: string) => `/tasks/${encodeURIComponent(id)}`;

/** A button of the dashboard: the dialog asks `confirm` first, then it posts to `target`. */
export function actionButton(
  action: string,
  label: string,
  target: string,
  confirm: string,
  extra = '',
): SafeHtml {
  return html`<button
    type="button"
    class="action"
    data-action="${action}"
    data-target="${target}"
    data-confirm="${confirm}"
    data-signal="${extra}"
  >
    ${label}
  </button>`;
}

/**
 * The buttons that apply to the workflow now, and what a terminal must do that the dashboard does
 * not: retry a workflow that ran in its own process, continue one no live process runs.
 */
function actions(workflow: Workflow, tasks: readonly Task[], heldBy: readonly string[] | null): SafeHtml {
  const base = `/api/workflows/${encodeURIComponent(workflow.id)}`;
  const name = JSON.stringify(workflow.name);
  const unfinished = tasks.filter((task) => !isTerminalStatus(task.status));
  const buttons: SafeHtml[] = [];
  if (unfinished.length > 0 && !workflow.paused && !workflow.cancelled)
    buttons.push(
      actionButton(
        'pause',
        'Pause',
        `${base}/pause`,
        `Pause workflow ${name}? Running attempts finish; no new attempt starts until it is resumed.`,
      ),
    );
  if (workflow.paused)
    buttons.push(
      actionButton(
        'resume',
        'Resume',
        `${base}/resume`,
        `Resume workflow ${name}? The process running it goes on.`,
      ),
    );
  if (unfinished.length > 0)
    buttons.push(
      actionButton(
        'cancel',
        'Cancel',
        `${base}/cancel`,
        `Cancel workflow ${name}? Its ${unfinished.length} unfinished task(s) are cancelled and running attempts aborted.`,
      ),
    );
  const graph = tasks.some((task) => task.graph !== null);
  const failed = tasks.filter((task) => task.status === 'FAILED' || (graph && task.status === 'CANCELLED'));
  const byWorkers = runRecordOf(workflow)?.submitted === true;
  if (failed.length > 0 && !workflow.cancelled && !workflow.paused && byWorkers)
    buttons.push(
      actionButton(
        'retry',
        'Retry failed',
        `${base}/retry`,
        `Retry the ${failed.length} failed task(s) of ${name}? The workers run them again.`,
      ),
    );
  if (workflow.status !== 'COMPLETED' && !workflow.cancelled) {
    const wait = unfinished.find((task) => task.graph?.waitFor)?.graph?.waitFor?.signals[0] ?? '';
    buttons.push(
      actionButton('signal', 'Send signal', `${base}/signal`, `Send a signal to workflow ${name}.`, wait),
    );
  }
  const hint =
    failed.length > 0 && !byWorkers && !workflow.cancelled
      ? html`<p class="note">
          Its failed tasks are retried from a terminal: <code>symphony retry ${workflow.id}</code> (this
          workflow ran in a <code>symphony run</code> process, whose agents the dashboard does not have).
        </p>`
      : '';
  const orphaned = heldBy !== null && heldBy.length === 0;
  const resumeHint =
    orphaned && !byWorkers && !workflow.paused && !workflow.cancelled
      ? html`<p class="note">
          No live process holds all its unfinished tasks (an interrupted run, or one not started):
          <code>symphony resume ${workflow.id}</code> continues it in a terminal.
        </p>`
      : '';
  return html`<div class="actions" role="group" aria-label="Workflow actions">${buttons}</div>
    ${hint}${resumeHint}`;
}

/** The facts of the workflow's head: status, times, counts, tokens, spend, saga, parent, source. */
function summary(workflow: Workflow, tasks: readonly Task[], spend: string | null): SafeHtml {
  const counts = countByStatus(tasks);
  const countText = Object.entries(counts)
    .filter(([, n]) => n > 0)
    .map(([status, n]) => `${n} ${status}`)
    .join(', ');
  const usage = tokenUsages(tasks).total;
  const saga = sagaOutcome(workflow.status, tasks);
  const record = runRecordOf(workflow);
  const parentTaskId = workflow.metadata.parentTaskId;
  const rows: Array<[string, unknown]> = [
    [
      'status',
      html`${statusBadge(workflow.status)}${workflow.paused ? ' (paused)' : ''}${workflow.cancelled ? ' (cancelled)' : ''}`,
    ],
    ['tasks', `${tasks.length}${countText ? ` (${countText})` : ''}`],
    ['created', when(workflow.createdAt)],
    ['updated', when(workflow.updatedAt)],
    ['duration', formatDuration(workflowSpan(tasks))],
  ];
  if (usage !== null) rows.push(['tokens', describeUsage(usage)]);
  if (spend !== null) rows.push(['spend', spend]);
  if (saga !== null)
    rows.push([
      'saga',
      describeSaga({ compensated: saga.compensated, due: saga.due.length, done: saga.done.length }),
    ]);
  if (typeof parentTaskId === 'string')
    rows.push(['parent', html`task <a href="${taskHref(parentTaskId)}">${parentTaskId}</a>`]);
  if (record)
    rows.push([
      'source',
      html`<span title="${record.file ?? ''}"
        >${record.source === 'demo' ? 'symphony demo' : `symphony run ${basename(record.file ?? '')}`}${
          record.submitted ? ' --submit' : ''
        },
        routing ${record.strategy}</span
      >`,
    ]);
  return facts(rows);
}

/** `/workflows/:id`: the workflow, its buttons, its graph coloured by status, its tasks, signals and agents. */
export async function workflowPage(session: Session, workflowId: string): Promise<Page> {
  const details = await loadWorkflowDetails(session, workflowId);
  const { workflow, tasks, agents, signals } = details;
  const unfinished = tasks.filter((task) => !isTerminalStatus(task.status)).length;
  const heldBy = await heldByOf(session, workflowId, unfinished, await liveEngines(session));
  const byId = new Map(agents.map((agent) => [agent.id, agent]));
  const usages = tokenUsages(tasks).byTask;
  const priced = runRecordOf(workflow)?.prices !== undefined;
  const rows = tasks.map((task) => {
    const usage = usages.get(task.id) ?? null;
    return [
      html`<a href="${taskHref(task.id)}">${truncate(task.name, 50)}</a><br /><code class="id"
          >${task.id}</code
        >`,
      statusBadge(task.status),
      truncate(agentName(byId, task.agentId), 24),
      task.attempts,
      formatDuration(taskDuration(task)),
      usage === null ? '-' : formatCount(tokensOf(usage)),
      usage === null || !priced ? '-' : usd(taskSpend(task, workflow).costUsd),
      taskNotes(task, 80).join('; '),
    ];
  });
  const nodes = storedNodes(tasks);
  const graph =
    tasks.length === 0
      ? html`<p class="empty">No tasks yet.</p>`
      : tasks.length > MAX_DRAWN_NODES
        ? html`<p class="note">
            ${tasks.length} tasks: more than the ${MAX_DRAWN_NODES} the graph draws; see the table.
          </p>`
        : html`<figure
            class="graph-box"
            tabindex="0"
            aria-label="Graph of the workflow's tasks, coloured by status"
          >
            ${graphSvg(nodes, taskHref)}
          </figure>`;
  const signalRows = signals.map((signal) => [
    signal.name,
    when(signal.sentAt),
    signal.takenBy === null ? 'pending' : html`<a href="${taskHref(signal.takenBy)}">${signal.takenBy}</a>`,
    formatOutput(signal.payload, 80),
  ]);
  const agentRows = agents.map((agent) => [
    html`<a href="/machines/agent/${encodeURIComponent(agent.id)}">${agent.name}</a>`,
    agent.type,
    agent.maxConcurrency,
    tasks.filter((task) => task.agentId === agent.id).length,
    agent.capabilities.join(', '),
  ]);
  return {
    title: `Workflow ${workflow.name}`,
    main: html`<h1>${workflow.name}</h1>
      <p class="sub">
        <code>${workflow.id}</code> ·
        <a href="/machines/workflow/${encodeURIComponent(workflow.id)}">machine view</a>
      </p>
      ${workflow.description ? html`<p>${workflow.description}</p>` : ''} ${actions(workflow, tasks, heldBy)}
      ${summary(workflow, tasks, details.spend ? describeSpend(details.spend) : null)}
      <section aria-labelledby="graph-h">
        <h2 id="graph-h">Graph</h2>
        ${graph}
      </section>
      <section aria-labelledby="tasks-h">
        <h2 id="tasks-h">Tasks</h2>
        ${dataTable(`${tasks.length} task(s)`, ['Task', 'Status', 'Agent', 'Attempts', 'Duration', 'Tokens', 'Cost', 'Note'], rows, { numeric: new Set([3, 4, 5, 6]), id: 'tasks' })}
      </section>
      ${
        signals.length > 0
          ? html`<section aria-labelledby="signals-h">
              <h2 id="signals-h">Signals</h2>
              ${dataTable('Signals, oldest first', ['Name', 'Sent', 'Taken by', 'Payload'], signalRows)}
            </section>`
          : ''
      }
      ${
        agents.length > 0
          ? html`<section aria-labelledby="agents-h">
              <h2 id="agents-h">Agents</h2>
              ${dataTable('Agent configs of the run', ['Agent', 'Type', 'Limit', 'Tasks', 'Capabilities'], agentRows, { numeric: new Set([2, 3]) })}
            </section>`
          : ''
      }`,
  };
}
