import { SYMPHONY_EVENT_NAMES, type SymphonyEventName } from '../../engine/engine-events.js';
import type { ReadEventsOptions, StoredEvent } from '../../engine/stored-events.js';
import { SymphonyError } from '../../errors/symphony-error.js';
import { eventDetail } from '../event-lines.js';
import type { Session } from '../store.js';
import { storedRowEvents, type ActorEvent, type ActorEventSource } from './actor-events.js';
import type { ActorRef } from './actors.js';

/** Events kept per actor followed, actors followed at once, and events read a page. */
const KEEP = 100;
const MAX_FOLLOWED = 200;
const PAGE = 5_000;

const ENGINE_EVENTS: ReadonlySet<string> = new Set(SYMPHONY_EVENT_NAMES);

/** What the stored events of an actor are: a filter the store applies, and one applied here. */
interface ActorQuery {
  query: Pick<ReadEventsOptions, 'names' | 'workflowId' | 'taskId'>;
  matches(event: StoredEvent): boolean;
}

const AGENT_EVENTS: SymphonyEventName[] = [
  'task.started',
  'task.attemptFailed',
  'task.completed',
  'task.failed',
  'agent.circuit',
  'agent.load',
];
const agentIdOf = (event: StoredEvent) => (event.payload as { agentId?: string | null }).agentId;

function queryOf(actor: ActorRef): ActorQuery {
  const all = () => true;
  const ofEngine = (event: StoredEvent) => event.engineId === actor.id;
  const ofAgent = (event: StoredEvent) => agentIdOf(event) === actor.id;
  switch (actor.kind) {
    case 'task':
      return { query: { taskId: actor.id }, matches: all };
    case 'workflow':
      return { query: { workflowId: actor.id }, matches: all };
    case 'agent':
      return { query: { names: AGENT_EVENTS }, matches: ofAgent };
    case 'breaker':
      return { query: { names: ['agent.circuit', 'task.attemptFailed'] }, matches: ofAgent };
    case 'engine':
    case 'executor':
      return { query: { names: ['worker.started', 'worker.stopped', 'task.started'] }, matches: ofEngine };
    case 'router':
      return { query: { names: ['worker.started', 'worker.stopped'] }, matches: ofEngine };
  }
}

/** What an actor's stored events were read up to, and the newest of them (oldest first). */
interface Followed {
  cursor: string | null;
  events: ActorEvent[];
}

/**
 * The machine view's recent events from the events the engines stored (`readEvents`): every
 * change they published, with its error code and engine, not only what the rows keep. Each actor
 * shown is followed with a cursor, so a view read again (the dashboard's live updates) reads only
 * the events stored since; at most 100 are kept per actor and 200 actors at once. Commands,
 * signals and beats, which are no engine events, still come from the rows. An actor with no
 * stored event (a store written with `storeEvents: false`, events pruned by the retention, a store
 * that keeps none) gets the events derived from rows (`storedRowEvents`), marked as such.
 */
export function storedActorEvents(
  session: Session,
  rows: ActorEventSource = storedRowEvents(session),
): ActorEventSource {
  const followed = new Map<string, Followed>();
  let keepsNone = false;

  /** The actor's stored events, oldest first; null when the store keeps none. */
  async function stored(actor: ActorRef): Promise<ActorEvent[] | null> {
    if (keepsNone) return null;
    const key = `${actor.kind}:${actor.id}`;
    let entry = followed.get(key);
    if (entry === undefined) {
      if (followed.size >= MAX_FOLLOWED) followed.delete(followed.keys().next().value!);
      entry = { cursor: null, events: [] };
      followed.set(key, entry);
    }
    const { query, matches } = queryOf(actor);
    for (;;) {
      let page;
      try {
        const after = entry.cursor === null ? {} : { after: entry.cursor };
        page = await session.registry.readEvents({ ...query, ...after, limit: PAGE });
      } catch (error) {
        if (SymphonyError.isInstance(error) && error.code === 'INVALID_STATE') {
          keepsNone = true;
          return null;
        }
        throw error;
      }
      for (const event of page.events) {
        if (!matches(event)) continue;
        entry.events.push({ at: event.at, type: event.name, text: eventDetail(event), from: 'events' });
      }
      if (entry.events.length > KEEP) entry.events.splice(0, entry.events.length - KEEP);
      entry.cursor = page.cursor;
      if (page.events.length < PAGE) return entry.events;
    }
  }

  return {
    async recent(actor, limit) {
      const events = await stored(actor);
      // Enough of the derivation to keep its commands, signals and beats past its task events.
      const derived = await rows.recent(actor, Math.max(limit, 1_000));
      if (events === null || events.length === 0) {
        return derived.slice(0, limit).map((event) => ({ ...event, from: 'rows' as const }));
      }
      const others = derived
        .filter((event) => !ENGINE_EVENTS.has(event.type))
        .map((event) => ({ ...event, from: 'rows' as const }));
      // Newest first; stored events of the same time in reverse commit order.
      return [...[...events].reverse(), ...others].sort((a, b) => b.at - a.at).slice(0, limit);
    },
  };
}
