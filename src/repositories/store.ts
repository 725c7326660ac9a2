import type { AgentConfig } from '../domain/agent-config.js';
import type { Task } from '../domain/task.js';
import type { Workflow } from '../domain/workflow.js';
import type { Repository } from './repository.js';

/** The one record of a task's completion; a store keeps at most one per task. */
export interface CompletionRecord {
  taskId: string;
  executionId: string;
  attempt: number;
  /** Epoch milliseconds of the engine's clock. */
  completedAt: number;
}

/**
 * A steering command for a workflow (PAUSE, RESUME, CANCEL), written through the store so that
 * every engine working on the same store sees it, whichever process sent it.
 */
export interface ControlCommand {
  id: string;
  workflowId: string;
  type: 'PAUSE' | 'RESUME' | 'CANCEL';
  createdAt: number;
}

/** A command as stored: `seq` grows with every command written. */
export interface StoredCommand extends ControlCommand {
  seq: number;
}

/** Writes applied together: all of them or none. */
export interface StoreBatch {
  tasks?: readonly Task[];
  workflows?: readonly Workflow[];
  agentConfigs?: readonly AgentConfig[];
  /** Inserted; one whose task already has a completion record is skipped, never doubled. */
  completions?: readonly CompletionRecord[];
  /** Control commands, appended. */
  commands?: readonly ControlCommand[];
}

export type StoreKind = 'memory' | 'sqlite' | 'postgres';

/**
 * Everything an engine keeps. `commit` is the engine's write path: one transaction per batch of
 * transitions (group commit). The repositories serve reads and direct edits.
 */
export interface Store {
  readonly kind: StoreKind;
  readonly tasks: Repository<Task>;
  readonly workflows: Repository<Workflow>;
  readonly agentConfigs: Repository<AgentConfig>;
  /** Opens connections and applies migrations; called once before any other method. */
  open(): Promise<void>;
  commit(batch: StoreBatch): Promise<void>;
  /** Completion records of the given task, or of every task when none is given. */
  completions(taskId?: string): Promise<CompletionRecord[]>;
  /** Commands with `seq` greater than `afterSeq`, oldest first, at most `limit`. */
  commandsAfter(afterSeq: number, limit?: number): Promise<StoredCommand[]>;
  /** The `seq` of the newest command, or 0 when there is none. */
  latestCommandSeq(): Promise<number>;
  close(): Promise<void>;
}
