import { decodeJson } from '../sql/rows.js';
import { duplicateSignal, signalTakes, signalValues, type SignalValues } from '../sql/signals.js';
import type { StoreBatch, StoredSignal } from '../store.js';

/** A kept signal: its payload as the JSON text the SQL stores keep, parsed anew for each read. */
interface SignalEntry extends SignalValues {
  seq: number;
  takenBy: string | null;
  takenAt: number | null;
}

/**
 * The signals of an in-process store, numbered as they arrive, with the same checks as the SQL
 * stores' `signals` table: a known id fails the batch, a taken signal is never taken again.
 */
export class SignalLog {
  private readonly byId = new Map<string, SignalEntry>();
  private readonly byWorkflow = new Map<string, SignalEntry[]>();
  private seq = 0;

  /**
   * Checks and copies the batch's signals and takes at once, and returns the function that writes
   * them (signals first, then takes), so that a store can check everything before writing any of it.
   */
  prepare(batch: StoreBatch): () => void {
    const signals = signalValues(batch.signals ?? []);
    for (const signal of signals) if (this.byId.has(signal.id)) throw duplicateSignal(signal.id);
    const takes = signalTakes(batch.signalTakes ?? []);
    return () => {
      // Checked again: an in-process store of replaced repositories awaits between the two steps.
      for (const signal of signals) if (this.byId.has(signal.id)) throw duplicateSignal(signal.id);
      for (const signal of signals) {
        const entry: SignalEntry = { ...signal, seq: (this.seq += 1), takenBy: null, takenAt: null };
        this.byId.set(entry.id, entry);
        const list = this.byWorkflow.get(entry.workflowId);
        if (list) list.push(entry);
        else this.byWorkflow.set(entry.workflowId, [entry]);
      }
      for (const take of takes) {
        const entry = this.byId.get(take.signalId);
        if (entry === undefined || entry.takenBy !== null) continue;
        entry.takenBy = take.taskId;
        entry.takenAt = take.at;
      }
    };
  }

  /** See `Store.signals`. */
  list(workflowId: string, pending: boolean): StoredSignal[] {
    const found: StoredSignal[] = [];
    for (const entry of this.byWorkflow.get(workflowId) ?? []) {
      if (pending && entry.takenBy !== null) continue;
      found.push({
        seq: entry.seq,
        id: entry.id,
        workflowId: entry.workflowId,
        name: entry.name,
        payload: decodeJson(entry.payload),
        sentAt: entry.sentAt,
        takenBy: entry.takenBy,
        takenAt: entry.takenAt,
      });
    }
    return found;
  }
}
