import type { WorkflowStatus } from '../../machines/status.js';

export interface Workflow {
  id: string;
  name: string;
  description: string;
  /** Mirrors the workflow machine's state; derived from the tasks, see docs/status-rules.md. */
  status: WorkflowStatus;
  paused: boolean;
  cancelled: boolean;
  metadata: Record<string, unknown>;
  createdAt: number;
  updatedAt: number;
}

export interface CreateWorkflowInput {
  name: string;
  description?: string;
  metadata?: Record<string, unknown>;
}
