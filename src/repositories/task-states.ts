import type { Task } from '../domain/task.js';
import { TASK_STATE_FIELDS, mayChangeState } from './entities.js';

/**
 * The rows a batch's state writes (`StoreBatch.taskStates`) leave, for stores that write whole rows:
 * each stored row with the lifecycle fields of its state write, or the state write itself when no
 * row is stored. A write that would move a COMPLETED row elsewhere is left out.
 */
export function rowsAfterStates(states: readonly Task[], stored: (id: string) => Task | undefined): Task[] {
  const rows: Task[] = [];
  for (const state of states) {
    const row = stored(state.id);
    if (row === undefined) {
      rows.push(state);
      continue;
    }
    if (!mayChangeState(row, state)) continue;
    const merged: Record<string, unknown> = { ...row };
    for (const field of TASK_STATE_FIELDS) merged[field] = state[field];
    rows.push(merged as unknown as Task);
  }
  return rows;
}
