import type { CircuitBreakerOptions } from '../../machines/circuit-breaker.machine.js';
import type { RateLimit } from './rate-limit.js';

/**
 * A token and cost quota (docs/policies.md "Budgets"): a total over every task an agent config (or
 * agent) ran, in every workflow and every engine of the store; a task about to start once the spend
 * reached a limit (`spent >= limit`) ends BUDGET_EXCEEDED.
 */
export interface Quota {
  /** Tokens its tasks may use in all (the sum of `totalTokens`). @default no limit */
  tokens?: number;
  /** US dollars its tasks may cost in all, priced by the engine's `prices`. @default no limit */
  costUsd?: number;
}

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
  /** Its token and cost quota, enforced by every engine on the store (docs/policies.md); absent: none. */
  quota?: Quota;
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
  /**
   * e.g. `{ tokens: 1_000_000, costUsd: 20 }`: a quota with no limit is none. The engine option
   * `quotas` may give the config another: both apply. @default none
   */
  quota?: Quota;
}
