import { expect } from 'vitest';
import type { Execution, ExecutionPhase } from '../../../src/engine/execution.js';
import type { Runtime } from '../../../src/engine/runtime.js';
import type { EnhancedExecutor } from '../../../src/services/enhanced-executor.js';
import { flushEngine } from '../../../src/testing/index.js';

/** The runtime behind an executor (tests only: reaches past the public API). */
export async function runtimeOf(executor: EnhancedExecutor): Promise<Runtime> {
  return (await (executor as unknown as { runtime(): Promise<Runtime> }).runtime()) as Runtime;
}

interface DispatcherInternals {
  queued: Set<Execution>;
  queues: Map<string, { size: number }>;
  unannounced: number;
}

export function dispatcherOf(runtime: Runtime): DispatcherInternals {
  return (runtime as unknown as { dispatcher: DispatcherInternals }).dispatcher;
}

/** Entries in the dispatcher's priority queues, stale ones included. */
export function queueEntries(runtime: Runtime): number {
  let total = 0;
  for (const queue of dispatcherOf(runtime).queues.values()) total += queue.size;
  return total;
}

export interface Counts {
  /** Live executions per phase. */
  phases: Partial<Record<ExecutionPhase, number>>;
  /** The executor actor's count of queued executions. */
  executorQueued: number;
  /** The dispatcher's set of queued executions. */
  dispatcherQueued: number;
  executorInFlight: number;
}

export async function countsOf(runtime: Runtime): Promise<Counts> {
  await flushEngine();
  const phases: Partial<Record<ExecutionPhase, number>> = {};
  for (const exec of runtime.live.all()) {
    const phase = runtime.live.phaseOf(exec);
    phases[phase] = (phases[phase] ?? 0) + 1;
  }
  const { queued, inFlight } = runtime.executor.getSnapshot().context;
  return {
    phases,
    executorQueued: queued,
    dispatcherQueued: dispatcherOf(runtime).queued.size,
    executorInFlight: inFlight,
  };
}

/**
 * The invariant of the change: an execution is in the dispatcher's queue exactly while its task
 * actor is in PENDING.ready, and the executor's count follows; in flight = running.
 */
export async function expectConsistent(runtime: Runtime): Promise<Counts> {
  const counts = await countsOf(runtime);
  const queued = counts.phases.queued ?? 0;
  expect({ dispatcher: counts.dispatcherQueued, executor: counts.executorQueued }).toEqual({
    dispatcher: queued,
    executor: queued,
  });
  for (const exec of runtime.live.all()) {
    expect(dispatcherOf(runtime).queued.has(exec)).toBe(runtime.live.phaseOf(exec) === 'queued');
  }
  expect(counts.executorInFlight).toBe(counts.phases.running ?? 0);
  return counts;
}
