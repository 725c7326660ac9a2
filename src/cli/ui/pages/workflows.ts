import { WORKFLOW_STATUSES, type WorkflowStatus } from '../../../../machines/status.js';
import { truncate } from '../../format.js';
import {
  describeHolders,
  listWorkflowEntries,
  waitingCount,
  workflowStatusCounts,
} from '../../overview/workflows.js';
import type { Session } from '../../store.js';
import { html, raw } from '../html.js';
import { dataTable, statusBadge, when, type Page } from '../layout.js';

/** The page sizes the list offers. */
export const LIMITS = [25, 50, 100, 200] as const;

/** The list's filters as the query string gives them; anything unknown falls back to the default. */
export function listFilters(query: URLSearchParams): { status?: WorkflowStatus; q: string; limit: number } {
  const status = query.get('status')?.toUpperCase() as WorkflowStatus | undefined;
  const limit = Number(query.get('limit'));
  return {
    ...(status !== undefined && WORKFLOW_STATUSES.includes(status) ? { status } : {}),
    q: (query.get('q') ?? '').trim().slice(0, 200),
    limit: (LIMITS as readonly number[]).includes(limit) ? limit : LIMITS[0],
  };
}

/** `/`: workflows by status (each a filter), then the newest workflows with their task counts. */
export async function workflowsPage(session: Session, query: URLSearchParams): Promise<Page> {
  const filters = listFilters(query);
  const byStatus = await workflowStatusCounts(session);
  const total = WORKFLOW_STATUSES.reduce((sum, status) => sum + byStatus[status], 0);
  const entries = await listWorkflowEntries(session, { status: filters.status, limit: filters.limit });
  const needle = filters.q.toLowerCase();
  const shown =
    needle === ''
      ? entries
      : entries.filter((entry) => `${entry.name}\n${entry.id}`.toLowerCase().includes(needle));
  const link = (status: WorkflowStatus | undefined) => {
    const params = new URLSearchParams();
    if (status) params.set('status', status);
    if (filters.q) params.set('q', filters.q);
    if (filters.limit !== LIMITS[0]) params.set('limit', String(filters.limit));
    const search = params.toString();
    return search === '' ? '/' : `/?${search}`;
  };
  const chip = (status: WorkflowStatus | undefined, count: number) => {
    const current = raw(status === filters.status ? ' aria-current="true"' : '');
    const label = status ?? 'ALL';
    return html`<li>
      <a class="chip" href="${link(status)}" ${current}${raw(status ? ` data-status="${status}"` : '')}
        >${label} <b>${count}</b></a
      >
    </li>`;
  };
  const rows = shown.map((entry) => [
    html`<a href="/workflows/${encodeURIComponent(entry.id)}">${truncate(entry.name, 60)}</a><br /><code
        class="id"
        >${entry.id}</code
      >`,
    statusBadge(entry.status),
    entry.tasks,
    entry.counts.COMPLETED,
    entry.counts.RUNNING,
    waitingCount(entry.counts),
    entry.counts.FAILED,
    entry.counts.CANCELLED,
    entry.counts.SKIPPED,
    when(entry.createdAt),
    describeHolders(entry),
  ]);
  const limits = LIMITS.map(
    (limit) =>
      html`<option value="${limit}" ${raw(limit === filters.limit ? ' selected' : '')}>${limit}</option>`,
  );
  return {
    title: 'Workflows',
    main: html`<h1>Workflows</h1>
      <nav aria-label="Filter by status">
        <ul class="chips">
          ${chip(undefined, total)}${WORKFLOW_STATUSES.map((status) => chip(status, byStatus[status]))}
        </ul>
      </nav>
      <form class="filters" method="get" action="/" role="search">
        ${filters.status ? html`<input type="hidden" name="status" value="${filters.status}" />` : ''}
        <label for="q">Name or id</label>
        <input id="q" name="q" type="search" value="${filters.q}" autocomplete="off" />
        <label for="limit">Newest</label>
        <select id="limit" name="limit">
          ${limits}
        </select>
        <button type="submit">Filter</button>
      </form>
      ${
        shown.length === 0
          ? html`<p class="empty">
              No
              workflows${filters.status ? html` with status ${filters.status}` : ''}${filters.q ? html` matching “${filters.q}”` : ''}
              among the newest ${filters.limit}.
            </p>`
          : dataTable(
              `${shown.length} of the newest ${filters.limit} workflows${filters.status ? ` with status ${filters.status}` : ''}`,
              [
                'Workflow',
                'Status',
                'Tasks',
                'Done',
                'Running',
                'Waiting',
                'Failed',
                'Cancelled',
                'Skipped',
                'Created',
                'Held by',
              ],
              rows,
              { numeric: new Set([2, 3, 4, 5, 6, 7, 8]), id: 'workflows' },
            )
      }
      <p class="note">
        Waiting counts PENDING and PAUSED tasks. Held by: the live processes running its unfinished tasks;
        <em>nobody</em>: no live process runs them (<code>symphony resume &lt;id&gt;</code> continues it);
        <em>no worker</em>: submitted to workers, and no live worker has claimed them (start one:
        <code>symphony worker --agents &lt;module&gt;</code>).
      </p>`,
  };
}
