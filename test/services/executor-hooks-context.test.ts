import { describe, expect, it } from 'vitest';
import type { AttemptOutcome, ExecutionContext } from '../../src/index.js';
import { NonRetryableError } from '../../src/index.js';
import { failingAgent, recordingAgent, succeedingAgent, throwingAgent } from '../../src/testing/index.js';
import { describeEveryStore } from '../durability/backends.js';
import { useStoreKit } from '../support/store-kit.js';

describeEveryStore('executor hooks and context', (backend) => {
  const { setup, flush, advance } = useStoreKit(backend, { start: 1_000 });

  describe('pre and post hooks', () => {
    it('a pre hook enriches the context metadata the agent sees, by return value or by mutation', async () => {
      const { taskManager, executor } = setup();
      await executor.addPreHook(() => ({ traceId: 'trace-1' }));
      await executor.addPreHook((context) => {
        context.metadata.seenTraceId = context.metadata.traceId;
      });
      const agent = recordingAgent('a', (_task, context) => ({ ...context.metadata }));
      const task = await taskManager.createTask({ name: 't' });

      const result = await executor.executeTask(task.id, agent, null, { metadata: { tenant: 'acme' } });

      expect(agent.calls[0]!.metadata).toEqual({
        tenant: 'acme',
        traceId: 'trace-1',
        seenTraceId: 'trace-1',
      });
      expect(result.output).toEqual({ tenant: 'acme', traceId: 'trace-1', seenTraceId: 'trace-1' });
    });

    it('a post hook sees each attempt: COMPLETED with the output, FAILED with the error', async () => {
      const { clock, taskManager, executor } = setup({
        retry: { maxAttempts: 2, initialDelayMs: 10, jitter: 0 },
      });
      const outcomes: Array<{ outcome: AttemptOutcome; taskId: string; attempt: number }> = [];
      await executor.addPostHook((outcome, context) => {
        outcomes.push({ outcome, taskId: context.task.id, attempt: context.attempt });
      });
      const task = await taskManager.createTask({ name: 't' });

      const done = executor.executeTask(task.id, failingAgent('flaky', 1, { answer: 42 }));
      await flush();
      await advance(clock, 10);
      const result = await done;

      expect(result.status).toBe('COMPLETED');
      expect(outcomes).toHaveLength(2);
      expect(outcomes[0]).toMatchObject({
        taskId: task.id,
        attempt: 1,
        outcome: { status: 'FAILED', attempt: 1 },
      });
      expect(outcomes[0]!.outcome.error).toBeInstanceOf(Error);
      expect((outcomes[0]!.outcome.error as Error).message).toMatch(/flaky failed on purpose/);
      expect(outcomes[1]).toMatchObject({
        attempt: 2,
        outcome: { status: 'COMPLETED', attempt: 2, output: { answer: 42 }, error: undefined },
      });
    });

    it('a throwing pre hook fails the execution with HOOK_FAILED, without calling the agent or retrying', async () => {
      const { taskManager, executor } = setup({ retry: { maxAttempts: 5 } });
      await executor.addPreHook(() => {
        throw new Error('no credentials');
      });
      const agent = succeedingAgent('a');
      const task = await taskManager.createTask({ name: 't' });

      const result = await executor.executeTask(task.id, agent);

      expect(result.status).toBe('FAILED');
      expect(result.attempts).toBe(1);
      expect(result.error).toMatchObject({ code: 'HOOK_FAILED', name: 'HookError', retryable: false });
      expect(result.error!.message).toContain('no credentials');
      expect(agent.calls).toHaveLength(0);
      expect((await taskManager.getTask(task.id)).status).toBe('FAILED');
    });

    it('a throwing post hook fails a successful attempt with HOOK_FAILED and is not retried', async () => {
      const { taskManager, executor } = setup({ retry: { maxAttempts: 5 } });
      await executor.addPostHook(() => Promise.reject('audit log unavailable'));
      const agent = succeedingAgent('a', 'fine');
      const task = await taskManager.createTask({ name: 't' });

      const result = await executor.executeTask(task.id, agent);

      expect(result).toMatchObject({ status: 'FAILED', attempts: 1, output: null });
      expect(result.error).toMatchObject({ code: 'HOOK_FAILED' });
      expect(result.error!.message).toContain('audit log unavailable');
      expect(agent.calls).toHaveLength(1);
    });

    it('removing a hook stops it from running', async () => {
      const { taskManager, executor } = setup();
      let calls = 0;
      const remove = await executor.addPreHook(() => {
        calls += 1;
      });
      const first = await taskManager.createTask({ name: 'first' });
      await executor.executeTask(first.id, succeedingAgent('a'));
      remove();
      const second = await taskManager.createTask({ name: 'second' });
      await executor.executeTask(second.id, succeedingAgent('a'));
      expect(calls).toBe(1);
    });
  });

  describe('execution context', () => {
    it('carries the task, the workflow, the attempt, an AbortSignal and the metadata', async () => {
      const { clock, taskManager, workflowTracker, executor } = setup({
        retry: { maxAttempts: 2, initialDelayMs: 5, jitter: 0 },
      });
      const workflow = await workflowTracker.createWorkflow({ name: 'Reports' });
      const task = await taskManager.createTask({
        name: 'Summarise',
        inputData: { query: 'q' },
        workflowId: workflow.id,
      });
      const seen: Array<{ aborted: boolean; isSignal: boolean }> = [];
      const agent = recordingAgent('ctx', (_task, context: ExecutionContext) => {
        seen.push({ aborted: context.signal.aborted, isSignal: context.signal instanceof AbortSignal });
        if (context.attempt === 1) throw new Error('first attempt fails');
        return 'ok';
      });

      const done = executor.executeTask(task.id, agent, workflow.id, { metadata: { user: 'u1' } });
      await flush();
      await advance(clock, 5);
      const result = await done;

      expect(result.status).toBe('COMPLETED');
      expect(agent.calls.map((call) => call.attempt)).toEqual([1, 2]);
      for (const { context } of agent.calls) {
        expect(context.executionId).toBe(result.executionId);
        expect(context.task).toMatchObject({ id: task.id, name: 'Summarise', inputData: { query: 'q' } });
        expect(context.workflow).toMatchObject({ id: workflow.id, name: 'Reports' });
        expect(context.metadata).toEqual({ user: 'u1' });
      }
      expect(agent.calls[1]!.task.errors).toHaveLength(1);
      expect(agent.calls[1]!.task.attempts).toBe(2);
      expect(seen).toEqual([
        { aborted: false, isSignal: true },
        { aborted: false, isSignal: true },
      ]);
    });

    it('gives a task outside any workflow a null workflow', async () => {
      const { taskManager, executor } = setup();
      const agent = recordingAgent('a');
      const task = await taskManager.createTask({ name: 't' });
      await executor.executeTask(task.id, agent);
      expect(agent.calls[0]!.context.workflow).toBeNull();
    });
  });

  describe('error history', () => {
    it('records every failed attempt: name, message, stack, code, attempt and time', async () => {
      const { clock, taskManager, executor } = setup({
        retry: { maxAttempts: 3, initialDelayMs: 100, backoffFactor: 2, jitter: 0 },
      });
      let attempt = 0;
      const agent = recordingAgent('a', () => {
        attempt += 1;
        if (attempt === 1) throw new TypeError('bad input');
        if (attempt === 2) throw Object.assign(new Error('rate limited'), { code: 'E_RATE' });
        throw new NonRetryableError('gave up');
      });
      const task = await taskManager.createTask({ name: 't' });

      const done = executor.executeTask(task.id, agent);
      await flush();
      await advance(clock, 100);
      await advance(clock, 200);
      const result = await done;

      expect(result.status).toBe('FAILED');
      expect(result.errors).toHaveLength(3);
      expect(result.errors[0]).toMatchObject({
        name: 'TypeError',
        message: 'bad input',
        attempt: 1,
        at: 1_000,
      });
      expect(result.errors[0]!.code).toBeUndefined();
      expect(result.errors[1]).toMatchObject({ name: 'Error', code: 'E_RATE', attempt: 2, at: 1_100 });
      expect(result.errors[2]).toMatchObject({
        name: 'NonRetryableError',
        code: 'NON_RETRYABLE',
        attempt: 3,
        at: 1_300,
        retryable: false,
      });
      for (const error of result.errors) expect(error.stack).toEqual(expect.stringContaining(error.message));
      expect(result.error).toEqual(result.errors[2]);
      expect((await taskManager.getTask(task.id)).errors).toEqual(result.errors);
    });

    const circular: Record<string, unknown> = { label: 'loop' };
    circular.self = circular;
    class QuotaError extends Error {
      override name = 'QuotaError';
      code = 'E_QUOTA';
    }
    const cases: Array<[string, unknown, { name: string; message: RegExp; code?: string }]> = [
      ['undefined', undefined, { name: 'Error', message: /undefined/ }],
      ['null', null, { name: 'Error', message: /null/ }],
      ['a string', 'plain string', { name: 'Error', message: /^plain string$/ }],
      ['a number', 42, { name: 'Error', message: /^42$/ }],
      ['a symbol', Symbol('boom'), { name: 'Error', message: /Symbol\(boom\)/ }],
      ['a circular object', circular, { name: 'Error', message: /object/i }],
      [
        'an Error subclass with a code',
        new QuotaError('over quota'),
        {
          name: 'QuotaError',
          message: /^over quota$/,
          code: 'E_QUOTA',
        },
      ],
    ];

    for (const mode of ['throw', 'reject'] as const) {
      it.each(cases)(
        `normalises %s (${mode}) into a plain, JSON-safe error`,
        async (_label, thrown, expected) => {
          const { taskManager, executor } = setup({ retry: { maxAttempts: 1 } });
          const task = await taskManager.createTask({ name: 't' });

          const result = await executor.executeTask(task.id, throwingAgent('thrower', thrown, { mode }));

          expect(result.status).toBe('FAILED');
          expect(result.error!.name).toBe(expected.name);
          expect(result.error!.message).toMatch(expected.message);
          if (expected.code) expect(result.error!.code).toBe(expected.code);
          expect(typeof result.error!.message).toBe('string');
          expect(() => JSON.stringify(result.errors)).not.toThrow();
          expect((await taskManager.getTask(task.id)).errors).toEqual([result.error]);
        },
      );
    }
  });
});
