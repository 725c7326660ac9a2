import { describe, expect, it } from 'vitest';
import { SAMPLE_TIME as T0, sampleAgentConfig, sampleTask, sampleWorkflow } from '../samples.js';
import { HOSTILE_STRINGS, pollutingPayload, type ContractContext } from './shared.js';
import type { StoreContractOptions } from './shared.js';

/** Data kept verbatim: live rows read at commit, hostile strings, JSON, large payloads, reopen. */
export function describeVerbatim(ctx: ContractContext, options: StoreContractOptions): void {
  describe('data kept verbatim', () => {
    it('stores the rows as they were when commit was called, though they change before it settles', async () => {
      const task = sampleTask('t1', { status: 'RUNNING', attempts: 1, errors: [] });
      const workflow = sampleWorkflow('w1', { status: 'RUNNING' });
      const committing = ctx.store.commit({ tasks: [task], workflows: [workflow] });
      // The engine's rows are live: they move on while the commit is in flight.
      task.status = 'COMPLETED';
      task.attempts = 2;
      task.errors.push({ name: 'Error', message: 'late', attempt: 1, at: T0, retryable: true });
      task.outputData = { late: true };
      workflow.status = 'COMPLETED';
      await committing;
      expect(await ctx.store.tasks.get('t1')).toMatchObject({
        status: 'RUNNING',
        attempts: 1,
        errors: [],
        outputData: null,
      });
      expect((await ctx.store.workflows.get('w1'))?.status).toBe('RUNNING');
    });

    it('stores hostile strings in ids, fields and filters verbatim', async () => {
      const tasks = HOSTILE_STRINGS.map((text, i) =>
        sampleTask(text, {
          name: text,
          description: text,
          workflowId: text,
          inputData: { [text]: text },
          priority: i,
        }),
      );
      await ctx.store.commit({
        tasks,
        workflows: HOSTILE_STRINGS.map((text) => sampleWorkflow(text, { name: text })),
      });
      for (const task of tasks) {
        await expect(ctx.store.tasks.get(task.id)).resolves.toEqual(task);
        await expect(ctx.store.tasks.find({ where: { name: task.name } })).resolves.toEqual([task]);
        await expect(ctx.store.tasks.count({ workflowId: task.workflowId })).resolves.toBe(1);
      }
      await expect(ctx.store.tasks.count()).resolves.toBe(HOSTILE_STRINGS.length);
      await expect(ctx.store.workflows.count()).resolves.toBe(HOSTILE_STRINGS.length);
      await expect(ctx.store.tasks.delete("'; DROP TABLE tasks; --")).resolves.toBe(true);
      await expect(ctx.store.tasks.count()).resolves.toBe(HOSTILE_STRINGS.length - 1);
    });

    it('keeps __proto__, constructor and prototype keys as own data and never touches Object.prototype', async () => {
      const payload = pollutingPayload();
      await ctx.store.tasks.create(sampleTask('t1', { inputData: payload, outputData: pollutingPayload() }));
      await ctx.store.commit({
        workflows: [sampleWorkflow('w1', { metadata: pollutingPayload() })],
        agentConfigs: [sampleAgentConfig('a1', { metadata: pollutingPayload() })],
      });
      const task = (await ctx.store.tasks.find({ where: { id: 't1' } }))[0];
      const rows = [
        task?.inputData,
        task?.outputData,
        (await ctx.store.workflows.get('w1'))?.metadata,
        (await ctx.store.agentConfigs.get('a1'))?.metadata,
      ] as Record<string, unknown>[];
      for (const data of rows) {
        expect(Object.getPrototypeOf(data)).toBe(Object.prototype);
        expect(Object.keys(data)).toEqual(['__proto__', 'constructor', 'prototype', 'nested']);
        expect(Object.getOwnPropertyDescriptor(data, '__proto__')?.value).toEqual({ polluted: 'yes' });
        expect(JSON.stringify(data)).toBe(JSON.stringify(pollutingPayload()));
      }
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(Object.prototype).not.toHaveProperty('polluted');
    });

    it('round-trips JSON values, fractional times and negative numbers', async () => {
      const outputs: unknown[] = [
        'plain text',
        0,
        false,
        null,
        [],
        [1, 'two', { three: 3 }],
        { a: { b: { c: [] } } },
      ];
      const tasks = outputs.map((outputData, i) =>
        sampleTask(`t${i}`, {
          outputData,
          priority: -1.25 * (i + 1),
          createdAt: T0 + i + 0.5,
          tags: ['x', `${i}`],
        }),
      );
      let deep: Record<string, unknown> = { leaf: 'bottom' };
      for (let i = 0; i < 60; i += 1) deep = { [`level${i}`]: deep, list: [i] };
      tasks.push(
        sampleTask('deep', {
          inputData: deep,
          metadata: { 'key with "quotes"': "it's", emoji: '🚀', nul: 'a\u0000b' },
        }),
      );
      await ctx.store.commit({ tasks });
      for (const task of tasks) await expect(ctx.store.tasks.get(task.id)).resolves.toEqual(task);
    });

    it('stores large payloads and large batches', async () => {
      const big = sampleTask('big', {
        inputData: {
          text: 'x'.repeat(1_000_000),
          items: Array.from({ length: 10_000 }, (_, i) => ({ i, s: `item ${i}` })),
        },
      });
      const many = Array.from({ length: 2_500 }, (_, i) => sampleTask(`bulk-${i}`, { priority: i % 7 }));
      await ctx.store.commit({ tasks: [big, ...many] });
      await expect(ctx.store.tasks.get('big')).resolves.toEqual(big);
      await expect(ctx.store.tasks.count()).resolves.toBe(2_501);
      await expect(ctx.store.tasks.count({ priority: 3 })).resolves.toBe(
        many.filter((t) => t.priority === 3).length,
      );
    });
  });

  if (options.reopen) {
    const reopen = options.reopen;
    describe('durability', () => {
      it('keeps every committed row and completion record after close and reopen', async () => {
        const task = sampleTask('t1', {
          inputData: pollutingPayload(),
          status: 'COMPLETED',
          finishedAt: T0 + 9,
        });
        await ctx.store.commit({
          tasks: [task],
          workflows: [sampleWorkflow('w1', { paused: true })],
          agentConfigs: [sampleAgentConfig('a1')],
          completions: [{ taskId: 't1', executionId: 'e1', attempt: 1, completedAt: T0 + 9 }],
        });
        await ctx.store.close();
        ctx.store = await reopen(ctx.store);
        await ctx.store.open();
        await expect(ctx.store.tasks.get('t1')).resolves.toEqual(task);
        await expect(ctx.store.workflows.get('w1')).resolves.toEqual(sampleWorkflow('w1', { paused: true }));
        await expect(ctx.store.agentConfigs.get('a1')).resolves.toEqual(sampleAgentConfig('a1'));
        await expect(ctx.store.completions()).resolves.toHaveLength(1);
        await ctx.store.commit({
          completions: [{ taskId: 't1', executionId: 'e2', attempt: 2, completedAt: T0 + 10 }],
        });
        expect((await ctx.store.completions('t1'))[0]?.executionId).toBe('e1');
      });
    });
  }
}
