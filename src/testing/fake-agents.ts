import type { Agent, ExecutionContext } from '../domain/agent.js';
import type { Task } from '../domain/task.js';

/** Options every fake agent takes. */
export interface FakeAgentOptions {
  /** Executions the agent may run at once. @default no limit beyond the engine's */
  maxConcurrency?: number;
  /** The AgentConfig the agent stands for (its queue and load key). @default none */
  configId?: string;
}

/** One call of a fake agent's `execute`. */
export interface RecordedCall {
  /** The task as the agent saw it (a copy taken by the engine for the attempt). */
  task: Readonly<Task>;
  context: ExecutionContext;
  /** `context.attempt`, read when the call began. */
  attempt: number;
  /** `{ ...context.metadata }`, copied when the call began (after the pre hooks). */
  metadata: Record<string, unknown>;
}

/** A fake agent that remembers its calls and how many of them ran at once. */
export interface RecordingAgent extends Agent {
  /** Every call, oldest first. */
  readonly calls: readonly RecordedCall[];
  /** The context of every call, oldest first. */
  readonly contexts: readonly ExecutionContext[];
  /** Calls that have started and not yet settled. */
  readonly inFlight: number;
  /** The most calls that were ever in flight at once. */
  readonly maxInFlight: number;
  /** Forgets the recorded calls and the in-flight maximum. */
  reset(): void;
}

export type AgentImplementation = (task: Readonly<Task>, context: ExecutionContext) => unknown;

function withOptions<T extends Agent>(agent: T, options: FakeAgentOptions): T {
  if (options.maxConcurrency !== undefined) agent.maxConcurrency = options.maxConcurrency;
  if (options.configId !== undefined) agent.configId = options.configId;
  return agent;
}

/**
 * An agent that runs `impl` (default: returns null) and records every call, its context and the
 * most calls in flight at once. A synchronous throw of `impl` is thrown from `execute` as it is.
 * @example
 * const agent = recordingAgent('writer', async (task) => ({ echoed: task.inputData }));
 * await executor.batchExecute(ids.map((id) => [id, agent]), { maxConcurrent: 3 });
 * expect(agent.maxInFlight).toBeLessThanOrEqual(3);
 */
export function recordingAgent(
  id: string,
  impl: AgentImplementation = () => null,
  options: FakeAgentOptions = {},
): RecordingAgent {
  let calls: RecordedCall[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const agent: RecordingAgent = {
    id,
    get calls() {
      return calls;
    },
    get contexts() {
      return calls.map((call) => call.context);
    },
    get inFlight() {
      return inFlight;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    reset() {
      calls = [];
      maxInFlight = inFlight;
    },
    execute(task, context) {
      calls.push({ task, context, attempt: context.attempt, metadata: { ...context.metadata } });
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      let value: unknown;
      try {
        value = impl(task, context);
      } catch (error) {
        inFlight -= 1;
        throw error;
      }
      return Promise.resolve(value).finally(() => {
        inFlight -= 1;
      });
    },
  };
  return withOptions(agent, options);
}

/** An agent whose every attempt succeeds with `output` (default null). */
export function succeedingAgent(
  id: string,
  output: unknown = null,
  options?: FakeAgentOptions,
): RecordingAgent {
  return recordingAgent(id, async () => output, options);
}

/**
 * An agent that fails the first `times` attempts of each task (with an Error naming the attempt),
 * then succeeds with `thenOutput`. `failingAgent(id, Infinity)` always fails.
 */
export function failingAgent(
  id: string,
  times: number,
  thenOutput: unknown = null,
  options?: FakeAgentOptions,
): RecordingAgent {
  const failures = new Map<string, number>();
  return recordingAgent(
    id,
    async (task) => {
      const failed = failures.get(task.id) ?? 0;
      if (failed >= times) return thenOutput;
      failures.set(task.id, failed + 1);
      throw new Error(`${id} failed on purpose (${failed + 1} of ${times})`);
    },
    options,
  );
}

/**
 * An agent that never settles unless its attempt's signal aborts (timeout or cancel); it then
 * rejects with the signal's reason.
 */
export function hangingAgent(id: string, options?: FakeAgentOptions): RecordingAgent {
  return recordingAgent(
    id,
    (_task, context) =>
      new Promise<never>((_resolve, reject) => {
        const signal = context.signal;
        if (signal.aborted) reject(signal.reason);
        else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
      }),
    options,
  );
}

export interface ThrowingAgentOptions extends FakeAgentOptions {
  /** 'throw': `execute` throws synchronously; 'reject': it returns a rejected promise. @default 'throw' */
  mode?: 'throw' | 'reject';
}

/** An agent whose every attempt throws exactly `thrown`, whatever it is (undefined, a Symbol, ...). */
export function throwingAgent(
  id: string,
  thrown: unknown,
  options: ThrowingAgentOptions = {},
): RecordingAgent {
  const mode = options.mode ?? 'throw';
  return recordingAgent(
    id,
    () => {
      if (mode === 'reject') return Promise.reject(thrown);
      throw thrown;
    },
    options,
  );
}

/** A call of a manual agent that the test has not settled yet. */
export interface WaitingCall {
  task: Readonly<Task>;
  context: ExecutionContext;
  resolve(output?: unknown): void;
  reject(error: unknown): void;
}

/** A fake agent whose calls settle only when the test says so. */
export interface ManualAgent extends RecordingAgent {
  /** Calls neither settled by the test nor aborted, oldest first. */
  readonly waiting: readonly WaitingCall[];
  /** Resolves the oldest waiting call; throws if there is none. */
  resolveNext(output?: unknown): void;
  /** Rejects the oldest waiting call; throws if there is none. */
  rejectNext(error: unknown): void;
}

/**
 * An agent whose calls wait until the test settles them (`resolveNext`, `rejectNext`, or one of
 * `waiting`). A call whose signal aborts rejects with the abort reason and stops waiting.
 * @example
 * const agent = manualAgent('slow');
 * const done = executor.executeTask(task.id, agent);
 * await flushEngine();
 * agent.resolveNext({ ok: true });
 * expect((await done).status).toBe('COMPLETED');
 */
export function manualAgent(id: string, options?: FakeAgentOptions): ManualAgent {
  const waiting: WaitingCall[] = [];
  const remove = (entry: WaitingCall) => {
    const index = waiting.indexOf(entry);
    if (index >= 0) waiting.splice(index, 1);
  };
  const agent = recordingAgent(
    id,
    (task, context) =>
      new Promise((resolve, reject) => {
        const entry: WaitingCall = {
          task,
          context,
          resolve: (output) => {
            remove(entry);
            resolve(output);
          },
          reject: (error) => {
            remove(entry);
            reject(error);
          },
        };
        const signal = context.signal;
        if (signal.aborted) return reject(signal.reason);
        signal.addEventListener('abort', () => entry.reject(signal.reason), { once: true });
        waiting.push(entry);
      }),
    options,
  );
  const oldest = (): WaitingCall => {
    const entry = waiting[0];
    if (!entry) throw new Error(`Agent ${id} has no waiting call`);
    return entry;
  };
  return Object.defineProperties(agent, {
    waiting: { get: () => waiting, enumerable: true },
    resolveNext: { value: (output?: unknown) => oldest().resolve(output), enumerable: true },
    rejectNext: { value: (error: unknown) => oldest().reject(error), enumerable: true },
  }) as ManualAgent;
}
