import type { RetryPolicy, RoutingStrategy, Workflow } from '../index.js';

/** Where the CLI keeps, in a workflow's metadata, how it ran the workflow (for `symphony retry`). */
export const RUN_RECORD_KEY = 'symphonyCli';

export interface RunRecord {
  source: 'run' | 'demo';
  /** The workflow file, absolute. */
  file?: string;
  /** The agents module, absolute. */
  agentsModule?: string;
  /** The agent configs the run routed among. */
  agentConfigIds: string[];
  strategy: RoutingStrategy;
  concurrency?: number;
  retry?: Partial<RetryPolicy>;
  timeoutMs?: number;
}

/** The run record of a workflow the CLI ran, or null. */
export function runRecordOf(workflow: Workflow): RunRecord | null {
  const record = workflow.metadata[RUN_RECORD_KEY] as RunRecord | undefined;
  if (typeof record !== 'object' || record === null || !Array.isArray(record.agentConfigIds)) return null;
  return record;
}

/** Drops undefined fields, so the record stays plain JSON. */
export function toMetadata(record: RunRecord): Record<string, unknown> {
  return { [RUN_RECORD_KEY]: JSON.parse(JSON.stringify(record)) as unknown };
}
