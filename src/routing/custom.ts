import type { AgentConfig } from '../domain/agent-config.js';
import { InvalidArgumentError, NoAgentAvailableError } from '../errors/errors.js';
import { hasCapacity, inFlightOf } from './shared.js';
import type { CustomRoutingFunction, RoutingInput } from './types.js';

const MAX_SHOWN = 200;

function describeAnswer(answer: unknown): string {
  if (typeof answer === 'string') {
    const shown = answer.length > MAX_SHOWN ? `${answer.slice(0, MAX_SHOWN)}...` : answer;
    return `the id ${JSON.stringify(shown)}`;
  }
  if (typeof answer === 'object' && answer !== null) {
    const id: unknown = (answer as { id?: unknown }).id;
    return typeof id === 'string'
      ? `an agent with id ${JSON.stringify(id)}`
      : 'an object without a string `id`';
  }
  if (typeof answer === 'symbol') return answer.toString();
  return typeof answer === 'bigint' ? `${answer}n` : String(answer);
}

function answerId(answer: unknown): string | undefined {
  if (typeof answer === 'string') return answer;
  if (typeof answer === 'object' && answer !== null) {
    const id: unknown = (answer as { id?: unknown }).id;
    if (typeof id === 'string') return id;
  }
  return undefined;
}

/**
 * Checks a CUSTOM strategy's answer against the candidates.
 *
 * `undefined` (or `null`) means "none". An id, or an AgentConfig matched by its id, must name one
 * of the candidates, and the candidate's own object is returned. Anything else throws
 * InvalidArgumentError (`INVALID_ARGUMENT`); a candidate already at its `maxConcurrency` throws
 * NoAgentAvailableError (`NO_AGENT_AVAILABLE`, retryable).
 */
export function validateCustomAnswer(answer: unknown, input: RoutingInput): AgentConfig | undefined {
  if (answer === undefined || answer === null) return undefined;
  const id = answerId(answer);
  const chosen = id === undefined ? undefined : input.candidates.find((agent) => agent.id === id);
  if (chosen === undefined) {
    const candidateIds = input.candidates.map((agent) => agent.id);
    throw new InvalidArgumentError(
      `Expected the custom routing function to return one of the candidates' ids ` +
        `(${candidateIds.map((c) => JSON.stringify(c)).join(', ') || 'none'}), such an AgentConfig, ` +
        `or undefined; got ${describeAnswer(answer)}`,
      {
        details: { strategy: 'CUSTOM', taskId: input.task.id, answer: describeAnswer(answer), candidateIds },
      },
    );
  }
  if (!hasCapacity(chosen, input.load)) {
    const inFlight = inFlightOf(input.load, chosen.id);
    throw new NoAgentAvailableError(
      `No agent available for task ${JSON.stringify(input.task.id)}: the custom routing function chose ` +
        `agent ${JSON.stringify(chosen.id)}, which is at its maxConcurrency ` +
        `(${inFlight} in flight, limit ${chosen.maxConcurrency})`,
      {
        strategy: 'CUSTOM',
        reason: 'custom-choice-at-limit',
        taskId: input.task.id,
        agentId: chosen.id,
        inFlight,
        maxConcurrency: chosen.maxConcurrency,
      },
    );
  }
  return chosen;
}

/**
 * Runs a user's CUSTOM strategy and validates its answer (see {@link validateCustomAnswer}).
 * Whatever the function throws or rejects with comes through unchanged.
 */
export async function routeCustom(
  custom: CustomRoutingFunction,
  input: RoutingInput,
): Promise<AgentConfig | undefined> {
  const answer: unknown = await custom(input.task, input.candidates, input.load);
  return validateCustomAnswer(answer, input);
}
