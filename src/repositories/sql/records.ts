import type { EntitySpec } from '../entities.js';
import type { CommandAck, CompletionRecord, StoredBeat, StoredCommand } from '../store.js';

/** Names the control-command table in row errors; its rows are written by hand, not by spec. */
export const commandSpec: EntitySpec<{ id: string }> = {
  entity: 'control command',
  table: 'control_commands',
  fields: [],
  unique: [],
};

/** Names the completion-record table in row errors. */
export const completionSpec: EntitySpec<{ id: string }> = {
  entity: 'completion record',
  table: 'task_completions',
  fields: [],
  unique: [],
};

/** A `task_completions` row as the drivers return it. */
export interface CompletionRow {
  task_id: string;
  execution_id: string;
  attempt: number;
  completed_at: number;
}

export function toCompletionRecord(row: CompletionRow): CompletionRecord {
  return {
    taskId: row.task_id,
    executionId: row.execution_id,
    attempt: Number(row.attempt),
    completedAt: Number(row.completed_at),
  };
}

/** Names the engine-beat and acknowledgement tables in row errors. */
export const beatSpec: EntitySpec<{ id: string }> = {
  entity: 'engine beat',
  table: 'engine_beats',
  fields: [],
  unique: [],
};

export const ackSpec: EntitySpec<{ id: string }> = {
  entity: 'command acknowledgement',
  table: 'command_acks',
  fields: [],
  unique: [],
};

/**
 * An `engine_beats` row as the drivers return it, with `alive` judged by the database's clock
 * (SQLite gives 0/1, PostgreSQL a boolean).
 */
export interface BeatRow {
  engine_id: string;
  beat_at: number;
  expires_at: number;
  stopped: number | boolean;
  alive: number | boolean;
}

export function toStoredBeat(row: BeatRow): StoredBeat {
  return {
    engineId: row.engine_id,
    beatAt: Number(row.beat_at),
    expiresAt: Number(row.expires_at),
    stopped: Boolean(row.stopped),
    alive: Boolean(row.alive),
  };
}

/** A `command_acks` row as the drivers return it. */
export interface AckRow {
  command_id: string;
  engine_id: string;
  applied: number | boolean;
  error: string | null;
  acked_at: number;
}

export function toCommandAck(row: AckRow): CommandAck {
  return {
    commandId: row.command_id,
    engineId: row.engine_id,
    applied: Boolean(row.applied),
    error: row.error,
    ackedAt: Number(row.acked_at),
  };
}

/** A `control_commands` row as the drivers return it (PostgreSQL gives `seq` as a string). */
export interface CommandRow {
  seq: number | string;
  id: string;
  workflow_id: string | null;
  task_id: string | null;
  type: StoredCommand['type'];
  created_at: number;
}

export function toStoredCommand(row: CommandRow): StoredCommand {
  return {
    seq: Number(row.seq),
    id: row.id,
    workflowId: row.workflow_id,
    taskId: row.task_id,
    type: row.type,
    createdAt: Number(row.created_at),
  };
}
