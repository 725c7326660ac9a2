import type { CircuitBreakerOptions } from '../../machines/circuit-breaker.machine.js';

export interface AgentConfig {
  id: string;
  name: string;
  /** The agent type registered with `agentFactory.registerAgentType`. */
  type: string;
  description: string;
  capabilities: string[];
  /** Executions this agent may run at once. */
  maxConcurrency: number;
  metadata: Record<string, unknown>;
  /** The agent's circuit breaker (see docs/policies.md); absent: none. */
  circuitBreaker?: CircuitBreakerOptions;
  createdAt: number;
  updatedAt: number;
}

export interface CreateAgentConfigInput {
  name: string;
  type: string;
  description?: string;
  capabilities?: string[];
  /** @default 1 */
  maxConcurrency?: number;
  metadata?: Record<string, unknown>;
  /** Opens the agent's circuit breaker after repeated failures; `halfOpenProbes` defaults to 1. */
  circuitBreaker?: CircuitBreakerInput;
}

/** The options of `circuitBreaker` as given; `halfOpenProbes` may be left out. */
export type CircuitBreakerInput = Omit<CircuitBreakerOptions, 'halfOpenProbes'> & { halfOpenProbes?: number };
