import type { AgentRef } from './dispatcher.js';
import type { Committer } from './committer.js';
import type { EngineClock } from './clock.js';
import type { EventDraft, EventOutlet, SymphonyEvents } from './engine-events.js';

type AgentLoadEvent = SymphonyEvents['agent.load'];

/** What the `agent.load` events need of their engine. */
export interface AgentLoadDeps {
  outlet: EventOutlet;
  committer: Pick<Committer, 'announce' | 'hasRowsStaged' | 'afterCommit'>;
  clock: EngineClock;
  /** The agent actor of an agent key: its context holds the one count of its slots. */
  agent(agentId: string): AgentRef | undefined;
}

/** An agent without a limit is registered with this one (see EngineActors.ensureAgent). */
const UNBOUNDED = Number.MAX_SAFE_INTEGER;

/**
 * The `agent.load` events: an agent actor whose load changed (attempts in flight, or its limit) is
 * marked; just before the commit is taken (`flush`, a before-flush hook of the committer) each
 * marked agent's load is read from its actor, once, and announced if it differs from the last one
 * announced. So a commit carries at most one event per agent, with the load after its changes, and
 * a batch that starts and settles as many attempts as before carries none. Nothing is counted here:
 * the agent machine's context and state are the source.
 */
export class AgentLoadEvents {
  private readonly marked = new Set<string>();
  /** The last load announced per agent, as `inFlight/maxConcurrency`. */
  private readonly announced = new Map<string, string>();

  constructor(private readonly deps: AgentLoadDeps) {}

  /** An agent actor's load changed (EngineActors' `loadChanged` hook). */
  changed(agentId: string): void {
    if (this.deps.outlet.wants('agent.load')) this.marked.add(agentId);
  }

  /**
   * Announces the loads of the agents marked since the last batch that differ from the last told.
   * They ride on a batch with rows: the starts and settles that change a load stage rows in the
   * same turn (a settle's SETTLED is sent while its batch is taken, before this runs). A load that
   * changed with nothing staged (attempts let go when the store was lost) waits for the next batch
   * with rows: a batch of its own would restart the retries of a store given up on.
   */
  flush(): void {
    if (this.marked.size === 0 || !this.deps.committer.hasRowsStaged()) return;
    const at = this.deps.clock.now();
    const drafts: EventDraft[] = [];
    /** What was announced before this batch, per agent it announces: restored if the batch fails. */
    const before = new Map<string, { last: string | undefined; now: string }>();
    for (const agentId of this.marked) {
      const snapshot = this.deps.agent(agentId)?.getSnapshot();
      if (snapshot === undefined) continue;
      const { inFlight, maxConcurrency } = snapshot.context;
      const last = this.announced.get(agentId) ?? `0/${maxConcurrency}`;
      const now = `${inFlight}/${maxConcurrency}`;
      if (now === last) continue;
      before.set(agentId, { last: this.announced.get(agentId), now });
      this.announced.set(agentId, now);
      const payload: AgentLoadEvent = {
        agentId,
        inFlight,
        maxConcurrency: maxConcurrency >= UNBOUNDED ? null : maxConcurrency,
        state: snapshot.value as AgentLoadEvent['state'],
        at,
      };
      drafts.push({ name: 'agent.load', payload });
    }
    this.marked.clear();
    if (drafts.length === 0) return;
    this.deps.committer.announce(null, () => drafts);
    // A batch that fails for good takes its events with it: the loads it told of were never told,
    // so they are announced again with the next batch (unless a later one told a newer load).
    this.deps.committer.afterCommit((error) => {
      if (!error) return;
      for (const [agentId, { last, now }] of before) {
        if (this.announced.get(agentId) !== now) continue;
        if (last === undefined) this.announced.delete(agentId);
        else this.announced.set(agentId, last);
        this.changed(agentId);
      }
    });
  }
}
