import { describe, expect, it } from 'vitest';
import type { Task } from '../../domain/task.js';
import type { TaskKeyMode } from '../../domain/task-keys.js';
import { SAMPLE_TIME as T0, sampleTask } from '../samples.js';
import type { ContractContext } from './shared.js';

/** Debounce and singleton keys: `Store.takeTaskKey`, for stores that have it. */
export function describeTaskKeys(ctx: ContractContext): void {
  describe('task keys', () => {
    const take = (key: string, taskId: string, mode: TaskKeyMode, at = T0) =>
      ctx.store.takeTaskKey!({ key, taskId, mode, at });
    const save = (...tasks: Task[]) => ctx.store.commit({ tasks });

    it('gives a free key to the asking task, and keeps it for a singleton that skips', async () => {
      if (!ctx.store.takeTaskKey) return;
      await save(sampleTask('a'), sampleTask('b'));
      await expect(take('s', 'a', 'skip')).resolves.toEqual({
        taken: true,
        replaced: null,
        holder: null,
        since: T0,
      });
      await expect(take('s', 'b', 'skip', T0 + 5)).resolves.toEqual({
        taken: false,
        replaced: null,
        holder: 'a',
        since: T0,
      });
      // A finished holder leaves the key free.
      await save(sampleTask('a', { status: 'COMPLETED' }));
      await expect(take('s', 'b', 'skip', T0 + 9)).resolves.toEqual({
        taken: true,
        replaced: null,
        holder: null,
        since: T0 + 9,
      });
    });

    it('replaces a running holder for cancel, and only a queued one for debounce', async () => {
      if (!ctx.store.takeTaskKey) return;
      await save(sampleTask('a', { status: 'RUNNING', attempts: 1 }), sampleTask('b'), sampleTask('c'));
      await take('c1', 'a', 'cancel');
      await expect(take('c1', 'b', 'cancel', T0 + 1)).resolves.toMatchObject({ taken: true, replaced: 'a' });
      await take('d1', 'a', 'debounce');
      // A started holder runs on; the new task holds the key from now.
      await expect(take('d1', 'b', 'debounce', T0 + 2)).resolves.toEqual({
        taken: true,
        replaced: null,
        holder: null,
        since: T0 + 2,
      });
      // A queued holder is replaced, and the burst keeps its start (for maxWaitMs).
      await expect(take('d1', 'c', 'debounce', T0 + 3)).resolves.toEqual({
        taken: true,
        replaced: 'b',
        holder: null,
        since: T0 + 2,
      });
    });

    it('gives one key to one of many tasks asking at once', async () => {
      if (!ctx.store.takeTaskKey) return;
      const ids = ['t0', 't1', 't2', 't3', 't4', 't5'];
      await save(...ids.map((id) => sampleTask(id)));
      const outcomes = await Promise.all(ids.map((id) => take('one', id, 'skip')));
      const winners = outcomes.filter((o) => o.taken);
      expect(winners).toHaveLength(1);
      const winner = ids[outcomes.indexOf(winners[0]!)];
      for (const o of outcomes) if (!o.taken) expect(o.holder).toBe(winner);
    });
  });
}
