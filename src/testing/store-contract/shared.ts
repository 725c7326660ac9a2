import type { AgentConfig } from '../../domain/agent-config.js';
import type { Task } from '../../domain/task.js';
import type { Workflow } from '../../domain/workflow.js';
import type { Repository } from '../../repositories/repository.js';
import type { Store } from '../../repositories/store.js';
import { sampleAgentConfig, sampleTask, sampleWorkflow } from '../samples.js';

export interface StoreContractOptions {
  /**
   * Opens a new Store on the data of `closed` (same file, same schema), for the durability tests.
   * Leave out for stores that keep nothing after `close()`.
   */
  reopen?: (closed: Store) => Promise<Store>;
}

export type Entity = Task | Workflow | AgentConfig;

export interface RepositoryCase {
  label: 'tasks' | 'workflows' | 'agentConfigs';
  make: (id: string, name?: string) => Entity;
}

export const repositoryCases: RepositoryCase[] = [
  { label: 'tasks', make: (id, name) => sampleTask(id, name === undefined ? {} : { name }) },
  { label: 'workflows', make: (id, name) => sampleWorkflow(id, name === undefined ? {} : { name }) },
  { label: 'agentConfigs', make: (id, name) => sampleAgentConfig(id, name === undefined ? {} : { name }) },
];

/** Strings that break naive SQL building, quoting or LIKE matching; none has a NUL character. */
export const HOSTILE_STRINGS: readonly string[] = [
  "'; DROP TABLE tasks; --",
  "Robert'); DROP TABLE workflows;--",
  '" OR "1"="1',
  "' OR '1'='1",
  "\\'; SELECT 1; --",
  '%',
  '_',
  '*',
  '$1',
  '?',
  ':name',
  '@p1',
  '`backtick`',
  'line\nbreak\ttab\r',
  'Ünïcödé ✓ 🚀 中文 עברית \u202e reversed',
  '\u2028\u2029',
  'e\u0301 vs \u00e9',
];

export function pollutingPayload(): Record<string, unknown> {
  return JSON.parse(
    '{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}},"prototype":{"polluted":"yes"},"nested":[{"__proto__":{"polluted":"yes"}}]}',
  ) as Record<string, unknown>;
}

export function ids(rows: readonly { id: string }[]): string[] {
  return rows.map((row) => row.id);
}

export async function codeOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return (error as { code?: unknown }).code;
  }
  return 'resolved';
}

/** What every section of the contract works on: the store under test, replaced for each test. */
export interface ContractContext {
  store: Store;
  repo(label: RepositoryCase['label']): Repository<Entity>;
}
