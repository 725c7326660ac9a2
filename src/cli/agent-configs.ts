import { isDeepStrictEqual } from 'node:util';
import type { AgentConfig, AgentFactory, CreateAgentConfigInput } from '../index.js';
import { expectCircuitBreaker } from '../services/agent-factory.js';

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
    isDeepStrictEqual(config.rateLimits ?? [], input.rateLimits ?? [])
  );
}

/**
 * The agent configs of a run, in input order: an identical config already in the store is reused,
 * so running the same file again does not pile up copies.
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
