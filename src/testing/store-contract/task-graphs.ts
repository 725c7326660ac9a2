import { describe, expect, it } from 'vitest';
import type { TaskGraph } from '../../domain/task.js';
import type { Workflow } from '../../domain/workflow.js';
import { SymphonyError } from '../../errors/symphony-error.js';
import { SAMPLE_TIME as T0, sampleTask, sampleWorkflow } from '../samples.js';
import { ids, type ContractContext, type StoreContractOptions } from './shared.js';

const GRAPH: TaskGraph = { dependsOn: ['a', 'b'], key: 'k', when: { cel: 'outputs.a.ok' } };

/** The error `promise` rejects with, or fails the test if it resolves. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('Expected the store to refuse the write, but it resolved');
}

/** SKIPPED tasks and a task's place in its workflow's graph; workflows keep their six statuses. */
export function describeTaskGraphs(ctx: ContractContext, options: StoreContractOptions): void {
  describe('SKIPPED tasks and task graphs', () => {
    it('round-trips a SKIPPED task with a graph: create, get, find and count by status', async () => {
      const skipped = sampleTask('s1', { status: 'SKIPPED', graph: GRAPH, finishedAt: T0 + 1 });
      await ctx.store.tasks.create(skipped);
      await ctx.store.commit({ tasks: [sampleTask('p1', { graph: { ...GRAPH, when: { code: true } } })] });
      await expect(ctx.store.tasks.get('s1')).resolves.toEqual(skipped);
      expect((await ctx.store.tasks.get('p1'))?.graph).toEqual({ ...GRAPH, when: { code: true } });
      await expect(ctx.store.tasks.find({ where: { status: 'SKIPPED' } })).resolves.toEqual([skipped]);
      await expect(ctx.store.tasks.count({ status: 'SKIPPED' })).resolves.toBe(1);
    });

    it('keeps a task without a graph as graph null', async () => {
      await ctx.store.commit({ tasks: [sampleTask('t1')] });
      expect((await ctx.store.tasks.get('t1'))?.graph).toBeNull();
    });

    it('moves a task to SKIPPED by a state write and keeps its stored graph', async () => {
      await ctx.store.commit({ tasks: [sampleTask('t1', { graph: GRAPH })] });
      // A state write carries the lifecycle fields only: its graph (here none) is not written.
      await ctx.store.commit({
        taskStates: [sampleTask('t1', { status: 'SKIPPED', finishedAt: T0 + 5, updatedAt: T0 + 5 })],
      });
      const stored = await ctx.store.tasks.get('t1');
      expect(stored).toEqual(
        sampleTask('t1', { status: 'SKIPPED', graph: GRAPH, finishedAt: T0 + 5, updatedAt: T0 + 5 }),
      );
      expect(ids(await ctx.store.tasks.find({ where: { status: 'SKIPPED' } }))).toEqual(['t1']);
    });

    it('inserts a missing row whole, graph included, from a state write', async () => {
      await ctx.store.commit({ taskStates: [sampleTask('t1', { status: 'SKIPPED', graph: GRAPH })] });
      await expect(ctx.store.tasks.get('t1')).resolves.toEqual(
        sampleTask('t1', { status: 'SKIPPED', graph: GRAPH }),
      );
    });

    it('refuses a SKIPPED workflow with INVALID_ARGUMENT naming the six workflow statuses', async () => {
      const bad = sampleWorkflow('w2', { status: 'SKIPPED' as Workflow['status'] });
      for (const write of [
        () => ctx.store.workflows.create(bad),
        () => ctx.store.workflows.saveMany([sampleWorkflow('w1'), bad]),
        () => ctx.store.commit({ workflows: [sampleWorkflow('w1'), bad], tasks: [sampleTask('t1')] }),
      ]) {
        const error = await rejection(write());
        expect(SymphonyError.isInstance(error)).toBe(true);
        expect(error).toMatchObject({
          code: 'INVALID_ARGUMENT',
          details: { entity: 'workflow', field: 'status', id: 'w2', value: 'SKIPPED' },
        });
        expect((error as Error).message).toContain(
          'to be one of PENDING, RUNNING, COMPLETED, FAILED, PAUSED, CANCELLED, got "SKIPPED"',
        );
      }
      await expect(ctx.store.workflows.count()).resolves.toBe(0);
      await expect(ctx.store.tasks.count()).resolves.toBe(0);
    });

    if (options.reopen) {
      const reopen = options.reopen;
      it('keeps SKIPPED tasks and graphs across a reopen', async () => {
        const tasks = [sampleTask('s1', { status: 'SKIPPED', graph: GRAPH }), sampleTask('t2')];
        await ctx.store.commit({ tasks });
        await ctx.store.close();
        ctx.store = await reopen(ctx.store);
        await ctx.store.open();
        await expect(ctx.store.tasks.find()).resolves.toEqual(tasks);
      });
    }
  });
}
