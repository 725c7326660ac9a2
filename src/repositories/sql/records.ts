import type { EntitySpec } from '../entities.js';
import type { CompletionRecord } from '../store.js';

/** Names the control-command table in row errors; its rows are written by hand, not by spec. */
export const commandSpec: EntitySpec<{ id: string }> = {
  entity: 'control command',
  table: 'workflow_commands',
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
