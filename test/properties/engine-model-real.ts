import { expect } from 'vitest';
import {
  NonRetryableError,
  ServiceRegistry,
  SYMPHONY_EVENT_NAMES,
  type ExecutionResult,
  type Store,
} from '../../src/index.js';
import { recordingAgent, type RecordingAgent, type TestClock } from '../../src/testing/index.js';
import type { StoreIo } from '../support/store-kit.js';
import { until } from '../support/wait.js';
import type { Behaviour, EngineModel, Expectation } from './engine-model.js';

/**
 * The real side of the engine model property (test/properties/engine-model-run.ts): the engine
 * under test, its scripted agent, and the check of its stored rows against the model.
 */

export const WORKFLOWS = 2;
/** How long a running attempt without a timeout holds its lease; a crash jumps past it. */
export const LEASE_MS = 1_000;
/** Event-loop turns without a new store call after which the engine counts as quiet. */
export const ROUNDS = 10;

export interface HeldCall {
  resolve(output: unknown): void;
  reject(error: unknown): void;
}

/** An accepted executeTask call and, once it settled, how. */
export interface Watched {
  task: number;
  outcome?: { result: ExecutionResult } | { error: unknown };
}

export interface Real {
  /** Watches every store handle of the run, so a step can wait for the engine's store calls. */
  io: StoreIo;
  /** The live engine's (watched) store handle. */
  store: Store;
  /** A new handle on the same data (the same object for memory), not yet watched. */
  reopen(): Store;
  /** Handles of killed engines, closed when the run ends. */
  dropped: Store[];
  registry: ServiceRegistry;
  clock: TestClock;
  generation: number;
  ids: () => string;
  agent: RecordingAgent;
  /** Behaviour by `${taskId}#${attempt}`; an attempt without one succeeds. */
  script: Map<string, Behaviour>;
  /** Attempts of the live engine holding until the test settles them, by task id. */
  held: Map<string, HeldCall>;
  taskIds: string[];
  workflowIds: string[];
  /** Accepted executions not yet seen settled by a check. */
  executions: Watched[];
  /** Whether the running step may make executions reject (a stop rejects them with ENGINE_STOPPED). */
  stopping: boolean;
  /** Every event the run's engines published to their listeners, as JSON, in order. */
  published: PublishedEvent[];
}

/** An event as a listener got it, with the engine that published it. */
export interface PublishedEvent {
  engineId: string;
  name: string;
  payload: unknown;
}

export function outputOf(taskId: string, attempt: number): { taskId: string; attempt: number } {
  return { taskId, attempt };
}

/** The agent of every engine of a run: does what the script says for each attempt. */
export function scriptedAgent(real: () => Real): RecordingAgent {
  return recordingAgent('scripted', (task, context) => {
    const r = real();
    const behaviour = r.script.get(`${task.id}#${context.attempt}`) ?? 'succeed';
    switch (behaviour) {
      case 'succeed':
        return Promise.resolve(outputOf(task.id, context.attempt));
      case 'fail':
        return Promise.reject(new Error(`scripted failure of attempt ${context.attempt}`));
      case 'fatal':
        return Promise.reject(new NonRetryableError(`scripted fatal failure of attempt ${context.attempt}`));
      case 'hang':
      case 'hold':
        return new Promise((resolve, reject) => {
          const signal = context.signal;
          const call: HeldCall = { resolve, reject };
          const abort = () => {
            if (r.held.get(task.id) === call) r.held.delete(task.id);
            reject(signal.reason);
          };
          if (signal.aborted) return abort();
          signal.addEventListener('abort', abort, { once: true });
          if (behaviour === 'hold') r.held.set(task.id, call);
        });
    }
  });
}

/** A new engine of the run; its listeners record every event it publishes in `real.published`. */
export function newRegistry(
  real: Pick<Real, 'store' | 'ids' | 'published'>,
  clock: TestClock,
  generation: number,
): ServiceRegistry {
  const engineId = `engine-${generation}`;
  const registry = new ServiceRegistry({
    store: real.store,
    clock,
    idGenerator: real.ids,
    random: () => 0.5,
    engineId,
    leaseMs: LEASE_MS,
    controlPollMs: 0,
  });
  for (const name of SYMPHONY_EVENT_NAMES) {
    registry.on(name, (payload) =>
      real.published.push({ engineId, name, payload: JSON.parse(JSON.stringify(payload)) }),
    );
  }
  return registry;
}

/**
 * Issue 15's law: the events the store holds, read after a cursor page by page, are those the
 * engines published, engine by engine in the same order (a change refused by the store, fenced out,
 * is in neither).
 */
