import type { Agent } from '../domain/agent.js';
import type { AgentConfig, CreateAgentConfigInput } from '../domain/agent-config.js';
import { ErrorCode } from '../errors/codes.js';
import { AgentConfigNotFoundError, AgentTypeNotFoundError, InvalidArgumentError } from '../errors/errors.js';
import { expectCircuitBreaker } from '../engine/circuit-breaker-options.js';
import { copyRecord } from '../engine/payload.js';
import { expectRateLimits } from '../domain/rate-limit.js';
import { hasLimit, parseQuota } from '../engine/budgets.js';
import type { Runtime } from '../engine/runtime.js';
import {
  expectFields,
  expectId,
  expectInteger,
  expectRecord,
  expectString,
  expectStrings,
} from './validate.js';

export { expectCircuitBreaker };

/** What the agent factory needs of the engine. */
export type AgentFactoryEngine = Pick<Runtime, 'options' | 'store'>;

/** Builds the agent of one config; called by `createAgent`. */
export type AgentBuilder = (
  config: Readonly<AgentConfig>,
) => Pick<Agent, 'execute'> | Promise<Pick<Agent, 'execute'>>;

/**
 * Knows agent types (code) and agent configs (data), and builds agents from configs.
 * @example
 * agentFactory.registerAgentType('echo', () => ({ execute: async (task) => task.inputData }));
 * const config = await agentFactory.createAgentConfig({ name: 'Echo', type: 'echo', capabilities: ['text'] });
 * const agent = await agentFactory.createAgent(config.id);
 */
export class AgentFactory {
  private readonly builders = new Map<string, AgentBuilder>();

  constructor(private readonly runtime: () => Promise<AgentFactoryEngine>) {}

  registerAgentType(type: string, build: AgentBuilder): void {
    expectId('type', type);
    if (typeof build !== 'function') throw new InvalidArgumentError('Expected `build` to be a function');
    this.builders.set(type, build);
  }

  hasAgentType(type: string): boolean {
    return this.builders.has(type);
  }

  async createAgentConfig(input: CreateAgentConfigInput): Promise<AgentConfig> {
    const fields = expectFields('input', input);
    const name = expectString('name', fields.name);
    const type = expectId('type', fields.type);
    const metadata = expectRecord('metadata', fields.metadata);
    const runtime = await this.runtime();
    const limit = runtime.options.maxPayloadBytes;
    const metadataCopy = copyRecord(metadata, 'metadata', limit, ErrorCode.INPUT_NOT_SERIALIZABLE);
    const now = runtime.options.clock.now();
    const config: AgentConfig = {
      id: runtime.options.idGenerator(),
      name,
      type,
      description: expectString('description', fields.description, ''),
      capabilities: expectStrings('capabilities', fields.capabilities),
      maxConcurrency: expectInteger('maxConcurrency', fields.maxConcurrency, 1, 1),
      metadata: metadataCopy,
      ...(fields.circuitBreaker === undefined
        ? {}
        : { circuitBreaker: expectCircuitBreaker(fields.circuitBreaker) }),
      createdAt: now,
      updatedAt: now,
    };
    const rateLimits = expectRateLimits('rateLimits', fields.rateLimits);
    if (rateLimits !== undefined && rateLimits.length > 0) config.rateLimits = rateLimits;
    const quota = fields.quota === undefined ? undefined : parseQuota(fields.quota);
    if (quota !== undefined && hasLimit(quota)) config.quota = quota;
    await runtime.store.agentConfigs.create(config);
    return config;
  }

  async getAgentConfig(agentConfigId: string): Promise<AgentConfig> {
    const id = expectId('agentConfigId', agentConfigId);
    const config = await (await this.runtime()).store.agentConfigs.get(id);
    if (!config) throw new AgentConfigNotFoundError(id);
    return config;
  }

  async listAgentConfigs(): Promise<AgentConfig[]> {
    return (await this.runtime()).store.agentConfigs.find();
  }

  /**
   * Builds the agent of a config; its id is the config id, its limit the config's maxConcurrency,
   * and it carries the config's breaker, rate limits and quota.
   */
  async createAgent(agentConfigId: string): Promise<Agent> {
    const config = await this.getAgentConfig(agentConfigId);
    const build = this.builders.get(config.type);
    if (!build) throw new AgentTypeNotFoundError(config.type);
    const built = await build(config);
    if (typeof built !== 'object' || built === null || typeof built.execute !== 'function') {
      throw new InvalidArgumentError(
        `The builder of agent type ${config.type} did not return an object with execute()`,
      );
    }
    return {
      id: config.id,
      configId: config.id,
      maxConcurrency: config.maxConcurrency,
      ...(config.circuitBreaker ? { circuitBreaker: config.circuitBreaker } : {}),
      ...(config.rateLimits?.length ? { rateLimits: config.rateLimits } : {}),
      quota: config.quota ?? null,
      execute: (task, context) => built.execute(task, context),
    };
  }
}
