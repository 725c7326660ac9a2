import { describe, expect, it } from 'vitest';
import type { TaskKeyMode } from '../../domain/task-keys.js';
import { SAMPLE_TIME as T0, sampleTask, sampleWorkflow } from '../samples.js';
import type { ContractContext } from './shared.js';

/** Debounce and singleton keys held by workflows: `Store.takeWorkflowKey`, for stores that have it. */
export function describeWorkflowKeys(ctx: ContractContext): void {
  describe('workflow keys', () => {
    const take = (key: string, workflowId: string, mode: TaskKeyMode, at = T0) =>
      ctx.store.takeWorkflowKey!({ key, workflowId, mode, at });
    const workflows = (...ids: string[]) =>
      ctx.store.commit({
        workflows: ids.map((id) => sampleWorkflow(id)),
        tasks: ids.map((id) => sampleTask(`${id}-t`, { workflowId: id })),
      });

    it('keeps a key for an unfinished workflow, frees it once the workflow ended or was cancelled', async () => {
      if (!ctx.store.takeWorkflowKey) return;
      await workflows('a', 'b', 'c');
      await expect(take('s', 'a', 'skip')).resolves.toEqual({
        taken: true,
        replaced: null,
        holder: null,
        since: T0,
      });
      await expect(take('s', 'b', 'skip', T0 + 5)).resolves.toMatchObject({ taken: false, holder: 'a' });
      await ctx.store.commit({ workflows: [sampleWorkflow('a', { cancelled: true })] });
      await expect(take('s', 'b', 'skip', T0 + 6)).resolves.toMatchObject({ taken: true, since: T0 + 6 });
      await ctx.store.commit({ workflows: [sampleWorkflow('b', { status: 'COMPLETED' })] });
      await expect(take('s', 'c', 'skip', T0 + 7)).resolves.toMatchObject({ taken: true, replaced: null });
      expect(await ctx.store.workflowKeyHolder!('s')).toBe('c');
    });

    it('replaces a workflow none of whose tasks started for debounce, and a started one only for cancel', async () => {
      if (!ctx.store.takeWorkflowKey) return;
      await workflows('a', 'b', 'c', 'd');
      await take('d1', 'a', 'debounce');
      await expect(take('d1', 'b', 'debounce', T0 + 1)).resolves.toEqual({
        taken: true,
        replaced: 'a',
        holder: null,
        since: T0,
      });
      // A task of b has started an attempt: b runs on, c holds the key from now.
      await ctx.store.commit({
        tasks: [sampleTask('b-t', { workflowId: 'b', status: 'RUNNING', attempts: 1 })],
      });
      await expect(take('d1', 'c', 'debounce', T0 + 2)).resolves.toEqual({
        taken: true,
        replaced: null,
        holder: null,
        since: T0 + 2,
      });
      await take('c1', 'b', 'cancel');
      await expect(take('c1', 'd', 'cancel', T0 + 3)).resolves.toMatchObject({ taken: true, replaced: 'b' });
    });

    it('keeps workflow keys apart from task keys of the same name', async () => {
      if (!ctx.store.takeWorkflowKey || !ctx.store.takeTaskKey) return;
      await workflows('w');
      await ctx.store.commit({ tasks: [sampleTask('t')] });
      await take('singleton:same', 'w', 'skip');
      await expect(
        ctx.store.takeTaskKey({ key: 'singleton:same', taskId: 't', mode: 'skip', at: T0 }),
      ).resolves.toMatchObject({ taken: true, holder: null });
      expect(await ctx.store.taskKeyHolder!('singleton:same')).toBe('t');
      expect(await ctx.store.workflowKeyHolder!('singleton:same')).toBe('w');
    });

    it('gives one key to one of many workflows asking at once', async () => {
      if (!ctx.store.takeWorkflowKey) return;
      const ids = ['w0', 'w1', 'w2', 'w3', 'w4', 'w5'];
      await workflows(...ids);
      const outcomes = await Promise.all(ids.map((id) => take('one', id, 'skip')));
      const winners = outcomes.filter((o) => o.taken);
      expect(winners).toHaveLength(1);
      const winner = ids[outcomes.indexOf(winners[0]!)];
      for (const o of outcomes) if (!o.taken) expect(o.holder).toBe(winner);
    });
  });
}
