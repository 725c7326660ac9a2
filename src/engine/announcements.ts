import type { EventRecord } from '../repositories/events.js';
import type { EventDraft, EventOutlet } from './engine-events.js';

/**
 * Events announced for the next commit: built when their batch is taken (once: a batch taken again
 * after a failed commit keeps them, and the commit token of the batch that first took them), written
 * with it and published once it has committed; dropped when the write of `taskId` was refused.
 */
export interface Announcement {
  taskId: string | null;
  build: () => EventDraft[];
  drafts: EventDraft[] | null;
  /** See `EventRecord.token`. */
  token: string | null;
}

/** What the committer does with the events of its batches: build them, then publish them. */
export class Announcements {
  /** Commit tokens: a random part, then a count of batches (the events row names the engine). */
  private readonly tokenPrefix: string;
  private batches = 0;

  constructor(
    private readonly outlet: EventOutlet | null,
    private readonly engineId: string,
  ) {
    // Unique across processes and restarts whatever the injected ids and randomness (tests fix
    // both): 122 random bits. Short, as every event of a commit carries it.
    this.tokenPrefix = globalThis.crypto.randomUUID().replaceAll('-', '');
  }

  /** Whether events go to the store. */
  get stored(): boolean {
    return this.outlet?.stored ?? false;
  }

  /** Whether an event of `name` goes anywhere (the store or a listener). */
  wanted(name: Parameters<EventOutlet['wants']>[0]): boolean {
    return this.outlet?.wants(name) ?? false;
  }

  /** Builds a batch's announced events; returns those the store is to write. */
  records(announcements: readonly Announcement[]): EventRecord[] {
    const records: EventRecord[] = [];
    const token = `${this.tokenPrefix}.${(this.batches += 1).toString(36)}`;
    for (const announcement of announcements) {
      const drafts = (announcement.drafts ??= announcement.build());
      if (!this.stored) continue;
      announcement.token ??= token;
      for (const draft of drafts) records.push(recordOf(draft, this.engineId, announcement.token));
    }
    return records;
  }

  /**
   * Tells the listeners of a committed batch's events (but those of refused writes), then of the
   * `workflow.status` events the store derived in it; wakes the watches if any was stored.
   */
  published(
    announcements: readonly Announcement[],
    refused: readonly string[],
    derived: readonly EventRecord[],
    stored: boolean,
  ): void {
    const outlet = this.outlet;
    if (outlet === null) return;
    if (announcements.length > 0 && outlet.hub !== null) {
      const skip = refused.length > 0 ? new Set(refused) : null;
      for (const { taskId, drafts } of announcements) {
        if (skip !== null && taskId !== null && skip.has(taskId)) continue;
        outlet.publish(drafts!);
      }
    }
    if (derived.length) outlet.publish(derived.map(draftOf));
    if (stored || (derived.length > 0 && this.stored)) outlet.written();
  }
}

/** The row of an event: its workflow and task (for readers' filters) read from its payload. */
function recordOf(draft: EventDraft, engineId: string, token: string): EventRecord {
  const payload = draft.payload as { workflowId?: string | null; taskId?: string; at: number };
  return {
    name: draft.name,
    payload: draft.payload,
    engineId,
    workflowId: payload.workflowId ?? null,
    taskId: payload.taskId ?? null,
    at: payload.at,
    token,
  };
}

/** A `workflow.status` event a store derived, as the engine's listeners get it. */
function draftOf(record: EventRecord): EventDraft {
  return { name: 'workflow.status', payload: record.payload as EventDraft['payload'] } as EventDraft;
}
