import type { Agent } from '../domain/agent.js';
import { expectAgent } from './expect-agent.js';
import { InvalidArgumentError } from '../errors/errors.js';
import type { AgentResolver } from './recovery.js';

/** How a worker takes work from the store (`registry.startWorker`). */
export interface WorkerOptions {
  /**
   * Builds the agent of a claimed task. A task it returns no agent for is let go at once for
   * another worker, and this worker claims no more tasks of that agent key (workers with different
   * agents can share a store).
   * @default the agent factory, from the task's agent config (`execution.agentKey`)
   */
  resolveAgent?: AgentResolver;
  /**
   * Agents defined in code this worker runs: a task whose `execution.agentKey` is one's `id` runs on
   * it (before `resolveAgent` is asked), and their `rateLimits` are recorded in the store when the
   * worker starts, so claims of every worker take their tasks within them (docs/policies.md "Rate
   * limits"). Agents `resolveAgent` returns have theirs recorded when first met. @default none
   */
  agents?: readonly Agent[];
  /** Tasks claimed at most per claim. @default 64 */
  batchSize?: number;
  /**
   * Tasks a worker may hold beyond its free slots, claimed ahead and started as slots free, so a
   * slot does not wait for a claim's round trip to the store. Worth it for many short tasks; for
   * few long ones (LLM calls of seconds) keep it 0, since a task held here waits for this worker's
   * slots while another worker may have some free. @default 0
   */
  prefetch?: number;
  /**
   * Workflows with graph parts (handed to workers as a whole by `enqueueWorkflow`) this worker
   * coordinates at once: it runs each one's graph as `executeWorkflow` does, its nodes on this
   * worker's slots. @default 10
   */
  maxWorkflows?: number;
  /**
   * Milliseconds between claims while nothing wakes the worker; on PostgreSQL commits that leave
   * work to claim wake it at once (LISTEN/NOTIFY), so this is only the fallback. @default 1000
   */
  pollMs?: number;
}

export interface ResolvedWorkerOptions {
  resolveAgent: AgentResolver;
  agents: readonly Agent[];
  batchSize: number;
  prefetch: number;
  maxWorkflows: number;
  pollMs: number;
}

/** Checks a worker's options and fills in the defaults. */
export function resolveWorkerOptions(
  options: WorkerOptions,
  defaultAgent: AgentResolver,
): ResolvedWorkerOptions {
  if (typeof options !== 'object' || options === null)
    throw new InvalidArgumentError(`Expected worker options to be an object, got ${String(options)}`);
  const {
    resolveAgent: fallback = defaultAgent,
    agents = [],
    batchSize = 64,
    prefetch = 0,
    maxWorkflows = 10,
    pollMs = 1_000,
  } = options;
  if (typeof fallback !== 'function')
    throw new InvalidArgumentError('Expected `resolveAgent` to be a function');
  if (!Array.isArray(agents))
    throw new InvalidArgumentError('Expected `agents` to be an array of agents, each with an `id`');
  agents.forEach((agent, i) => expectAgent(agent, `agents[${i}]`));
  const byId = new Map(agents.map((agent) => [agent.id, agent]));
  const resolveAgent: AgentResolver =
    byId.size === 0 ? fallback : (task) => byId.get(task.execution?.agentKey ?? '') ?? fallback(task);
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new InvalidArgumentError(`Expected \`batchSize\` to be an integer >= 1, got ${String(batchSize)}`);
  if (!Number.isInteger(prefetch) || prefetch < 0)
    throw new InvalidArgumentError(`Expected \`prefetch\` to be an integer >= 0, got ${String(prefetch)}`);
  if (!Number.isInteger(maxWorkflows) || maxWorkflows < 0) {
    throw new InvalidArgumentError(
      `Expected \`maxWorkflows\` to be an integer >= 0, got ${String(maxWorkflows)}`,
    );
  }
  if (typeof pollMs !== 'number' || !(pollMs > 0) || !Number.isFinite(pollMs))
    throw new InvalidArgumentError(`Expected \`pollMs\` to be a finite number > 0, got ${String(pollMs)}`);
  return { resolveAgent, agents, batchSize, prefetch, maxWorkflows, pollMs };
}
