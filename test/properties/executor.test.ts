import { fc, it } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { MemoryStore, NonRetryableError, type Agent, type ExecutionResult } from '../../src/index.js';
import { createTestRegistry, flushEngine } from '../../src/testing/index.js';
import { stepUntil } from '../support/wait.js';

// Random batches against batchExecute: bounded concurrency, one end per task, input order.
// fast-check prints the seed and the shrunk batch of a failing run; replay with { seed, path }.

type Behaviour = 'succeed' | 'fail' | 'flaky' | 'throw-string' | 'non-retryable';

interface Planned {
  behaviour: Behaviour;
  /** Microtasks the agent waits before it settles. */
  delay: number;
  /** Index into the batch's agent ids (several tasks share an agent). */
  agent: number;
}

const plannedTask: fc.Arbitrary<Planned> = fc.record({
  behaviour: fc.constantFrom<Behaviour>(
    'succeed',
    'succeed',
    'fail',
    'flaky',
    'throw-string',
    'non-retryable',
  ),
  delay: fc.nat({ max: 20 }),
  agent: fc.nat({ max: 3 }),
});

const batchArbitrary = fc.record({
  tasks: fc.array(plannedTask, { minLength: 1, maxLength: 40 }),
  maxConcurrent: fc.integer({ min: 1, max: 8 }),
  maxAttempts: fc.integer({ min: 1, max: 3 }),
  retryDelay: fc.nat({ max: 20 }),
});

function expectedEnd(
  plan: Planned,
  maxAttempts: number,
): { status: 'COMPLETED' | 'FAILED'; attempts: number } {
  switch (plan.behaviour) {
    case 'succeed':
      return { status: 'COMPLETED', attempts: 1 };
    case 'flaky':
      return maxAttempts >= 2 ? { status: 'COMPLETED', attempts: 2 } : { status: 'FAILED', attempts: 1 };
    case 'non-retryable':
      return { status: 'FAILED', attempts: 1 };
    default:
      return { status: 'FAILED', attempts: maxAttempts };
  }
}

describe('batchExecute properties', () => {
  it.prop([batchArbitrary], { numRuns: 60 })(
    'never exceeds maxConcurrent, ends every task exactly once, and returns results in input order',
    async ({ tasks, maxConcurrent, maxAttempts, retryDelay }) => {
      const store = new MemoryStore();
      const kit = createTestRegistry({
        store,
        retry: { maxAttempts, initialDelayMs: retryDelay, backoffFactor: 1, jitter: 0 },
      });
      const { taskManager, executor, clock } = kit;
      try {
        const ids: string[] = [];
        for (let i = 0; i < tasks.length; i += 1)
          ids.push((await taskManager.createTask({ name: `t${i}` })).id);
        const planOf = new Map(ids.map((id, i) => [id, tasks[i]!]));
        const callsOf = new Map<string, number>();
        let inFlight = 0;
        let peak = 0;
        const agentFor = (index: number): Agent => ({
          id: `agent-${index}`,
          async execute(task) {
            inFlight += 1;
            peak = Math.max(peak, inFlight);
            const calls = (callsOf.get(task.id) ?? 0) + 1;
            callsOf.set(task.id, calls);
            const plan = planOf.get(task.id)!;
            try {
              for (let i = 0; i < plan.delay; i += 1) await Promise.resolve();
              switch (plan.behaviour) {
                case 'succeed':
                  return { id: task.id };
                case 'flaky':
                  if (calls === 1) throw new Error('first attempt fails');
                  return { id: task.id, calls };
                case 'fail':
                  throw new Error('always fails');
                case 'throw-string':
                  throw 'a string, not an Error';
                case 'non-retryable':
                  throw new NonRetryableError('cannot succeed');
              }
            } finally {
              inFlight -= 1;
            }
          },
        });
        const agents = [0, 1, 2, 3].map(agentFor);

        let results: ExecutionResult[] | undefined;
        let failure: unknown;
        executor
          .batchExecute(
            ids.map((id, i) => [id, agents[tasks[i]!.agent]!] as const),
            { maxConcurrent },
          )
          .then(
            (value) => (results = value),
            (error: unknown) => (failure = error),
          );
        // Retries wait on the simulated clock: move it until the batch is done.
        await stepUntil(
          'the batch to settle',
          async () => {
            await flushEngine(2);
            clock.increment(Math.max(1, retryDelay));
          },
          () => results !== undefined || failure !== undefined,
        );

        expect(failure).toBeUndefined();
        expect(results).toBeDefined();
        expect(peak).toBeLessThanOrEqual(maxConcurrent);
        expect(results!.map((r) => r.taskId)).toEqual(ids);

        const rows = await store.tasks.find();
        const rowOf = new Map(rows.map((row) => [row.id, row]));
        const completions = await store.completions();
        const completionCount = new Map<string, number>();
        for (const record of completions)
          completionCount.set(record.taskId, (completionCount.get(record.taskId) ?? 0) + 1);

        results!.forEach((result, i) => {
          const expected = expectedEnd(tasks[i]!, maxAttempts);
          expect(result).toMatchObject(expected);
          expect(callsOf.get(result.taskId)).toBe(expected.attempts);
          expect(result.errors).toHaveLength(
            expected.status === 'COMPLETED' ? expected.attempts - 1 : expected.attempts,
          );
          const row = rowOf.get(result.taskId)!;
          expect(row).toMatchObject({
            status: result.status,
            attempts: result.attempts,
            errors: result.errors,
          });
          expect(row.outputData).toEqual(result.status === 'COMPLETED' ? result.output : null);
          expect(completionCount.get(result.taskId) ?? 0).toBe(result.status === 'COMPLETED' ? 1 : 0);
        });
        expect(completions.length).toBeLessThanOrEqual(ids.length);
        expect(await executor.getStats()).toMatchObject({ inFlight: 0, queued: 0 });
      } finally {
        await kit.stop();
      }
    },
  );
});
