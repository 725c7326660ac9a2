import { formatDuration } from '../../format.js';
import {
  describeBreaker,
  describeRateLimit,
  listAgentEntries,
  type AgentEntry,
} from '../../overview/agents.js';
import { listWorkerEntries } from '../../overview/workers.js';
import type { Session } from '../../store.js';
import { html, type SafeHtml } from '../html.js';
import { dataTable, statusBadge, when, type Page } from '../layout.js';

const machineHref = (kind: string, id: string) => `/machines/${kind}/${encodeURIComponent(id)}`;

/** An agent's rate limits and whether each would let a start through now. */
function rateCell(entry: AgentEntry): SafeHtml | string {
  const limits = entry.config.rateLimits ?? [];
  if (limits.length === 0) return '-';
  return html`<ul class="plain">
    ${limits.map((limit, i) => {
      const state = entry.rate?.[i];
      const now =
        state === undefined
          ? ''
          : state.open
            ? ' · open'
            : ` · limited, next in ${formatDuration(state.waitMs)}`;
      return html`<li>${describeRateLimit(limit)}${now}</li>`;
    })}
  </ul>`;
}

/** `/agents`: every agent config with its load across live engines, limits, breaker and rate limits. */
export async function agentsPage(session: Session): Promise<Page> {
  const entries = await listAgentEntries(session, { rates: true });
  const rows = entries.map((entry) => {
    const breaker = describeBreaker(entry);
    return [
      html`<a href="${machineHref('agent', entry.config.id)}">${entry.config.name}</a><br /><code class="id"
          >${entry.config.id}</code
        >`,
      entry.config.type,
      html`<span class="badge" data-state="${entry.state}">${entry.state}</span>`,
      `${entry.load.running}/${entry.config.maxConcurrency}`,
      entry.load.pending,
      entry.completed,
      entry.failed,
      breaker === '-'
        ? '-'
        : html`<a href="${machineHref('breaker', entry.config.id)}">${statusBadge(breaker)}</a>`,
      rateCell(entry),
      entry.load.holders.join(', ') || '-',
      entry.config.capabilities.join(', ') || '-',
    ];
  });
  return {
    title: 'Agents',
    main: html`<h1>Agents</h1>
      ${
        entries.length === 0
          ? html`<p class="empty">No agent configs in the store.</p>`
          : dataTable(
              `${entries.length} agent config(s)`,
              [
                'Agent',
                'Type',
                'State',
                'Running / limit',
                'Pending',
                'Done',
                'Failed',
                'Breaker',
                'Rate limits',
                'Held by',
                'Capabilities',
              ],
              rows,
              { numeric: new Set([3, 4, 5, 6]), id: 'agents' },
            )
      }
      <p class="note">
        Running and pending: the tasks of each agent config that live engines hold, counted in the store (what
        routers add up across workers). State: the agent machine's state for that load. Done and failed: tasks
        whose latest attempt ran on it. Breaker: the last transition an engine stored (CLOSED: never tripped).
        Rate limits: each bucket as the store has it now, read with a take that spends nothing.
      </p>`,
  };
}

/** `/workers`: the engines that beat on the store, as `symphony workers` lists them. */
export async function workersPage(session: Session): Promise<Page> {
  const entries = await listWorkerEntries(session);
  const rows = entries.map((entry) => [
    html`<code>${entry.engineId}</code><br /><a href="${machineHref('engine', entry.engineId)}">engine</a> ·
      <a href="${machineHref('executor', entry.engineId)}">executor</a> ·
      <a href="${machineHref('router', entry.engineId)}">router</a>`,
    html`<span class="badge" data-state="${entry.state}">${entry.state}</span>`,
    when(entry.beatAt),
    entry.holds.RUNNING,
    entry.holds.PENDING,
    entry.holds.PAUSED,
    entry.coordinates.length === 0
      ? '0'
      : html`${entry.coordinates.map((id, i) => html`${i > 0 ? ', ' : ''}<a href="/workflows/${encodeURIComponent(id)}">${id}</a>`)}`,
  ]);
  const alive = entries.filter((entry) => entry.alive).length;
  return {
    title: 'Workers',
    main: html`<h1>Workers</h1>
      ${
        entries.length === 0
          ? html`<p class="empty">No engine beats on this store.</p>`
          : dataTable(
              `${entries.length} engine(s), ${alive} alive`,
              ['Engine', 'State', 'Last beat', 'Running', 'Pending', 'Paused', 'Coordinates'],
              rows,
              { numeric: new Set([3, 4, 5]), id: 'workers' },
            )
      }
      <p class="note">
        Every process that beats on the store: workers, <code>symphony run</code> and other commands (ended
        ones are kept for a day). Alive: its last beat is still a sign of life by the store's clock; dead: it
        stopped beating without a stop. The dashboard's own engine is left out.
      </p>`,
  };
}
