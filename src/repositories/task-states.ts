import type { Task } from '../domain/task.js';
import { TASK_STATE_FIELDS, mayChangeState } from './entities.js';
import { passesFence, type TaskFence } from './store.js';

/**
 * The rows a batch's state writes (`StoreBatch.taskStates`) leave, for stores that write whole rows:
 * each stored row with the lifecycle fields of its state write, or the state write itself when no
 * row is stored. A write that would move a COMPLETED row elsewhere is left out, and so is a fenced
 * write whose fence the stored row does not pass; `fenced` lists the fenced writes left out.
 */
export function rowsAfterStates(
  states: readonly Task[],
  stored: (id: string) => Task | undefined,
  fences?: ReadonlyMap<string, TaskFence>,
): { rows: Task[]; fenced: string[] } {
  const rows: Task[] = [];
  const fenced: string[] = [];
  for (const state of states) {
    const row = stored(state.id);
    if (row === undefined) {
      rows.push(state);
      continue;
    }
    const fence = fences?.get(state.id);
    if (!mayChangeState(row, state) || !passesFence(row, fence)) {
      if (fence) fenced.push(state.id);
      continue;
    }
    const merged: Record<string, unknown> = { ...row };
    for (const field of TASK_STATE_FIELDS) merged[field] = state[field];
    rows.push(merged as unknown as Task);
  }
  return { rows, fenced };
}
