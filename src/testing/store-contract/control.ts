import { describe, expect, it } from 'vitest';
import { SAMPLE_TIME as T0, sampleTask } from '../samples.js';
import { codeOf, ids, type ContractContext } from './shared.js';

/** Control records: commands, their acknowledgements, engine beats. */
export function describeControl(ctx: ContractContext): void {
  describe('control commands', () => {
    const command = (
      id: string,
      type: 'PAUSE' | 'RESUME' | 'CANCEL' = 'PAUSE',
      target: { workflowId: string | null; taskId: string | null } = { workflowId: 'w1', taskId: null },
    ) => ({ id, ...target, type, createdAt: T0 });

    it('appends commands with growing seq, reads them after a seq, and skips an id already stored', async () => {
      await expect(ctx.store.latestCommandSeq()).resolves.toBe(0);
      await ctx.store.commit({ commands: [command('c1'), command('c2', 'RESUME')] });
      await ctx.store.commit({ commands: [command('c1', 'CANCEL'), command('c3', 'CANCEL')] });
      const all = await ctx.store.commandsAfter(0);
      expect(all.map(({ seq: _seq, ...rest }) => rest)).toEqual([
        command('c1'),
        command('c2', 'RESUME'),
        command('c3', 'CANCEL'),
      ]);
      const seqs = all.map((c) => c.seq);
      expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
      expect(new Set(seqs).size).toBe(3);
      await expect(ctx.store.latestCommandSeq()).resolves.toBe(seqs[2]);
      expect(ids(await ctx.store.commandsAfter(seqs[0] as number))).toEqual(['c2', 'c3']);
      expect(ids(await ctx.store.commandsAfter(0, 1))).toEqual(['c1']);
    });

    it('keeps task commands, with or without a workflow, and refuses a command with no target', async () => {
      const forTask = command('c1', 'CANCEL', { workflowId: null, taskId: 't1' });
      const inWorkflow = command('c2', 'PAUSE', { workflowId: 'w1', taskId: 't2' });
      await ctx.store.commit({ commands: [forTask, inWorkflow] });
      expect((await ctx.store.commandsAfter(0)).map(({ seq: _seq, ...rest }) => rest)).toEqual([
        forTask,
        inWorkflow,
      ]);
      const nowhere = command('c3', 'PAUSE', { workflowId: null, taskId: null });
      expect(await codeOf(ctx.store.commit({ commands: [nowhere] }))).toBe('INVALID_ARGUMENT');
      expect(ids(await ctx.store.commandsAfter(0))).toEqual(['c1', 'c2']);
    });

    it('writes nothing of a batch with a command of unknown type', async () => {
      const bad = { ...command('c2'), type: 'STOP' as 'PAUSE' };
      expect(
        await codeOf(ctx.store.commit({ tasks: [sampleTask('t1')], commands: [command('c1'), bad] })),
      ).toBe('INVALID_ARGUMENT');
      await expect(ctx.store.commandsAfter(0)).resolves.toEqual([]);
      await expect(ctx.store.tasks.count()).resolves.toBe(0);
    });

    it("keeps the last beat of each engine, stamped and judged alive by the store's clock", async () => {
      const beat = (engineId: string, ttlMs: number, stopped = false) => ({ engineId, ttlMs, stopped });
      await expect(ctx.store.engineBeats()).resolves.toEqual([]);
      await ctx.store.commit({ beats: [beat('e2', 60_000), beat('e1', 60_000)] });
      const first = await ctx.store.engineBeats();
      await ctx.store.commit({ beats: [beat('e1', 3_600_000.5), beat('e2', 60_000, true), beat('e3', 0)] });
      const beats = await ctx.store.engineBeats();
      expect(
        beats.map(({ engineId, stopped, alive, beatAt, expiresAt }) => ({
          engineId,
          stopped,
          alive,
          ttlMs: expiresAt - beatAt,
        })),
      ).toEqual([
        { engineId: 'e1', stopped: false, alive: true, ttlMs: 3_600_000.5 },
        // A stop is never alive; a beat whose time is up is not either (read after it was written).
        { engineId: 'e2', stopped: true, alive: false, ttlMs: 60_000 },
        { engineId: 'e3', stopped: false, alive: false, ttlMs: 0 },
      ]);
      // The beat carries no time: the store stamps it, in epoch ms, with a clock that does not go back.
      expect(beats[0]!.beatAt).toBeGreaterThanOrEqual(first[0]!.beatAt);
      expect(Math.abs(beats[0]!.beatAt - Date.now())).toBeLessThan(3_600_000);
    });

    it("keeps each engine's first acknowledgement of a command", async () => {
      const ack = (engineId: string, applied: boolean, ackedAt: number, error: string | null = null) => ({
        commandId: 'c1',
        engineId,
        applied,
        error,
        ackedAt,
      });
      await ctx.store.commit({ commands: [command('c1')], acks: [ack('e1', false, T0)] });
      await ctx.store.commit({
        acks: [
          ack('e2', true, T0 + 1, "Task t1 is RUNNING; 'PAUSE' is not allowed"),
          ack('e1', true, T0 + 2),
        ],
      });
      await expect(ctx.store.commandAcks('c1')).resolves.toEqual([
        ack('e1', false, T0),
        ack('e2', true, T0 + 1, "Task t1 is RUNNING; 'PAUSE' is not allowed"),
      ]);
      await expect(ctx.store.commandAcks('c2')).resolves.toEqual([]);
    });

    it('claims unfinished tasks that are free, held by this engine or by an engine named dead, and only those', async () => {
      await ctx.store.commit({
        tasks: [
          sampleTask('done', { status: 'COMPLETED', leaseOwner: 'gone' }),
          sampleTask('failed', { status: 'FAILED' }),
          sampleTask('free'),
          sampleTask('mine', { leaseOwner: 'e1' }),
          sampleTask('dead', { leaseOwner: 'gone' }),
          sampleTask('alive', { leaseOwner: 'e2' }),
        ],
      });
      const claimed = await ctx.store.claimTasks(
        ['free', 'mine', 'dead', 'alive', 'missing', 'done', 'failed'],
        'e1',
        ['gone'],
      );
      expect([...claimed].sort()).toEqual(['dead', 'free', 'mine']);
      // A finished row keeps its lease as it was: recovery never takes it over.
      expect((await ctx.store.tasks.get('done'))?.leaseOwner).toBe('gone');
      expect((await ctx.store.tasks.get('dead'))?.leaseOwner).toBe('e1');
      expect((await ctx.store.tasks.get('alive'))?.leaseOwner).toBe('e2');
      // A second engine claiming the same tasks now gets none of them.
      await expect(ctx.store.claimTasks(['free', 'dead'], 'e3', ['gone'])).resolves.toEqual([]);
      await expect(ctx.store.claimTasks([], 'e1', [])).resolves.toEqual([]);
    });

    it('prunes old control records, keeping the newest command so that seq keeps growing', async () => {
      const at = (id: string, createdAt: number) => ({ ...command(id), createdAt });
      const ack = (commandId: string) => ({
        commandId,
        engineId: 'e1',
        applied: false,
        error: null,
        ackedAt: T0,
      });
      const day = 24 * 3_600_000;
      await ctx.store.commit({
        commands: [at('old', T0), at('older', T0 + 1), at('newest', T0 + 2)],
        acks: [ack('old'), ack('newest')],
        beats: [
          { engineId: 'ended', ttlMs: 0, stopped: true },
          { engineId: 'vanished', ttlMs: 0, stopped: false },
          { engineId: 'alive', ttlMs: 10 * day, stopped: false },
        ],
      });
      await ctx.store.pruneControl(T0 + 50_000);
      const left = await ctx.store.commandsAfter(0);
      expect(ids(left)).toEqual(['newest']);
      await expect(ctx.store.commandAcks('old')).resolves.toEqual([]);
      await expect(ctx.store.commandAcks('newest')).resolves.toHaveLength(1);
      // Beats are stamped by the store's clock (now): those that expired before a day from now go.
      expect((await ctx.store.engineBeats()).map((b) => b.engineId)).toEqual(['alive', 'ended', 'vanished']);
      await ctx.store.pruneControl(Date.now() + day);
      expect((await ctx.store.engineBeats()).map((b) => b.engineId)).toEqual(['alive']);
      expect(ids(await ctx.store.commandsAfter(0))).toEqual(['newest']);
      await ctx.store.commit({ commands: [at('next', T0 + 3)] });
      const after = await ctx.store.commandsAfter(left[0]!.seq);
      expect(ids(after)).toEqual(['next']);
    });
  });
}
