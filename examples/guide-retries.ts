/**
 * The example of docs/guides/retries.md: an engine-wide retry policy with capped exponential
 * backoff, a per-call policy, errors that are never retried, a timeout that aborts the agent's
 * signal, and `retryTask` for a task that FAILED. Time is simulated, so it runs in no time.
 *
 * Run: npx tsx examples/guide-retries.ts
 */
import { NonRetryableError, ServiceRegistry, type Agent, type ExecutionResult } from '../src/index.js';
import { advance, createTestClock, flushEngine } from '../src/testing/index.js';

export interface RetriesGuideOutcome {
  /** The flaky agent's attempts: ms after the start at which each began. */
  attemptTimes: number[];
  flaky: ExecutionResult;
  /** An error whose code the per-call policy lists in `nonRetryableErrors`. */
  listed: ExecutionResult;
  /** A NonRetryableError, then the same task after `retryTask`. */
  refused: ExecutionResult;
  retried: ExecutionResult;
  /** Two attempts that both ran past `timeoutMs`. */
  timedOut: ExecutionResult;
  /** Whether the slow agent saw its signal aborted, on each attempt. */
  abortsSeen: boolean[];
}

export async function main(log: (line: string) => void = console.log): Promise<RetriesGuideOutcome> {
  const clock = createTestClock(0); // leave `clock` out in production: the system clock
  const registry = new ServiceRegistry({
    store: ':memory:',
    clock,
    // The engine-wide policy: executions that give none of their own use it.
    retry: { maxAttempts: 4, initialDelayMs: 100, backoffFactor: 2, maxDelayMs: 250, jitter: 0 },
  });
  const taskManager = registry.getTaskManager();
  const executor = registry.getEnhancedExecutor();
  const show = (name: string, result: ExecutionResult) =>
    log(
      `${name}: ${result.status} after ${result.attempts} attempt(s); errors: ` +
        (result.errors.map((e) => `#${e.attempt} ${e.code ?? e.name} (retry: ${e.retryable})`).join(', ') ||
          'none'),
    );

  // 1. A flaky agent: three failures, then success. Delays 100, 200, then 250 (400 capped).
  const attemptTimes: number[] = [];
  const flakyAgent: Agent = {
    id: 'flaky',
    execute: async (task, context) => {
      attemptTimes.push(clock.now());
      if (context.attempt <= 3) throw Object.assign(new Error('service overloaded'), { code: 'OVERLOADED' });
      return { summary: `done on attempt ${context.attempt}` };
    },
  };
  const first = await taskManager.createTask({ name: 'Summarise the report' });
  const flakyRun = executor.executeTask(first.id, flakyAgent);
  await flushEngine(); // attempt 1 runs at 0 ms and fails
  await advance(clock, 100); // attempt 2 at 100 ms
  await advance(clock, 200); // attempt 3 at 300 ms
  await advance(clock, 250); // attempt 4 at 550 ms: succeeds
  const flaky = await flakyRun;
  show('flaky', flaky);

  // 2. A per-call policy, laid over the engine's field by field: this error code is never retried.
  const pickyAgent: Agent = {
    id: 'picky',
    execute: async () => {
      throw Object.assign(new Error('the document is not in English'), { code: 'UNSUPPORTED_LANGUAGE' });
    },
  };
  const second = await taskManager.createTask({ name: 'Summarise the Dutch memo' });
  const listed = await executor.executeTask(second.id, pickyAgent, null, {
    retry: { maxAttempts: 2, nonRetryableErrors: ['UNSUPPORTED_LANGUAGE'] },
  });
  show('listed', listed);

  // 3. NonRetryableError: retrying cannot help until something changes; then taskManager.retryTask.
  let apiKey: string | null = null;
  const strictAgent: Agent = {
    id: 'strict',
    execute: async () => {
      if (apiKey === null) throw new NonRetryableError('no API key configured');
      return { ok: true };
    },
  };
  const third = await taskManager.createTask({ name: 'Call the API' });
  const refused = await executor.executeTask(third.id, strictAgent);
  show('refused', refused);
  apiKey = 'configured now';
  await taskManager.retryTask(third.id); // FAILED -> PENDING, history kept, a full attempt budget
  const retried = await executor.executeTask(third.id, strictAgent);
  show('retried', retried);

  // 4. A timeout per attempt: the agent's signal aborts, the attempt fails with EXECUTION_TIMEOUT.
  const abortsSeen: boolean[] = [];
  const slowAgent: Agent = {
    id: 'slow',
    execute: (task, context) =>
      new Promise((_, reject) => {
        // A real agent passes context.signal on: fetch(url, { signal: context.signal }).
        context.signal.addEventListener('abort', () => {
          abortsSeen.push(context.signal.aborted);
          reject(context.signal.reason);
        });
      }),
  };
  const fourth = await taskManager.createTask({ name: 'Wait for the slow service' });
  const slowRun = executor.executeTask(fourth.id, slowAgent, null, {
    timeoutMs: 1_000,
    retry: { maxAttempts: 2 },
  });
  await flushEngine();
  await advance(clock, 1_000); // attempt 1 times out; the retry waits 100 ms
  await advance(clock, 100); // attempt 2 starts
  await advance(clock, 1_000); // and times out: no attempt left
  const timedOut = await slowRun;
  show('timedOut', timedOut);

  await registry.stop();
  return { attemptTimes, flaky, listed, refused, retried, timedOut, abortsSeen };
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
