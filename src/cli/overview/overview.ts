import type { WorkflowStatus } from '../../../machines/status.js';
import type { Session } from '../store.js';
import { listAgentEntries, type AgentEntry } from './agents.js';
import { listWorkerEntries, type WorkerListEntry } from './workers.js';
import { listWorkflowEntries, workflowStatusCounts, type WorkflowListEntry } from './workflows.js';

/**
 * The store at a glance: what `symphony top` prints and the dashboard's pages show. Every part
 * comes from the read model of src/cli/overview (the functions `symphony list`, `workers` and
 * `show` use), so the three agree.
 */
export interface Overview {
  /** When it was read: epoch ms of this process's clock. */
  at: number;
  /** The store, as it may be printed (a password masked). */
  store: string;
  /** Workflows of the store by status. */
  workflowsByStatus: Record<WorkflowStatus, number>;
  /** The newest workflows (of `status`, when given), at most `limit`. */
  workflows: WorkflowListEntry[];
  agents: AgentEntry[];
  /** The engines that beat on the store, the reader's own left out. */
  workers: WorkerListEntry[];
}

export interface OverviewOptions {
  limit: number;
  status?: WorkflowStatus | undefined;
  /** Read the agents' rate-limit buckets too (see peekRateLimits). @default false */
  rates?: boolean;
}

/** Reads the overview of the session's store. */
export async function readOverview(session: Session, options: OverviewOptions): Promise<Overview> {
  return {
    at: session.registry.options.clock.now(),
    store: session.storeName,
    workflowsByStatus: await workflowStatusCounts(session),
    workflows: await listWorkflowEntries(session, { status: options.status, limit: options.limit }),
    agents: await listAgentEntries(session, { rates: options.rates ?? false }),
    workers: await listWorkerEntries(session),
  };
}
