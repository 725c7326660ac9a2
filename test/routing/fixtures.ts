import type { AgentConfig } from '../../src/domain/agent-config.js';
import type { Task } from '../../src/domain/task.js';
import { sampleTask } from '../../src/testing/samples.js';
import type { AgentLoad, LoadSnapshot, RoutingInput } from '../../src/routing/types.js';

export function agent(id: string, overrides: Partial<AgentConfig> = {}): AgentConfig {
  return {
    id,
    name: id,
    type: 'test',
    description: '',
    capabilities: [],
    maxConcurrency: 1,
    metadata: {},
    createdAt: 0,
    updatedAt: 0,
    ...overrides,
  };
}

export function task(overrides: Partial<Task> = {}): Task {
  return sampleTask('t1', { name: '', createdAt: 0, updatedAt: 0, ...overrides });
}

/** A load snapshot from `{ agentId: inFlight }`. */
export function inFlight(counts: Record<string, number> = {}): LoadSnapshot {
  return new Map<string, AgentLoad>(
    Object.entries(counts).map(([id, n]) => [id, { inFlight: n, queued: 0, completed: 0, failed: 0 }]),
  );
}

/** A load snapshot from `{ agentId: { inFlight?, queued? } }`. */
export function loads(counts: Record<string, { inFlight?: number; queued?: number }>): LoadSnapshot {
  return new Map<string, AgentLoad>(
    Object.entries(counts).map(([id, { inFlight = 0, queued = 0 }]) => [
      id,
      { inFlight, queued, completed: 0, failed: 0 },
    ]),
  );
}

export function input(
  candidates: readonly AgentConfig[],
  overrides: Partial<Omit<RoutingInput, 'candidates'>> = {},
): RoutingInput {
  return { task: task(), candidates, load: inFlight(), cursor: 0, ...overrides };
}
