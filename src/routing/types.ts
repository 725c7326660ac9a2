import type { AgentConfig } from '../domain/agent-config.js';
import type { Task } from '../domain/task.js';

/** What one agent is doing: counted by the load table, plus its waiting executions. */
export interface AgentLoad {
  /** Executions started and not yet settled. */
  inFlight: number;
  /**
   * Executions assigned to the agent and waiting to start: in its queue, or reserved by a batch
   * waiting for a lane. Held (paused) executions and those waiting out a retry delay do not count.
   * The load table does not see queues (its entries say 0); the router fills this in.
   */
  queued: number;
  /** Executions that settled successfully. */
  completed: number;
  /** Executions that settled with a failure. */
  failed: number;
}

/** Load per agent, keyed by `AgentConfig.id`; an agent missing from it has no load. */
export type LoadSnapshot = ReadonlyMap<string, AgentLoad>;

export interface RoutingInput {
  task: Readonly<Task>;
  candidates: readonly AgentConfig[];
  load: LoadSnapshot;
  /** The router's round-robin cursor; only ROUND_ROBIN reads it. */
  cursor: number;
}

/** A built-in strategy: the chosen agent, or `undefined` when none fits. Pure and synchronous. */
export type RoutingFunction = (input: RoutingInput) => AgentConfig | undefined;

/** A user's CUSTOM strategy: returns an AgentConfig, its id, or undefined for "none". May be async. */
export type CustomRoutingFunction = (
  task: Readonly<Task>,
  candidates: readonly AgentConfig[],
  load: LoadSnapshot,
) => AgentConfig | string | undefined | Promise<AgentConfig | string | undefined>;
