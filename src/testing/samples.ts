import type { AgentConfig } from '../domain/agent-config.js';
import type { ExecutionPlan, Task } from '../domain/task.js';
import type { Workflow } from '../domain/workflow.js';

/** The creation time of every sample row, in epoch milliseconds. */
export const SAMPLE_TIME = 1_700_000_000_000;
const T0 = SAMPLE_TIME;

/** A valid task with every field set; `overrides` replace fields. */
export function sampleTask(id: string, overrides: Partial<Task> = {}): Task {
  return {
    id,
    name: `task ${id}`,
    description: '',
    inputData: {},
    outputData: null,
    tags: [],
    priority: 0,
    status: 'PENDING',
    attempts: 0,
    errors: [],
    workflowId: null,
    agentId: null,
    idempotencyKey: null,
    metadata: {},
    createdAt: T0,
    updatedAt: T0,
    startedAt: null,
    finishedAt: null,
    runAfter: null,
    execution: null,
    leaseOwner: null,
    leaseExpiresAt: null,
    graph: null,
    ...overrides,
  };
}

export function sampleWorkflow(id: string, overrides: Partial<Workflow> = {}): Workflow {
  return {
    id,
    name: `workflow ${id}`,
    description: '',
    status: 'PENDING',
    paused: false,
    cancelled: false,
    metadata: {},
    createdAt: T0,
    updatedAt: T0,
    ...overrides,
  };
}

export function sampleAgentConfig(id: string, overrides: Partial<AgentConfig> = {}): AgentConfig {
  return {
    id,
    name: `agent ${id}`,
    type: 'echo',
    description: '',
    capabilities: [],
    maxConcurrency: 1,
    metadata: {},
    createdAt: T0,
    updatedAt: T0,
    ...overrides,
  };
}

/**
 * An execution plan of `agentKey` as an enqueue writes it: one attempt, no delays, no timeout,
 * priority 0; `overrides` replace fields (a `concurrencyKey`, a `priority`...).
 */
export function samplePlan(agentKey: string, overrides: Partial<ExecutionPlan> = {}): ExecutionPlan {
  return {
    agentKey,
    attemptLimit: 1,
    maxAttempts: 1,
    initialDelayMs: 0,
    backoffFactor: 2,
    maxDelayMs: 0,
    jitter: 0,
    nonRetryableErrors: [],
    timeoutMs: 0,
    priority: 0,
    metadata: {},
    ...overrides,
  };
}
