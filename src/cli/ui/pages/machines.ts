import { formatClock, formatDate } from '../../format.js';
import type { ActorEvent, ActorEventSource } from '../../overview/actor-events.js';
import { ACTOR_KINDS, actorView, liveActors, type ActorKind } from '../../overview/actors.js';
import type { Session } from '../../store.js';
import { html } from '../html.js';
import { dataTable, facts, type Page } from '../layout.js';
import { machineSvg } from '../machine-svg.js';

/** Events the machine view lists. */
export const RECENT_EVENTS = 25;

const KIND_TITLES: Record<ActorKind, string> = {
  workflow: 'Workflows (unfinished)',
  task: 'Tasks (unfinished)',
  agent: 'Agents',
  breaker: 'Circuit breakers',
  engine: 'Engines (live)',
  executor: 'Executors (live engines)',
  router: 'Routers (live engines)',
};

export const machineHref = (kind: string, id: string): string =>
  `/machines/${kind}/${encodeURIComponent(id)}`;

/** `/machines`: the live actors of the store by kind, each linking to its machine view. */
export async function machinesPage(session: Session): Promise<Page> {
  const actors = await liveActors(session);
  const sections = ACTOR_KINDS.map((kind) => {
    const mine = actors.filter((actor) => actor.kind === kind);
    return html`<section aria-labelledby="k-${kind}">
      <h2 id="k-${kind}">${KIND_TITLES[kind]}</h2>
      ${
        mine.length === 0
          ? html`<p class="empty">None.</p>`
          : html`<ul class="actors">
              ${mine.map(
                (actor) =>
                  html`<li>
                    <a href="${machineHref(kind, actor.id)}">${actor.label}</a
                    >${actor.label === actor.id ? '' : html` <code>${actor.id}</code>`}
                  </li>`,
              )}
            </ul>`
      }
    </section>`;
  });
  return {
    title: 'Machines',
    main: html`<h1>Machines</h1>
      <p class="note">
        Each actor drawn from its machine in <code>machines/</code>, with the state the store shows it in and
        its recent events: what the Stately inspector shows of a live engine, read here from the store (so
        without a connection to the engines, and as far as the store knows; each view says how its state is
        derived).
      </p>
      ${sections}`,
  };
}

/** `/machines/:kind/:id`: the actor's machine with its state highlighted, its transitions and recent events. */
export async function machinePage(
  session: Session,
  events: ActorEventSource,
  kind: ActorKind,
  id: string,
): Promise<Page> {
  const view = await actorView(session, { kind, id });
  const { svg, edges } = machineSvg(view.machine, view.state);
  const recent = await events.recent({ kind, id }, RECENT_EVENTS);
  const rows = edges.map((edge) => [
    edge.n,
    edge.from,
    edge.to,
    edge.next ? html`<strong>${edge.label}</strong>` : edge.label,
  ]);
  const eventRows = recent.map((event) => [
    html`<time datetime="${new Date(event.at).toISOString()}" title="${formatDate(event.at)} UTC"
      >${formatClock(event.at)}</time
    >`,
    html`<code>${event.type}</code>`,
    event.text,
  ]);
  const subject =
    kind === 'workflow'
      ? html`<a href="/workflows/${encodeURIComponent(id)}">workflow page</a>`
      : kind === 'task'
        ? html`<a href="/tasks/${encodeURIComponent(id)}">task page</a>`
        : html`<code>${id}</code>`;
  return {
    title: `${view.machine.title} ${view.label}`,
    main: html`<h1>${view.machine.title} machine: ${view.label}</h1>
      <p class="sub">${subject} · source <code>${view.machine.file}</code></p>
      ${facts([
        [
          'state',
          view.state === null
            ? 'not known from the store'
            : html`<strong class="state-name">${view.state.join('.')}</strong>`,
        ],
        ...view.facts,
      ])}
      <p class="note">${view.basis}</p>
      <figure class="graph-box" tabindex="0" aria-label="The ${view.machine.title} machine">${svg}</figure>
      <section aria-labelledby="tr-h">
        <h2 id="tr-h">Transitions</h2>
        ${dataTable('Transitions of the machine; in bold those that leave the current state', ['#', 'From', 'To', 'Event [guard] / actions'], rows, { numeric: new Set([0]), id: 'transitions' })}
      </section>
      <section aria-labelledby="ev-h">
        <h2 id="ev-h">Recent events</h2>
        ${
          recent.length === 0
            ? html`<p class="empty">No events the store tells of.</p>`
            : dataTable(
                `The newest ${recent.length}, newest first (times UTC)`,
                ['At', 'Event', 'What'],
                eventRows,
                { id: 'events' },
              )
        }
        <p class="note">${eventsNote(recent)}</p>
      </section>`,
  };
}

/** Where the listed events come from, in words. */
function eventsNote(recent: readonly ActorEvent[]): string {
  if (recent.some((event) => event.from === 'events')) {
    return (
      'The events the engines stored with each change (docs/monitoring.md, "Events from the store"), ' +
      'with the commands, signals and beats the store records besides.'
    );
  }
  return (
    "Derived from what the store keeps (tasks' times and error histories, commands, signals, breaker " +
    'rows, beats): a task row keeps its first start and its failed attempts, not every transition. ' +
    'No engine event of this actor is stored: the store was written with `storeEvents: false`, or ' +
    'its events were pruned by the retention.'
  );
}
