import { ROUTING_STRATEGIES, RoutingStrategy } from '../../machines/router.machine.js';
import type { AgentConfig } from '../domain/agent-config.js';
import { InvalidArgumentError, NoAgentAvailableError } from '../errors/errors.js';
import { bestCapabilityMatches, capabilityMatch, requiredCapabilities } from './capability-match.js';
import { contentMatch, contentQuery } from './content-match.js';
import { routeCustom } from './custom.js';
import { loadBalanced } from './load-balanced.js';
import { roundRobin } from './round-robin.js';
import { hasCapacity } from './shared.js';
import type { CustomRoutingFunction, RoutingFunction, RoutingInput } from './types.js';

/** Every strategy but CUSTOM: these pick synchronously. */
export type BuiltInRoutingStrategy = Exclude<RoutingStrategy, typeof RoutingStrategy.CUSTOM>;

/** The built-in strategies by name. */
export const routingStrategies: Readonly<Record<BuiltInRoutingStrategy, RoutingFunction>> = Object.freeze({
  ROUND_ROBIN: roundRobin,
  CAPABILITY_MATCH: capabilityMatch,
  CONTENT_MATCH: contentMatch,
  LOAD_BALANCED: loadBalanced,
});

/** Why a pick came back empty, in `NoAgentAvailableError.details.reason`. */
export type NoAgentReason =
  | 'no-candidates'
  | 'all-at-limit'
  | 'missing-capabilities'
  | 'best-matches-at-limit'
  | 'no-content-match'
  | 'custom-declined'
  | 'custom-choice-at-limit';

const quote = (ids: readonly string[]): string => ids.map((id) => JSON.stringify(id)).join(', ');

/** Builds the error for a strategy that found no agent, saying why. Exported for the TaskRouter. */
export function noAgentAvailable(strategy: RoutingStrategy, input: RoutingInput): NoAgentAvailableError {
  const { task, candidates, load } = input;
  const prefix = `No agent available for task ${JSON.stringify(task.id)} (${strategy})`;
  const candidateIds = candidates.map((agent) => agent.id);
  const fail = (reason: NoAgentReason, why: string, extra: Record<string, unknown> = {}) =>
    new NoAgentAvailableError(`${prefix}: ${why}`, {
      strategy,
      reason,
      taskId: task.id,
      candidateIds,
      ...extra,
    });

  if (candidates.length === 0) return fail('no-candidates', 'there are no candidate agents');
  if (!candidates.some((agent) => hasCapacity(agent, load))) {
    return fail(
      'all-at-limit',
      `all ${candidates.length} candidate agents are at their maxConcurrency (${quote(candidateIds)})`,
    );
  }
  if (strategy === RoutingStrategy.CAPABILITY_MATCH) {
    const required = requiredCapabilities(task);
    const { best, bestOverlap } = bestCapabilityMatches(required, candidates);
    if (best.length === 0) {
      return fail(
        'missing-capabilities',
        `none of the ${candidates.length} candidates has any of the capabilities ${required.join(', ')}`,
        { requiredCapabilities: required },
      );
    }
    const bestIds = best.map((agent) => agent.id);
    const matched = bestOverlap === required.length ? 'all of' : `${bestOverlap} of`;
    return fail(
      'best-matches-at-limit',
      `the agents with ${matched} the capabilities ${required.join(', ')} (${quote(bestIds)}) ` +
        `are all at their maxConcurrency`,
      { requiredCapabilities: required, bestMatchIds: bestIds, bestOverlap },
    );
  }
  if (strategy === RoutingStrategy.CONTENT_MATCH) {
    const query = contentQuery(task);
    return fail(
      'no-content-match',
      query === ''
        ? 'the task has no text to match (inputData.query, name and description are empty)'
        : `no free candidate's name, description or capabilities matches ${JSON.stringify(query.slice(0, 200))}`,
      { query },
    );
  }
  if (strategy === RoutingStrategy.CUSTOM) {
    return fail('custom-declined', 'the custom routing function returned no agent');
  }
  // ROUND_ROBIN and LOAD_BALANCED only come back empty for the reasons handled above.
  return fail('all-at-limit', 'every candidate is at its maxConcurrency');
}

/**
 * Picks an agent for a task or throws NoAgentAvailableError (`NO_AGENT_AVAILABLE`, retryable)
 * saying why. The built-in strategies answer synchronously; CUSTOM returns a Promise (its
 * function may be async) that rejects with NoAgentAvailableError or InvalidArgumentError.
 *
 * @example
 * const agent = pickAgent('LOAD_BALANCED', { task, candidates, load: snapshotOf(table), cursor: 0 });
 * const chosen = await pickAgent('CUSTOM', input, (task, agents) => agents[0]?.id);
 */
export function pickAgent(strategy: BuiltInRoutingStrategy, input: RoutingInput): AgentConfig;
export function pickAgent(
  strategy: typeof RoutingStrategy.CUSTOM,
  input: RoutingInput,
  custom: CustomRoutingFunction,
): Promise<AgentConfig>;
export function pickAgent(
  strategy: RoutingStrategy,
  input: RoutingInput,
  custom?: CustomRoutingFunction,
): AgentConfig | Promise<AgentConfig>;
export function pickAgent(
  strategy: RoutingStrategy,
  input: RoutingInput,
  custom?: CustomRoutingFunction,
): AgentConfig | Promise<AgentConfig> {
  if (strategy === RoutingStrategy.CUSTOM) return pickCustom(input, custom);
  const route = Object.hasOwn(routingStrategies, strategy) ? routingStrategies[strategy] : undefined;
  if (route === undefined) {
    throw new InvalidArgumentError(
      `Expected a routing strategy (${ROUTING_STRATEGIES.join(', ')}), got ${JSON.stringify(String(strategy))}`,
      { details: { strategy: String(strategy) } },
    );
  }
  const agent = route(input);
  if (agent === undefined) throw noAgentAvailable(strategy, input);
  return agent;
}

async function pickCustom(
  input: RoutingInput,
  custom: CustomRoutingFunction | undefined,
): Promise<AgentConfig> {
  if (typeof custom !== 'function') {
    throw new InvalidArgumentError(
      `Expected a custom routing function for the CUSTOM strategy, got ${custom === undefined ? 'none' : typeof custom}`,
      { details: { strategy: RoutingStrategy.CUSTOM } },
    );
  }
  const { candidates, load } = input;
  if (candidates.length === 0 || !candidates.some((agent) => hasCapacity(agent, load))) {
    throw noAgentAvailable(RoutingStrategy.CUSTOM, input);
  }
  const agent = await routeCustom(custom, input);
  if (agent === undefined) throw noAgentAvailable(RoutingStrategy.CUSTOM, input);
  return agent;
}
