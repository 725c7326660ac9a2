import { InvalidArgumentError } from '../../errors/errors.js';
import {
  cursorPastEnd,
  encodePayloads,
  parseSeqCursor,
  type EventPage,
  type EventQuery,
  type EventRecord,
  type EventRetention,
  type StoredEventRecord,
} from '../events.js';

/** Commit tokens remembered: a lost reply is retried within `storeRetryMs`, far fewer commits. */
const MAX_TOKENS = 10_000;

/** An event as the log keeps it: its payload as JSON text, so every read hands out a fresh copy. */
interface LoggedEvent {
  seq: number;
  name: string;
  payload: string;
  engineId: string;
  workflowId: string | null;
  taskId: string | null;
  at: number;
}

/**
 * The stored events of an in-process store: an array in commit order, numbered by `seq` (which a
 * prune never takes back). It keeps at most `maxEvents` (the oldest go first, a tenth at a time),
 * since nothing prunes an engine without control polls.
 */
export class EventLog {
  private events: LoggedEvent[] = [];
  private seq = 0;
  /** Tokens of the commits written (see `EventRecord.token`), the latest MAX_TOKENS. */
  private readonly tokens = new Set<string>();

  constructor(private readonly maxEvents = 100_000) {
    if (!Number.isInteger(maxEvents) || maxEvents < 1) {
      throw new InvalidArgumentError(
        `Expected \`maxEvents\` to be an integer >= 1, got ${String(maxEvents)}`,
      );
    }
  }

  /**
   * Encodes a batch's events (a payload that is not JSON fails the batch before anything is
   * written) and returns the function that appends them, given the fenced writes of the commit.
   */
  prepare(records: readonly EventRecord[] | undefined): (fenced: readonly string[]) => void {
    if (!records?.length) return () => {};
    const payloads = encodePayloads(records);
    // The records are read when the returned function runs: in the commit, before it returns.
    return (fenced) => {
      const skip = fenced.length > 0 ? new Set(fenced) : null;
      const known = new Set<string>();
      for (const [i, record] of records.entries()) {
        const token = record.token;
        if (token !== undefined) {
          if (known.has(token)) continue;
          if (this.tokens.has(token)) {
            known.add(token);
            continue;
          }
        }
        if (skip !== null && record.taskId !== null && skip.has(record.taskId)) continue;
        this.events.push({
          seq: (this.seq += 1),
          name: record.name,
          payload: payloads[i]!,
          engineId: record.engineId,
          workflowId: record.workflowId,
          taskId: record.taskId,
          at: record.at,
        });
      }
      for (const record of records) if (record.token !== undefined) this.tokens.add(record.token);
      if (this.tokens.size > MAX_TOKENS) {
        for (const token of this.tokens) {
          this.tokens.delete(token);
          if (this.tokens.size <= MAX_TOKENS / 2) break;
        }
      }
      if (this.events.length > this.maxEvents + Math.max(1, Math.floor(this.maxEvents / 10))) {
        this.events = this.events.slice(this.events.length - this.maxEvents);
      }
    };
  }

  read(query: EventQuery): EventPage {
    const after = parseSeqCursor(query.after);
    if (after > this.seq) throw cursorPastEnd(query.after!, String(this.seq));
    const names = query.names === undefined ? null : new Set(query.names);
    const events: StoredEventRecord[] = [];
    if (query.limit > 0) {
      for (let i = this.firstAfter(after); i < this.events.length; i += 1) {
        const event = this.events[i]!;
        if (names !== null && !names.has(event.name)) continue;
        if (query.workflowId !== undefined && event.workflowId !== query.workflowId) continue;
        if (query.taskId !== undefined && event.taskId !== query.taskId) continue;
        const { seq, payload, ...fields } = event;
        events.push({ cursor: String(seq), ...fields, payload: JSON.parse(payload) as object });
        if (events.length === query.limit) break;
      }
    }
    const full = query.limit > 0 && events.length === query.limit;
    const cursor = full ? events.at(-1)!.cursor : String(Math.max(after, this.seq));
    return { events, cursor };
  }

  prune(retention: EventRetention): void {
    const over = Math.max(0, this.events.length - retention.maxEvents);
    this.events = this.events.filter((event, i) => i >= over && event.at >= retention.before);
  }

  /** The index of the first event with a seq above `seq` (binary search: seqs grow). */
  private firstAfter(seq: number): number {
    let low = 0;
    let high = this.events.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.events[mid]!.seq <= seq) low = mid + 1;
      else high = mid;
    }
    return low;
  }
}
