import type { CircuitBreakerOptions } from '../../machines/circuit-breaker.machine.js';
import type { RateLimit } from './rate-limit.js';

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
  /** Token buckets its agents' attempts start within, across every engine on the store (docs/policies.md). */
  rateLimits?: RateLimit[];
}

export interface CreateAgentConfigInput {
  name: string;
  type: string;
  description?: string;
  capabilities?: string[];
  /** @default 1 */
  maxConcurrency?: number;
  metadata?: Record<string, unknown>;
  /**
   * Gives the agent a circuit breaker. Defaults: `failureThreshold` 5, `windowMs` 60000,
   * `cooldownMs` 30000, `halfOpenProbes` 1. @default none
   */
  circuitBreaker?: Partial<CircuitBreakerOptions>;
  /** e.g. `[{ requests: 60, per: 60_000 }, { tokens: 100_000, per: 60_000 }]`. @default none */
  rateLimits?: RateLimit[];
}
