import type { AgentBuilder, AgentFactory, CreateAgentConfigInput } from '../index.js';
import type { WorkflowFile } from './workflow-file/schema.js';

/** The agent configs a file declares, as `createAgentConfig` takes them. */
export function configInputs(file: Pick<WorkflowFile, 'agents'>): CreateAgentConfigInput[] {
  return file.agents.configs.map((config) => ({
    name: config.name,
    type: config.type,
    capabilities: config.capabilities ?? [],
    description: config.description ?? '',
    maxConcurrency: config.maxConcurrency ?? 1,
    metadata: config.metadata ?? {},
    ...(config.circuitBreaker === undefined ? {} : { circuitBreaker: config.circuitBreaker }),
    ...(config.rateLimits === undefined ? {} : { rateLimits: config.rateLimits }),
    ...(config.quota === undefined ? {} : { quota: config.quota }),
  }));
}

/** The factory, noting in `types` every agent type registered through it. */
export function noteTypes(factory: AgentFactory, types: Set<string>): AgentFactory {
  return new Proxy(factory, {
    get(target, key) {
      if (key === 'registerAgentType') {
        return (type: string, build: AgentBuilder) => {
          target.registerAgentType(type, build);
          types.add(type);
        };
      }
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
