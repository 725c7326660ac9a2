import type { Agent } from '../domain/agent.js';
import type { Task } from '../domain/task.js';
import { ErrorCode } from '../errors/codes.js';
import { InvalidArgumentError } from '../errors/errors.js';
import { SymphonyError } from '../errors/symphony-error.js';
import type { Runtime } from '../engine/runtime.js';
import { expectInteger, expectRecord, expectStrings } from './validate.js';

/**
 * Fallback agents (docs/policies.md): a task of a routed workflow that fails for good (its retries
 * spent, or an error not worth retrying; not a cancellation) is routed again by the router's
 * strategy, leaving out every agent config that failed it, and runs there with a fresh attempt
 * budget, up to `maxAgents` agents beyond the first.
 */
export interface FallbackPolicy {
  /** How many agent configs beyond the first a task may fall back to (at least 1). */
  maxAgents: number;
  /** Fall back only to these agent config ids. @default every agent config */
  candidates?: readonly string[];
}

/**
 * Routes a failed task among the agent configs not in `exclude`, a config at its maxConcurrency
 * included (the task waits in its queue; RouteOptions.queueWhenBusy): the chosen config's id;
 * rejects with NO_AGENT_AVAILABLE or CIRCUIT_OPEN when no candidate is left (see TaskRouter.routeTask).
 */
export type FallbackRoute = (
  task: Task,
  exclude: readonly string[],
  candidates: readonly string[] | undefined,
) => Promise<string>;

/** How a run falls back: the router, and the agent of a config. */
export interface FallbackDoors {
  route: FallbackRoute;
  /** The agent that runs a task on the agent config `agentKey` (the default: the agent factory's). */
  agentOf(agentKey: string): Agent | Promise<Agent>;
}

/** The task metadata field listing the agent configs that failed the task, oldest first. */
export const FALLBACK_FROM = 'fallbackFrom';
/** The task metadata field naming the agent config the task fell back to last. */
export const FALLBACK_AGENT = 'fallbackAgent';

/** Checks a `fallback` option; undefined when not given (no fallback). */
export function expectFallback(value: unknown): FallbackPolicy | undefined {
  if (value === undefined) return undefined;
  const { maxAgents, candidates, ...rest } = expectRecord('fallback', value) as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) {
    throw new InvalidArgumentError(`Unknown \`fallback\` field ${JSON.stringify(unknown[0])}`);
  }
  if (maxAgents === undefined) throw new InvalidArgumentError('Expected `fallback.maxAgents`');
  const policy: FallbackPolicy = { maxAgents: expectInteger('fallback.maxAgents', maxAgents, 1, 1) };
  if (candidates !== undefined) policy.candidates = expectStrings('fallback.candidates', candidates);
  return policy;
}

/** The agent configs that failed the task for good so far, as its metadata records them. */
export function fallbackFrom(task: Pick<Task, 'metadata'>): string[] {
  const from = task.metadata?.[FALLBACK_FROM];
  return Array.isArray(from) ? from.filter((id): id is string => typeof id === 'string') : [];
}

/** The agent config a task fell back to, while it waits to run there (no execution plan yet). */
export function fallbackAgentOf(task: Readonly<Task>): string | undefined {
  if (task.execution !== null) return undefined;
  const agent = task.metadata?.[FALLBACK_AGENT];
  return typeof agent === 'string' ? agent : undefined;
}

/** A task given the agent config it fell back to, as a resolver reads it: `execution.agentKey`. */
export function withFallbackAgent(task: Readonly<Task>, agentKey: string): Readonly<Task> {
  return { ...task, execution: { agentKey } as Task['execution'] };
}

/**
 * Routing found no agent left to fall back to: the task stays FAILED. A busy config is not a
 * reason: the route counts it as a candidate whose queue the task waits in.
 */
function isNoAgentLeft(error: unknown): boolean {
  return (
    SymphonyError.isInstance(error) &&
    (error.code === ErrorCode.NO_AGENT_AVAILABLE || error.code === ErrorCode.CIRCUIT_OPEN)
  );
}

/** What falling back needs of the engine. */
export type FallbackEngine = Pick<
  Runtime,
  'store' | 'committer' | 'door' | 'workflows' | 'executionOf' | 'decideOnStored'
>;

/**
 * Gives a task that just failed for good a new run on the next agent config: the router picks one
 * among those that have not failed it, its metadata records the configs that failed it
 * (`fallbackFrom`) and the one chosen (`fallbackAgent`), and the task machine takes RETRY through
 * the task door (PENDING again, error history kept, a fresh attempt budget). Returns the config
 * chosen, or null when the task stays FAILED: the limit is reached, routing finds no candidate
 * config left (NO_AGENT_AVAILABLE, CIRCUIT_OPEN; one only busy is a candidate), or the task is no
 * longer a FAILED task of a live workflow.
 */
export async function fallBack(
  engine: FallbackEngine,
  taskId: string,
  policy: FallbackPolicy,
  route: FallbackRoute,
): Promise<string | null> {
  await engine.committer.settleTasks([taskId]);
  const chosen = await engine.decideOnStored(
    async (touched) => {
      const task = await engine.store.tasks.get(taskId);
      if (!task || task.status !== 'FAILED' || task.agentId === null) return null;
      const from = fallbackFrom(task);
      if (!from.includes(task.agentId)) from.push(task.agentId);
      // `from` holds the first agent and each fallback: at most maxAgents of them are fallbacks.
      if (from.length > policy.maxAgents) return null;
      let agentKey: string;
      try {
        agentKey = await route(task, from, policy.candidates);
      } catch (error) {
        if (isNoAgentLeft(error)) return null;
        throw error;
      }
      const workflow = task.workflowId === null ? null : await engine.workflows.get(task.workflowId);
      if (workflow?.row.cancelled || engine.executionOf(taskId) || touched.has(taskId)) return null;
      task.metadata = { ...task.metadata, [FALLBACK_FROM]: from, [FALLBACK_AGENT]: agentKey };
      engine.door.send(task, { type: 'RETRY' });
      // The metadata is beyond the task's state: the row is written whole.
      engine.committer.stageTask(task);
      return agentKey;
    },
    [taskId],
  );
  await engine.committer.settle();
  return chosen;
}
