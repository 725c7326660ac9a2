import type { SimulatedClock } from 'xstate';
import { ServiceRegistry, type ServiceRegistryOptions } from '../service-registry.js';
import type { AgentFactory } from '../services/agent-factory.js';
import type { EnhancedExecutor } from '../services/enhanced-executor.js';
import type { TaskManager } from '../services/task-manager.js';
import type { TaskRouter } from '../services/task-router.js';
import type { WorkflowTracker } from '../services/workflow-tracker.js';
import { createTestClock, nextTurn } from './clock.js';

/**
 * Stops a registry at once on a simulated clock: grace 0, with the clock nudged (increment 0) each
 * turn so the zero-length grace timer fires.
 */
export async function stopNow(registry: ServiceRegistry, clock: SimulatedClock): Promise<void> {
  let stopped = false;
  const stopping = registry.stop({ graceMs: 0 }).finally(() => (stopped = true));
  for (let turn = 0; turn < 100 && !stopped; turn += 1) {
    await nextTurn();
    clock.increment(0);
  }
  await stopping;
}

/** Ids `${prefix}1`, `${prefix}2`, ... in call order. */
export function sequentialIds(prefix = 'id-'): () => string {
  let next = 0;
  return () => `${prefix}${(next += 1)}`;
}

export interface TestRegistryOptions extends Omit<ServiceRegistryOptions, 'clock'> {
  /** @default createTestClock(start) */
  clock?: SimulatedClock;
  /** Start time of the default clock, in epoch ms. @default 0 */
  start?: number;
}

export interface TestRegistry {
  registry: ServiceRegistry;
  clock: SimulatedClock;
  taskManager: TaskManager;
  workflowTracker: WorkflowTracker;
  executor: EnhancedExecutor;
  router: TaskRouter;
  agentFactory: AgentFactory;
  /**
   * Stops the registry without waiting for agents that never settle: running attempts are
   * aborted at once (grace period 0 on the simulated clock); unfinished executions reject with
   * ENGINE_STOPPED.
   */
  stop(): Promise<void>;
}

/**
 * A registry for tests: in-memory store, simulated clock, sequential ids (`id-1`, ...), `random`
 * fixed at 0.5 (no jitter), plus its services. Any option may be overridden.
 * @example
 * const kit = createTestRegistry({ retry: { maxAttempts: 2, initialDelayMs: 100 } });
 * const task = await kit.taskManager.createTask({ name: 'Summarise' });
 * const done = kit.executor.executeTask(task.id, failingAgent('flaky', 1));
 * await flushEngine(); // the first attempt fails; the retry waits 100 ms of simulated time
 * await advance(kit.clock, 100);
 * expect((await done).status).toBe('COMPLETED');
 * await kit.stop();
 */
export function createTestRegistry(options: TestRegistryOptions = {}): TestRegistry {
  const { start, clock: given, ...rest } = options;
  const clock = given ?? createTestClock(start);
  const registry = new ServiceRegistry({
    store: ':memory:',
    clock,
    idGenerator: sequentialIds(),
    random: () => 0.5,
    ...rest,
  });
  return {
    registry,
    clock,
    taskManager: registry.getTaskManager(),
    workflowTracker: registry.getWorkflowTracker(),
    executor: registry.getEnhancedExecutor(),
    router: registry.getTaskRouter(),
    agentFactory: registry.getAgentFactory(),
    stop: () => stopNow(registry, clock),
  };
}
