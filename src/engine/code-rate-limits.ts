import type { Agent } from '../domain/agent.js';
import type { Store } from '../repositories/store.js';

/**
 * Makes the rate limits of agents defined in code visible to claims (docs/policies.md "Rate
 * limits"): a worker records those of each agent it runs that has no stored config
 * (`Store.saveAgentRateLimits`), once per agent key and limits, so every claim on the store takes
 * that agent's tasks within them, as it does a config's. Agents built from a config need nothing:
 * claims read the config.
 */
export class CodeRateLimits {
  /** The limits recorded per agent key, as JSON. */
  private readonly recorded = new Map<string, string>();

  constructor(
    private readonly store: Pick<Store, 'saveAgentRateLimits'>,
    private readonly now: () => number,
  ) {}

  /** Records `agent`'s rate limits for `agentKey` if it has some, no config, and they changed. */
  async note(agentKey: string, agent: Agent): Promise<void> {
    if (agent.configId !== undefined || agent.rateLimits === undefined || agent.rateLimits.length === 0)
      return;
    if (typeof this.store.saveAgentRateLimits !== 'function') return;
    const text = JSON.stringify(agent.rateLimits);
    if (this.recorded.get(agentKey) === text) return;
    this.recorded.set(agentKey, text);
    try {
      await this.store.saveAgentRateLimits(agentKey, agent.rateLimits, this.now());
    } catch (error) {
      this.recorded.delete(agentKey);
      throw error;
    }
  }
}
