import { describe, expect, it } from 'vitest';
import { NonRetryableError, type ExecutionResult } from '../../src/index.js';
import { failingAgent, hangingAgent, recordingAgent, type RecordingAgent } from '../../src/testing/index.js';
import { describeEveryStore } from '../durability/backends.js';
import { useStoreKit } from '../support/store-kit.js';

describeEveryStore('executor retries and timeouts', (backend) => {
  const tests = useStoreKit(backend);
  const { setup, flush, advance } = tests;

  /** Asserts that the next attempt starts exactly `delay` ms of simulated time from now. */
  async function expectNextAttemptAfter(agent: RecordingAgent, delay: number): Promise<void> {
    const before = agent.calls.length;
    if (delay > 0) {
      await advance(tests.kit.clock, delay - 1);
      expect(agent.calls.length, `no attempt ${delay - 1} ms in`).toBe(before);
    }
    await advance(tests.kit.clock, delay > 0 ? 1 : 0);
    expect(agent.calls.length, `attempt ${before + 1} after ${delay} ms`).toBe(before + 1);
  }

  describe('retries', () => {
    it('makes exactly maxAttempts attempts, then fails with every error recorded', async () => {
      const { clock, taskManager, executor } = setup({
        retry: { maxAttempts: 4, initialDelayMs: 100, backoffFactor: 2, jitter: 0 },
      });
      const agent = failingAgent('always', Infinity);
      const task = await taskManager.createTask({ name: 't' });
      let result: ExecutionResult | undefined;
      void executor.executeTask(task.id, agent).then((r) => (result = r));

      await flush();
      expect(agent.calls).toHaveLength(1);
      await expectNextAttemptAfter(agent, 100);
      await expectNextAttemptAfter(agent, 200);
      await expectNextAttemptAfter(agent, 400);
      await flush();
      expect(result).toMatchObject({ status: 'FAILED', attempts: 4 });
      expect(result!.errors.map((e) => e.attempt)).toEqual([1, 2, 3, 4]);
      expect(result!.errors.map((e) => e.retryable)).toEqual([true, true, true, false]);
      await advance(clock, 60_000);
      expect(agent.calls).toHaveLength(4);
    });

    it('waits between attempts with exponential delays capped at maxDelayMs; nothing moves without the clock', async () => {
      const { taskManager, executor } = setup({
        retry: { maxAttempts: 5, initialDelayMs: 100, backoffFactor: 3, maxDelayMs: 500, jitter: 0 },
      });
      const agent = failingAgent('flaky', 4, 'finally');
      const task = await taskManager.createTask({ name: 't' });
      const done = executor.executeTask(task.id, agent);

      await flush(20);
      expect(agent.calls).toHaveLength(1);
      expect((await taskManager.getTask(task.id)).status).toBe('PENDING');
      await expectNextAttemptAfter(agent, 100);
      await expectNextAttemptAfter(agent, 300);
      await expectNextAttemptAfter(agent, 500);
      await expectNextAttemptAfter(agent, 500);
      expect(await done).toMatchObject({ status: 'COMPLETED', output: 'finally', attempts: 5 });
    });

    it.each([
      [0, 800],
      [0.5, 1_000],
      [0.75, 1_100],
    ])(
      'moves each delay by the jitter: random() = %s gives %s ms for 1000 ms and jitter 0.2',
      async (r, delay) => {
        const { taskManager, executor } = setup({
          random: () => r,
          retry: { maxAttempts: 2, initialDelayMs: 1_000, jitter: 0.2 },
        });
        const agent = failingAgent('flaky', 1);
        const task = await taskManager.createTask({ name: 't' });
        const done = executor.executeTask(task.id, agent);
        await flush();
        await expectNextAttemptAfter(agent, delay);
        expect((await done).status).toBe('COMPLETED');
      },
    );

    it('stops at once on a NonRetryableError', async () => {
      const { taskManager, executor } = setup({ retry: { maxAttempts: 5, initialDelayMs: 0 } });
      const agent = recordingAgent('strict', () => {
        throw new NonRetryableError('the document is empty');
      });
      const task = await taskManager.createTask({ name: 't' });
      const result = await executor.executeTask(task.id, agent);
      expect(result).toMatchObject({ status: 'FAILED', attempts: 1 });
      expect(result.error).toMatchObject({ code: 'NON_RETRYABLE', retryable: false });
      expect(agent.calls).toHaveLength(1);
    });

    it('stops at once on an error whose name or code is in retry.nonRetryableErrors, and retries others', async () => {
      const { clock, taskManager, executor } = setup({
        retry: { maxAttempts: 3, initialDelayMs: 10, jitter: 0 },
      });
      const throwing = (make: () => unknown) =>
        recordingAgent('a', () => {
          throw make();
        });
      const byName = throwing(() => new TypeError('wrong type'));
      const byCode = throwing(() => Object.assign(new Error('denied'), { code: 'E_AUTH' }));
      const other = throwing(() => new RangeError('out of range'));
      const options = { retry: { nonRetryableErrors: ['TypeError', 'E_AUTH'] } };
      const [a, b, c] = await Promise.all([0, 1, 2].map((i) => taskManager.createTask({ name: `t${i}` })));

      const results = Promise.all([
        executor.executeTask(a!.id, byName, null, options),
        executor.executeTask(b!.id, byCode, null, options),
        executor.executeTask(c!.id, other, null, options),
      ]);
      await flush();
      await advance(clock, 10);
      await advance(clock, 20);
      const [ra, rb, rc] = await results;

      expect([ra!.attempts, rb!.attempts, rc!.attempts]).toEqual([1, 1, 3]);
      expect([byName.calls.length, byCode.calls.length, other.calls.length]).toEqual([1, 1, 3]);
      expect(ra!.error).toMatchObject({ name: 'TypeError', retryable: false });
      expect(rb!.error).toMatchObject({ code: 'E_AUTH', retryable: false });
    });

    it('keeps the task PENDING and its workflow RUNNING while it waits for a retry', async () => {
      const { taskManager, workflowTracker, executor } = setup({
        retry: { maxAttempts: 2, initialDelayMs: 50 },
      });
      const workflow = await workflowTracker.createWorkflow({ name: 'w' });
      const task = await taskManager.createTask({ name: 't', workflowId: workflow.id });
      const agent = failingAgent('flaky', 1);
      const done = executor.executeTask(task.id, agent);
      await flush();

      expect(await taskManager.getTask(task.id)).toMatchObject({ status: 'PENDING', attempts: 1 });
      expect(await workflowTracker.getWorkflowStatus(workflow.id)).toBe('RUNNING');
      await advance(tests.kit.clock, 50);
      expect((await done).status).toBe('COMPLETED');
      expect(await workflowTracker.getWorkflowStatus(workflow.id)).toBe('COMPLETED');
    });
  });

  describe('timeouts', () => {
    it("aborts the agent's signal when the attempt runs past timeoutMs and records EXECUTION_TIMEOUT", async () => {
      const { taskManager, executor } = setup({ retry: { maxAttempts: 1 } });
      const agent = hangingAgent('slow');
      const task = await taskManager.createTask({ name: 't' });
      let result: ExecutionResult | undefined;
      void executor.executeTask(task.id, agent, null, { timeoutMs: 50 }).then((r) => (result = r));

      await flush();
      const signal = agent.calls[0]!.context.signal;
      await advance(tests.kit.clock, 49);
      expect(signal.aborted).toBe(false);
      expect(result).toBeUndefined();
      await advance(tests.kit.clock, 1);

      expect(signal.aborted).toBe(true);
      expect(signal.reason).toMatchObject({ code: 'EXECUTION_TIMEOUT', name: 'ExecutionTimeoutError' });
      expect(result).toMatchObject({ status: 'FAILED', attempts: 1 });
      expect(result!.error).toMatchObject({ code: 'EXECUTION_TIMEOUT', attempt: 1 });
      expect(agent.inFlight).toBe(0);
    });

    it('retries a timed-out attempt per the policy; the next attempt gets a fresh signal', async () => {
      const { taskManager, executor } = setup({ retry: { maxAttempts: 3, initialDelayMs: 10, jitter: 0 } });
      const agent = recordingAgent('sometimes-slow', (_task, context) =>
        context.attempt === 1
          ? new Promise((_, reject) =>
              context.signal.addEventListener('abort', () => reject(context.signal.reason)),
            )
          : 'fast enough',
      );
      const task = await taskManager.createTask({ name: 't' });
      const done = executor.executeTask(task.id, agent, null, { timeoutMs: 30 });

      await flush();
      await advance(tests.kit.clock, 30);
      expect(agent.calls[0]!.context.signal.aborted).toBe(true);
      await expectNextAttemptAfter(agent, 10);
      const result = await done;

      expect(result).toMatchObject({ status: 'COMPLETED', output: 'fast enough', attempts: 2 });
      expect(result.errors).toEqual([expect.objectContaining({ code: 'EXECUTION_TIMEOUT', attempt: 1 })]);
      expect(agent.calls[1]!.context.signal.aborted).toBe(false);
    });

    it("uses the engine's timeoutMs when the call gives none, and each attempt gets the full time", async () => {
      const { taskManager, executor } = setup({
        timeoutMs: 100,
        retry: { maxAttempts: 2, initialDelayMs: 0, jitter: 0 },
      });
      const agent = hangingAgent('slow');
      const task = await taskManager.createTask({ name: 't' });
      const done = executor.executeTask(task.id, agent);
      await flush();
      await advance(tests.kit.clock, 100);
      expect(agent.calls).toHaveLength(1);
      await advance(tests.kit.clock, 0); // even a 0 ms retry delay waits for the simulated clock
      expect(agent.calls).toHaveLength(2);
      await advance(tests.kit.clock, 99);
      expect(agent.calls[1]!.context.signal.aborted).toBe(false);
      await advance(tests.kit.clock, 1);
      const result = await done;
      expect(result.errors.map((e) => e.code)).toEqual(['EXECUTION_TIMEOUT', 'EXECUTION_TIMEOUT']);
    });

    it('a finished attempt is not timed out later', async () => {
      const { taskManager, executor } = setup();
      const agent = recordingAgent('quick', () => 'done');
      const task = await taskManager.createTask({ name: 't' });
      const result = await executor.executeTask(task.id, agent, null, { timeoutMs: 10 });
      await advance(tests.kit.clock, 1_000);
      expect(result.status).toBe('COMPLETED');
      expect(agent.calls[0]!.context.signal.aborted).toBe(false);
      expect((await taskManager.getTask(task.id)).status).toBe('COMPLETED');
    });
  });
});
