import { DuplicateIdError, InvalidArgumentError } from '../../errors/errors.js';
import type { EntitySpec } from '../entities.js';
import type { Signal, SignalTake, StoredSignal } from '../store.js';
import { dialectStatement, type ControlDialectName, type ControlStatement } from './control-statements.js';
import { decodeJson } from './rows.js';
import type { SqlDialect } from './statements.js';

/**
 * The `signals` table (migration 6) of both dialects: its statements, its rows, and the checks every
 * store makes before it writes a signal. Signals are appended with a growing `seq`; a take marks one
 * as taken by a wait node, only while it is not taken.
 */

/** Names the signals table in row errors; its rows are written by hand, not by spec. */
export const signalSpec: EntitySpec<{ id: string }> = {
  entity: 'signal',
  table: 'signals',
  fields: [],
  unique: [],
};

/** A signal as it is bound: its payload as JSON text. */
export interface SignalValues {
  id: string;
  workflowId: string;
  name: string;
  payload: string;
  sentAt: number;
}

/**
 * The signal's payload as the JSON text the stores keep (`'null'` for none or undefined). Throws
 * INVALID_ARGUMENT for a payload JSON cannot write (a BigInt, a cycle).
 */
export function signalPayloadText(signal: Signal): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(signal.payload ?? null);
  } catch (error) {
    throw new InvalidArgumentError(
      `Expected the payload of signal ${JSON.stringify(signal.id)} to be JSON-serializable, got an error: ${(error as Error).message}`,
      { cause: error, details: { entity: 'signal', id: signal.id } },
    );
  }
  // A function or a Symbol writes nothing: kept as "no payload", as JSON.stringify drops them in objects.
  return text ?? 'null';
}

/** A signal id that is already stored, or comes twice in one batch. */
export function duplicateSignal(id: string): DuplicateIdError {
  return new DuplicateIdError('signal', id);
}

/**
 * The batch's signals ready to bind, checked as the tables' constraints would (NOT NULL text, unique
 * id within the batch); read from the live batch at once (see `Store.commit`).
 */
export function signalValues(signals: readonly Signal[]): SignalValues[] {
  const seen = new Set<string>();
  return signals.map((signal) => {
    for (const field of ['id', 'workflowId', 'name'] as const) {
      if (typeof signal[field] !== 'string') {
        throw new InvalidArgumentError(
          `Expected \`signal.${field}\` to be a string, got ${JSON.stringify(signal[field]) ?? 'undefined'} (signal ${JSON.stringify(signal.id)})`,
          { details: { entity: 'signal', id: signal.id, field } },
        );
      }
    }
    if (typeof signal.sentAt !== 'number' || !Number.isFinite(signal.sentAt)) {
      throw new InvalidArgumentError(
        `Expected \`signal.sentAt\` to be a finite number of epoch milliseconds, got ${String(signal.sentAt)} (signal ${JSON.stringify(signal.id)})`,
        { details: { entity: 'signal', id: signal.id, field: 'sentAt' } },
      );
    }
    if (seen.has(signal.id)) throw duplicateSignal(signal.id);
    seen.add(signal.id);
    return {
      id: signal.id,
      workflowId: signal.workflowId,
      name: signal.name,
      payload: signalPayloadText(signal),
      sentAt: signal.sentAt,
    };
  });
}

/** Copies of the batch's takes, checked (a task id and a finite time). */
export function signalTakes(takes: readonly SignalTake[]): SignalTake[] {
  return takes.map((take) => {
    if (typeof take.signalId !== 'string' || typeof take.taskId !== 'string') {
      throw new InvalidArgumentError(
        `Expected a signal take to name a signal and a task, got ${JSON.stringify({ signalId: take.signalId, taskId: take.taskId })}`,
        { details: { entity: 'signal take' } },
      );
    }
    if (typeof take.at !== 'number' || !Number.isFinite(take.at)) {
      throw new InvalidArgumentError(
        `Expected \`signalTake.at\` to be a finite number of epoch milliseconds, got ${String(take.at)} (signal ${JSON.stringify(take.signalId)})`,
        { details: { entity: 'signal take', id: take.signalId } },
      );
    }
    return { signalId: take.signalId, taskId: take.taskId, at: take.at };
  });
}

/** A `signals` row as the drivers return it (PostgreSQL gives `seq` as a string, payload as text). */
export interface SignalRow {
  seq: number | string;
  id: string;
  workflow_id: string;
  name: string;
  payload: string;
  sent_at: number;
  taken_by: string | null;
  taken_at: number | null;
}

export function toStoredSignal(row: SignalRow): StoredSignal {
  return {
    seq: Number(row.seq),
    id: row.id,
    workflowId: row.workflow_id,
    name: row.name,
    payload: decodeJson(String(row.payload)),
    sentAt: Number(row.sent_at),
    takenBy: row.taken_by,
    takenAt: row.taken_at === null ? null : Number(row.taken_at),
  };
}

/** The signal statements of one dialect; a store builds them once. */
export interface SignalStatements {
  insertSignal: ControlStatement<SignalValues>;
  /** Marks one signal taken, only where it is not taken yet. */
  takeSignal: ControlStatement<SignalTake>;
  selectSignals: ControlStatement<{ workflowId: string }>;
  selectPendingSignals: ControlStatement<{ workflowId: string }>;
}

export function signalStatements(name: ControlDialectName, dialect: SqlDialect): SignalStatements {
  const signals = dialect.table('signals');
  const payload = dialect.jsonAsText ? '"payload"::text AS "payload"' : '"payload"';
  const columns = `"seq", "id", "workflow_id", "name", ${payload}, "sent_at", "taken_by", "taken_at"`;
  const select = (pending: boolean) =>
    dialectStatement<{ workflowId: string }>(
      name,
      dialect,
      (p) =>
        `SELECT ${columns} FROM ${signals} WHERE "workflow_id" = ${p.value('workflowId')}` +
        `${pending ? ' AND "taken_by" IS NULL' : ''} ORDER BY "seq"`,
    );
  return {
    insertSignal: dialectStatement<SignalValues>(
      name,
      dialect,
      (p) =>
        `INSERT INTO ${signals} ("id", "workflow_id", "name", "payload", "sent_at")` +
        ` VALUES (${p.value('id')}, ${p.value('workflowId')}, ${p.value('name')}, ${p.value('payload')}, ${p.value('sentAt')})`,
    ),
    takeSignal: dialectStatement<SignalTake>(
      name,
      dialect,
      (p) =>
        `UPDATE ${signals} SET "taken_by" = ${p.value('taskId')}, "taken_at" = ${p.value('at')}` +
        ` WHERE "id" = ${p.value('signalId')} AND "taken_by" IS NULL`,
    ),
    selectSignals: select(false),
    selectPendingSignals: select(true),
  };
}