export async function checkStoredEvents(r: Real): Promise<void> {
  const stored: PublishedEvent[] = [];
  let after: string | undefined;
  // On PostgreSQL an event is handed out once the transactions older than its own have ended
  // (other sessions' too): read on until as many came as were published, then compare.
  await until('the stored events', async () => {
    for (;;) {
      const page = await r.registry.readEvents({ limit: 37, ...(after === undefined ? {} : { after }) });
      for (const event of page.events)
        stored.push({ engineId: event.engineId, name: event.name, payload: event.payload });
      after = page.cursor;
      if (page.events.length < 37) return stored.length >= r.published.length;
    }
  });
  const byEngine = (events: readonly PublishedEvent[]) => {
    const grouped = new Map<string, PublishedEvent[]>();
    for (const event of events) grouped.set(event.engineId, [...(grouped.get(event.engineId) ?? []), event]);
    return grouped;
  };
  expect(byEngine(stored)).toEqual(byEngine(r.published));
}

/**
 * Waits until the engine is quiet: no store call in flight and none started (no commit) for ROUNDS
 * turns of the event loop, however long the store takes to answer. Time stands still: a timer
 * armed with delay 0 waits for the next `advance`, as the model and the test kit's `advance` say.
 */
export function settled(r: Real): Promise<void> {
  return r.io.settle(ROUNDS);
}

export function codeOf(error: unknown): unknown {
  return typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : error;
}

/**
 * Runs a call the model expects `expected` of: 'ok' must resolve, 'invalid' must reject with
 * INVALID_STATE, 'either' may do both. Returns whether it was accepted.
 */
export async function expectOutcome(expected: Expectation, call: () => Promise<unknown>): Promise<boolean> {
  try {
    await call();
  } catch (error) {
    if (expected === 'ok' || codeOf(error) !== 'INVALID_STATE') throw error;
    return false;
  }
  if (expected === 'invalid') throw new Error('Expected the call to reject with INVALID_STATE, it resolved');
  return true;
}

/** Every stored row agrees with the model. */
export async function checkAgainstModel(m: EngineModel, r: Real): Promise<void> {
  const taskManager = r.registry.getTaskManager();
  const tracker = r.registry.getWorkflowTracker();
  const stored = await taskManager.listTasks();
  expect(stored.map((task) => task.id)).toEqual(r.taskIds);
  for (const [index, model] of m.tasks.entries()) {
    const id = r.taskIds[index]!;
    const task = await taskManager.getTask(id);
    const where = `task ${index} (${id})`;
    expect({ where, status: task.status, attempts: task.attempts }).toEqual({
      where,
      status: model.status,
      attempts: model.attempts,
    });
    if (model.exec) expect(task.attempts).toBeLessThanOrEqual(model.exec.limit);
    // Every counted attempt ran the agent once: an attempt number runs at most once, even across
    // crashes (persistence.md, "Counted attempts").
    const called = r.agent.calls.filter((call) => call.task.id === id).map((call) => call.attempt);
    expect(called, `attempts of ${where} that ran`).toEqual(
      Array.from({ length: model.attempts }, (_, i) => i + 1),
    );
    const completions = await r.store.completions(id);
    if (model.status === 'COMPLETED') {
      expect(completions.map((record) => record.attempt)).toEqual([model.completedAttempt]);
      expect(task.outputData).toEqual(outputOf(id, model.completedAttempt!));
    } else {
      expect(completions).toEqual([]);
    }
  }
  // An execution settles with its task's final state: status, attempts and output as stored.
  for (const watched of r.executions) {
    const outcome = watched.outcome;
    if (!outcome) continue;
    const model = m.tasks[watched.task]!;
    if ('error' in outcome) {
      expect(r.stopping, `execution of task ${watched.task} rejected: ${String(outcome.error)}`).toBe(true);
      expect(codeOf(outcome.error)).toBe('ENGINE_STOPPED');
      continue;
    }
    const { status, attempts, output } = outcome.result;
    const completed = model.completedAttempt;
    expect({ task: watched.task, status, attempts, output }).toEqual({
      task: watched.task,
      status: model.status,
      attempts: model.attempts,
      output: completed === null ? null : outputOf(r.taskIds[watched.task]!, completed),
    });
  }
  r.executions = r.executions.filter((watched) => !watched.outcome);
  await checkStoredEvents(r);
  for (const [index, model] of m.workflows.entries()) {
    const workflow = await tracker.getWorkflow(r.workflowIds[index]!);
    const where = `workflow ${index}`;
    expect({
      where,
      status: workflow.status,
      paused: workflow.paused,
      cancelled: workflow.cancelled,
    }).toEqual({
      where,
      status: m.workflowStatus(index),
      paused: model.paused,
      cancelled: model.cancelled,
    });
  }
}
