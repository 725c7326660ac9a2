import type { Agent } from '../domain/agent.js';
import type { Task } from '../domain/task.js';
import { expectRateLimits } from '../domain/rate-limit.js';
import { InvalidArgumentError } from '../errors/errors.js';
import { parseQuota } from './budgets.js';
import type { Logger } from './logger.js';
import { expectCircuitBreaker } from './circuit-breaker-options.js';
import { expectId, expectInteger } from './validate-ids.js';

/**
 * Checks an agent given in code (to executeTask, batchExecute, executeWorkflow or a worker) before
 * anything is registered for it: an `execute` method, its `id`, and `maxConcurrency`,
 * `rateLimits`, `quota` (null: none) and `circuitBreaker` as createAgentConfig checks them.
 */
export function expectAgent(agent: unknown, name = 'agent'): Agent {
  const candidate = agent as Partial<Agent> | null;
  if (typeof candidate !== 'object' || candidate === null || typeof candidate.execute !== 'function') {
    throw new InvalidArgumentError(
      `Expected \`${name}\` to be an object with an execute(task, context) method, got ${String(agent)}`,
    );
  }
  expectId(`${name}.id`, candidate.id);
  if (candidate.maxConcurrency !== undefined)
    expectInteger(`${name}.maxConcurrency`, candidate.maxConcurrency, 1, 1);
  expectRateLimits(`${name}.rateLimits`, candidate.rateLimits);
  if (candidate.quota !== undefined && candidate.quota !== null) parseQuota(candidate.quota, `${name}.quota`);
  if (candidate.circuitBreaker !== undefined)
    expectCircuitBreaker(candidate.circuitBreaker, `${name}.circuitBreaker`);
  return candidate as Agent;
}

/**
 * The agent a resolver (`resolveAgent` of a worker or of `recover`) gave for a stored task, if it
 * passes {@link expectAgent}; an invalid one is logged as an error and counts as none.
 */
export function resolvedAgent(logger: Logger, task: Task, agent: Agent | null | undefined): Agent | null {
  if (!agent) return null;
  try {
    return expectAgent(agent, 'the agent resolveAgent gave');
  } catch (error) {
    logger.error(
      { taskId: task.id, agentKey: task.execution?.agentKey, error: (error as Error).message },
      'resolveAgent gave an agent that is not valid; the task is left as if it had none',
    );
    return null;
  }
}
