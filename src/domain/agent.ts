import type { CircuitBreakerOptions } from '../../machines/circuit-breaker.machine.js';
import type { Quota } from './agent-config.js';
import type { RateLimit } from './rate-limit.js';
import type { Task } from './task.js';
import type { Workflow } from './workflow.js';

/** What an agent sees while it runs one attempt of a task. */
export interface ExecutionContext {
  executionId: string;
  task: Readonly<Task>;
  workflow: Readonly<Workflow> | null;
  /**
   * The outputs of the tasks this one depends on in its workflow's graph, by each one's key (its
   * id when it has none); empty without dependencies (docs/workflows.md).
   */
  dependencies: Readonly<Record<string, unknown>>;
  /** The attempt being run, counting from 1. */
  attempt: number;
  /** Aborted when the attempt times out or the task or workflow is cancelled. */
  signal: AbortSignal;
  /** Free-form values; pre hooks may add to them. */
  metadata: Record<string, unknown>;
  /**
   * Reports progress: with the execution's `heartbeatTimeoutMs`, an attempt silent longer than that
   * is aborted and retried (HEARTBEAT_TIMEOUT). `details` (any value) is kept for the next attempt
   * of the same execution as `lastHeartbeat`. Cheap without a heartbeat timeout.
   */
  heartbeat(details?: unknown): void;
  /** The details of the last heartbeat an earlier attempt of this execution sent; undefined: none. */
  lastHeartbeat?: unknown;
}

/** Anything that can run a task. Its result becomes the task's `outputData`. */
export interface Agent {
  id: string;
  execute(task: Readonly<Task>, context: ExecutionContext): Promise<unknown>;
  /** Executions this agent may run at once; agents built from an AgentConfig take its value. */
  maxConcurrency?: number;
  /** The AgentConfig this agent was built from, if any. */
  configId?: string;
  /**
   * The circuit breaker of its AgentConfig, if it has one (see docs/policies.md); on an agent defined
   * in code, the fields left out take their defaults, as in `createAgentConfig`.
   */
  circuitBreaker?: Partial<CircuitBreakerOptions>;
  /** Token buckets its attempts start within (agents built from an AgentConfig take its `rateLimits`). */
  rateLimits?: readonly RateLimit[];
  /**
   * Its token and cost quota; null: none. Agents built from an AgentConfig take the config's (null
   * when it has none). An agent with a `configId` that leaves it out gets its config's stored quota
   * (read from the store), so an agent built by hand cannot escape its config's quota.
   */
  quota?: Quota | null;
}
