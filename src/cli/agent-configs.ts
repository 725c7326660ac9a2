import { isDeepStrictEqual } from 'node:util';
import type { AgentConfig, AgentFactory, CreateAgentConfigInput } from '../index.js';
import { expectCircuitBreaker } from '../services/agent-factory.js';
import { hasLimit, parseQuota, type Quota } from '../engine/budgets.js';

/** The quota a config made from `input` stores (null: none), to compare with a stored one. */
function quotaOf(input: CreateAgentConfigInput): Quota | null {
  const quota = input.quota === undefined ? undefined : parseQuota(input.quota);
  return quota !== undefined && hasLimit(quota) ? quota : null;
}

function sameConfig(config: AgentConfig, input: CreateAgentConfigInput): boolean {
  return (
    config.name === input.name &&
    config.type === input.type &&
    config.description === (input.description ?? '') &&
    config.maxConcurrency === (input.maxConcurrency ?? 1) &&
    isDeepStrictEqual(config.capabilities, input.capabilities ?? []) &&
    isDeepStrictEqual(config.metadata, input.metadata ?? {}) &&
    isDeepStrictEqual(
      config.circuitBreaker,
      input.circuitBreaker === undefined ? undefined : expectCircuitBreaker(input.circuitBreaker),
    ) &&
    isDeepStrictEqual(config.rateLimits ?? [], input.rateLimits ?? []) &&
    // A config whose quota differs is another config: the quota is never dropped by the reuse.
    isDeepStrictEqual(config.quota ?? null, quotaOf(input))
  );
}

/**
 * The agent configs of a run, in input order: an identical config already in the store is reused,
 * so running the same file again does not pile up copies (and a config's quota counts the tasks of
 * every run of it). Any difference, the quota's too, makes a new config.
 */
export async function ensureAgentConfigs(
  factory: AgentFactory,
  inputs: readonly CreateAgentConfigInput[],
): Promise<AgentConfig[]> {
  const existing = await factory.listAgentConfigs();
  const configs: AgentConfig[] = [];
  for (const input of inputs) {
    const found = existing.find((config) => sameConfig(config, input) && !configs.includes(config));
    configs.push(found ?? (await factory.createAgentConfig(input)));
  }
  return configs;
}
