/**
 * The agents module of fallback.yaml: agent type `model`. A config whose metadata says `down`
 * fails every attempt with a provider error; the others answer. `route` is the CUSTOM strategy:
 * the candidate with the lowest `metadata.rank` first.
 */
import type { AgentConfig, AgentFactory } from '../../src/index.js';

/** Called by `symphony run` with the engine's agent factory. */
export function register(factory: AgentFactory): void {
  factory.registerAgentType('model', (config) => ({
    execute: async (task) => {
      if (config.metadata.down === true) {
        throw Object.assign(new Error(`${config.name}: provider unavailable`), { code: 'PROVIDER_ERROR' });
      }
      return { summary: `${String(task.inputData.query)} (by ${config.name})` };
    },
  }));
}

const rank = (config: AgentConfig) => Number(config.metadata.rank ?? Infinity);

/** Routing: the best-ranked candidate (a fallback routes among the configs that did not fail). */
export function route(_task: unknown, candidates: readonly AgentConfig[]): AgentConfig | undefined {
  return [...candidates].sort((a, b) => rank(a) - rank(b))[0];
}
