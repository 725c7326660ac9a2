import { describe, expect, it } from 'vitest';
import { SAMPLE_TIME as T0, sampleAgentConfig, sampleTask, sampleWorkflow } from '../samples.js';
import type { Task } from '../../domain/task.js';
import type { Workflow } from '../../domain/workflow.js';
import type { TaskFence } from '../../repositories/store.js';
import { sampleEvent } from './events.js';
import { codeOf, ids, type ContractContext } from './shared.js';

/** Batches: all or nothing, completion records once per task, idempotency keys. */
export function describeCommits(ctx: ContractContext): void {
  describe('commit', () => {
    it('writes the tasks, workflows, agent configs and completion records of a batch', async () => {
      await ctx.store.commit({
        tasks: [sampleTask('t1', { status: 'COMPLETED' })],
        workflows: [sampleWorkflow('w1')],
        agentConfigs: [sampleAgentConfig('a1')],
        completions: [{ taskId: 't1', executionId: 'e1', attempt: 1, completedAt: T0 + 5 }],
      });
      expect((await ctx.store.tasks.get('t1'))?.status).toBe('COMPLETED');
      await expect(ctx.store.workflows.get('w1')).resolves.toEqual(sampleWorkflow('w1'));
      await expect(ctx.store.agentConfigs.get('a1')).resolves.toEqual(sampleAgentConfig('a1'));
      await expect(ctx.store.completions('t1')).resolves.toEqual([
        { taskId: 't1', executionId: 'e1', attempt: 1, completedAt: T0 + 5 },
      ]);
    });

    it('accepts an empty batch and changes nothing', async () => {
      await ctx.store.commit({});
      await ctx.store.commit({ tasks: [], workflows: [], agentConfigs: [], completions: [] });
      await expect(ctx.store.tasks.count()).resolves.toBe(0);
      await expect(ctx.store.completions()).resolves.toEqual([]);
    });

    it('keeps the latest version of a row written twice in one batch', async () => {
      await ctx.store.commit({
        tasks: [sampleTask('t1', { attempts: 1 }), sampleTask('t1', { attempts: 2 })],
      });
      expect((await ctx.store.tasks.get('t1'))?.attempts).toBe(2);
      await expect(ctx.store.tasks.count()).resolves.toBe(1);
    });

    it('writes a large batch in order: each row once, its last version, in the place of its first', async () => {
      await ctx.store.commit({ tasks: [sampleTask('t-50', { attempts: 9 })] });
      const batch = Array.from({ length: 101 }, (_, i) => sampleTask(`t-${i}`, { attempts: 1 }));
      batch.push(sampleTask('t-3', { attempts: 2 }), sampleTask('t-70', { attempts: 2 }));
      batch.push(sampleTask('t-3', { attempts: 3 }));
      await ctx.store.commit({ tasks: batch });
      const rows = await ctx.store.tasks.find();
      const order = [
        't-50',
        ...Array.from({ length: 101 }, (_, i) => `t-${i}`).filter((id) => id !== 't-50'),
      ];
      expect(ids(rows)).toEqual(order);
      const attempts = new Map(rows.map((row) => [row.id, row.attempts]));
      expect([attempts.get('t-3'), attempts.get('t-70'), attempts.get('t-50'), attempts.get('t-0')]).toEqual([
        3, 2, 1, 1,
      ]);
    });

    it('lets a later row of a batch take the idempotency key an earlier row gave up', async () => {
      await ctx.store.commit({ tasks: [sampleTask('k1', { idempotencyKey: 'x' })] });
      const fillers = Array.from({ length: 20 }, (_, i) => sampleTask(`f-${i}`));
      await ctx.store.commit({
        tasks: [
          sampleTask('k1', { idempotencyKey: null }),
          ...fillers,
          sampleTask('k2', { idempotencyKey: 'x' }),
          sampleTask('k3', { idempotencyKey: 'y' }),
        ],
      });
      expect(ids(await ctx.store.tasks.find({ where: { idempotencyKey: 'x' } }))).toEqual(['k2']);
      expect(ids(await ctx.store.tasks.find({ where: { idempotencyKey: 'y' } }))).toEqual(['k3']);
      await expect(ctx.store.tasks.count()).resolves.toBe(23);
    });

    it('writes nothing of a batch in which one row breaks a constraint', async () => {
      await ctx.store.commit({ tasks: [sampleTask('old', { attempts: 1 })] });
      const invalid = sampleTask('t2', { status: 'BOGUS' as Task['status'] });
      const code = await codeOf(
        ctx.store.commit({
          agentConfigs: [sampleAgentConfig('a1')],
          workflows: [sampleWorkflow('w1')],
          tasks: [sampleTask('old', { attempts: 2 }), sampleTask('t1'), invalid],
          completions: [{ taskId: 't1', executionId: 'e1', attempt: 1, completedAt: T0 }],
        }),
      );
      expect(code).toBe('INVALID_ARGUMENT');
      expect(await ctx.store.tasks.find()).toEqual([sampleTask('old', { attempts: 1 })]);
      await expect(ctx.store.workflows.count()).resolves.toBe(0);
      await expect(ctx.store.agentConfigs.count()).resolves.toBe(0);
      await expect(ctx.store.completions()).resolves.toEqual([]);
    });

    it('saveMany writes nothing when one row breaks a constraint', async () => {
      const bad = sampleWorkflow('w2', { status: 'DONE' as Workflow['status'] });
      expect(await codeOf(ctx.store.workflows.saveMany([sampleWorkflow('w1'), bad]))).toBe(
        'INVALID_ARGUMENT',
      );
      await expect(ctx.store.workflows.count()).resolves.toBe(0);
    });

    it('keeps one completion record per task, the first, within a batch and across batches', async () => {
      const first = { taskId: 't1', executionId: 'e1', attempt: 1, completedAt: T0 };
      await ctx.store.commit({
        tasks: [sampleTask('t1', { status: 'COMPLETED' })],
        completions: [first, { ...first, executionId: 'e2', attempt: 2 }],
      });
      await ctx.store.commit({ completions: [{ ...first, executionId: 'e3', attempt: 3 }] });
      await expect(ctx.store.completions('t1')).resolves.toEqual([first]);
      await expect(ctx.store.completions()).resolves.toEqual([first]);
    });

    it('lists the completion records of one task or of all, in the order written', async () => {
      const record = (taskId: string, completedAt: number) => ({
        taskId,
        executionId: `e-${taskId}`,
        attempt: 1,
        completedAt,
      });
      const done = (id: string) => sampleTask(id, { status: 'COMPLETED' });
      await ctx.store.commit({
        tasks: [done('t1'), done('t2')],
        completions: [record('t2', 2), record('t1', 1)],
      });
      await ctx.store.commit({ tasks: [done('t3')], completions: [record('t3', 3)] });
      await expect(ctx.store.completions()).resolves.toEqual([
        record('t2', 2),
        record('t1', 1),
        record('t3', 3),
      ]);
      await expect(ctx.store.completions('t3')).resolves.toEqual([record('t3', 3)]);
      await expect(ctx.store.completions('none')).resolves.toEqual([]);
    });

    it('keeps a completion record only for a task that is COMPLETED once the batch is written', async () => {
      const record = (taskId: string) => ({
        taskId,
        executionId: `e-${taskId}`,
        attempt: 1,
        completedAt: T0,
      });
      await ctx.store.commit({ tasks: [sampleTask('running', { status: 'RUNNING' })] });
      // Not COMPLETED (stored or in the batch), missing, or completed by a state write of the batch.
      await ctx.store.commit({
        tasks: [sampleTask('cancelled', { status: 'CANCELLED' })],
        taskStates: [sampleTask('running', { status: 'COMPLETED', attempts: 1 })],
        completions: [record('cancelled'), record('missing'), record('running')],
      });
      await expect(ctx.store.completions()).resolves.toEqual([record('running')]);
    });

    // A batch of state writes and completion records alone (with or without events) is the
    // commit of a busy engine; PostgreSQL writes it as one statement (state-writes.ts).
    for (const withEvents of [false, true]) {
      it(`keeps the same completion rule for a batch of state writes and records alone${withEvents ? ', with events' : ''}`, async () => {
        const record = (taskId: string) => ({
          taskId,
          executionId: `e-${taskId}`,
          attempt: 1,
          completedAt: T0,
        });
        await ctx.store.commit({
          tasks: [
            sampleTask('running', { status: 'RUNNING', leaseOwner: 'e1' }),
            sampleTask('done', { status: 'COMPLETED' }),
            sampleTask('pending', { status: 'PENDING' }),
            sampleTask('taken', { status: 'RUNNING', leaseOwner: 'e2' }),
            sampleTask('started', { status: 'PENDING' }),
            sampleTask('stored-done', { status: 'COMPLETED' }),
          ],
        });
        const states = [
          sampleTask('running', { status: 'COMPLETED', attempts: 1, leaseOwner: null }),
          sampleTask('done', { status: 'CANCELLED' }), // refused: a COMPLETED task stays COMPLETED
          sampleTask('missing', { status: 'COMPLETED', attempts: 1 }), // inserted whole
          sampleTask('taken', { status: 'COMPLETED', attempts: 1, leaseOwner: null }), // fenced out
          sampleTask('started', { status: 'RUNNING', attempts: 1 }),
        ];
        const result = await ctx.store.commit({
          taskStates: states,
          fences: new Map<string, TaskFence>([['taken', { holder: 'e1' }]]),
          completions: ['running', 'done', 'missing', 'taken', 'started', 'stored-done', 'pending'].map(
            record,
          ),
          ...(withEvents ? { events: states.map((task) => sampleEvent(task.id)) } : {}),
        });
        expect(result?.fenced ?? []).toEqual(['taken']);
        const stored = (await ctx.store.completions()).map((r) => r.taskId).sort();
        expect(stored).toEqual(['done', 'missing', 'running', 'stored-done']);
        const rows = new Map((await ctx.store.tasks.find()).map((task) => [task.id, task.status]));
        expect(Object.fromEntries(rows)).toMatchObject({
          running: 'COMPLETED',
          done: 'COMPLETED',
          missing: 'COMPLETED',
          taken: 'RUNNING',
          started: 'RUNNING',
          pending: 'PENDING',
        });
        // Again (a commit retried after its reply was lost): nothing changes, nothing doubles.
        await ctx.store.commit({ taskStates: states.slice(0, 1), completions: [record('running')] });
        expect((await ctx.store.completions()).map((r) => r.taskId).sort()).toEqual(stored);
      });
    }

    it('writes only the lifecycle fields of a state write, and inserts a missing row whole', async () => {
      await ctx.store.commit({ tasks: [sampleTask('t1', { name: 'stored name', status: 'PENDING' })] });
      await ctx.store.commit({
        taskStates: [
          sampleTask('t1', {
            name: 'ignored',
            status: 'RUNNING',
            attempts: 1,
            leaseOwner: 'e1',
            startedAt: T0,
          }),
          sampleTask('t2', { name: 'new row', status: 'RUNNING', attempts: 1 }),
        ],
      });
      const [t1, t2] = await ctx.store.tasks.getMany(['t1', 't2']);
      expect(t1).toMatchObject({
        name: 'stored name',
        status: 'RUNNING',
        attempts: 1,
        leaseOwner: 'e1',
        startedAt: T0,
      });
      expect(t2).toMatchObject({ name: 'new row', status: 'RUNNING', attempts: 1 });
    });

    it('never moves a COMPLETED task elsewhere by a state write; a whole-row write still can', async () => {
      await ctx.store.commit({
        tasks: [
          sampleTask('t1', { status: 'COMPLETED', outputData: { v: 1 } }),
          sampleTask('t2', { status: 'COMPLETED' }),
        ],
      });
      await ctx.store.commit({
        taskStates: [
          sampleTask('t1', { status: 'CANCELLED', outputData: null }),
          sampleTask('t2', { status: 'COMPLETED', attempts: 2 }),
        ],
      });
      const [t1, t2] = await ctx.store.tasks.getMany(['t1', 't2']);
      expect(t1).toMatchObject({ status: 'COMPLETED', outputData: { v: 1 } });
      expect(t2).toMatchObject({ status: 'COMPLETED', attempts: 2 });
    });

    it('applies a fenced state write only where the stored holder passes its fence, and reports the others', async () => {
      await ctx.store.commit({
        tasks: [
          sampleTask('mine', { status: 'RUNNING', attempts: 1, leaseOwner: 'e1' }),
          sampleTask('taken', { status: 'RUNNING', attempts: 2, leaseOwner: 'e2', outputData: null }),
          sampleTask('free', { leaseOwner: null }),
          sampleTask('dead', { leaseOwner: 'gone' }),
          sampleTask('grabbed', { leaseOwner: 'e2' }),
          sampleTask('done', { status: 'COMPLETED', leaseOwner: null, outputData: { by: 'e2' } }),
          sampleTask('unfenced', { leaseOwner: 'e2' }),
        ],
      });
      const held: TaskFence = { holder: 'e1' };
      const result = await ctx.store.commit({
        taskStates: [
          sampleTask('mine', {
            status: 'COMPLETED',
            attempts: 1,
            leaseOwner: null,
            outputData: { by: 'e1' },
          }),
          sampleTask('taken', {
            status: 'COMPLETED',
            attempts: 1,
            leaseOwner: null,
            outputData: { by: 'e1' },
          }),
          sampleTask('free', { status: 'PENDING', leaseOwner: 'e1', attempts: 0 }),
          sampleTask('dead', { status: 'PENDING', leaseOwner: 'e1' }),
          sampleTask('grabbed', { status: 'PENDING', leaseOwner: 'e1' }),
          sampleTask('done', { status: 'COMPLETED', leaseOwner: null, outputData: { by: 'e1' } }),
          sampleTask('unfenced', { status: 'RUNNING', leaseOwner: 'e1' }),
          sampleTask('missing', { status: 'PENDING', leaseOwner: 'e1' }),
        ],
        fences: new Map<string, TaskFence>([
          ['mine', held],
          ['taken', held],
          ['free', { holder: 'e1', takenFrom: null }],
          ['dead', { holder: 'e1', takenFrom: 'gone' }],
          ['grabbed', { holder: 'e1', takenFrom: null }],
          ['done', held],
          ['missing', held],
        ]),
      });
      expect([...(result?.fenced ?? [])].sort()).toEqual(['done', 'grabbed', 'taken']);
      const rows = new Map((await ctx.store.tasks.find()).map((task) => [task.id, task]));
      expect(rows.get('mine')).toMatchObject({ status: 'COMPLETED', outputData: { by: 'e1' } });
      expect(rows.get('taken')).toMatchObject({ status: 'RUNNING', attempts: 2, leaseOwner: 'e2' });
      expect(rows.get('free')?.leaseOwner).toBe('e1');
      expect(rows.get('dead')?.leaseOwner).toBe('e1');
      expect(rows.get('grabbed')?.leaseOwner).toBe('e2');
      expect(rows.get('done')?.outputData).toEqual({ by: 'e2' });
      expect(rows.get('unfenced')).toMatchObject({ status: 'RUNNING', leaseOwner: 'e1' });
      expect(rows.get('missing')?.leaseOwner).toBe('e1');
    });

    it('allows many tasks without an idempotency key but one task per key (INVALID_STATE)', async () => {
      await ctx.store.commit({
        tasks: [sampleTask('t1'), sampleTask('t2'), sampleTask('k1', { idempotencyKey: 'key' })],
      });
      expect(await codeOf(ctx.store.tasks.create(sampleTask('k2', { idempotencyKey: 'key' })))).toBe(
        'INVALID_STATE',
      );
      expect(
        await codeOf(
          ctx.store.commit({ tasks: [sampleTask('t3'), sampleTask('k3', { idempotencyKey: 'key' })] }),
        ),
      ).toBe('INVALID_STATE');
      await expect(ctx.store.tasks.count()).resolves.toBe(3);
      expect(ids(await ctx.store.tasks.find({ where: { idempotencyKey: 'key' } }))).toEqual(['k1']);
      await ctx.store.commit({ tasks: [sampleTask('k1', { idempotencyKey: 'key', attempts: 1 })] });
      expect((await ctx.store.tasks.get('k1'))?.attempts).toBe(1);
    });
  });
}
