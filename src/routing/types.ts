import type { AgentConfig } from '../domain/agent-config.js';
import type { Task } from '../domain/task.js';

/** What one agent is doing, as counted by the load table. */
export interface AgentLoad {
  /** Executions started and not yet settled. */
  inFlight: number;
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
