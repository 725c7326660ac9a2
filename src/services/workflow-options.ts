import type { WorkflowStatus } from '../../machines/status.js';
import type { Agent } from '../domain/agent.js';
import type { ExecutionResult } from '../domain/execution-result.js';
import type { Task } from '../domain/task.js';
import type { ExecuteOptions } from '../engine/execution.js';
import type { CodeCondition, CodeList } from '../engine/workflows.js';
import type { FallbackPolicy } from './fallback.js';
import type { TaskOptionsMap } from './task-options.js';

/** Builds the agent that runs a task of a workflow graph. */
export type WorkflowAgentResolver = (task: Readonly<Task>) => Agent | Promise<Agent>;

export interface ExecuteWorkflowOptions extends ExecuteOptions {
  /** The agent every task runs on. */
  agent?: Agent;
  /** The agent of each task; the default routes each through the task router to an agent config. */
  resolveAgent?: WorkflowAgentResolver;
  /** Executions of this workflow running at once. @default no limit beyond the engine's */
  maxConcurrent?: number;
  /**
   * Conditions given in code, by task key or id, for tasks added with a function condition in an
   * earlier process (functions are not stored): give them again here after a restart.
   */
  conditions?: Record<string, CodeCondition>;
  /** Fan-out lists given in code, by task key or id, again after a restart (as `conditions`). */
  forEach?: Record<string, CodeList>;
  /** Loop conditions (`loop.until`) given in code, by task key or id, again after a restart. */
  until?: Record<string, CodeCondition>;
  /**
   * Options of single tasks, by task key or id, over the run's (see `withTaskOptions`): a fan-out's
   * items and a loop's iterations run under their maker's; a child-workflow node's apply to every
   * task of its child workflow. @default none
   * @example
   * await executor.executeWorkflow(workflow.id, { timeoutMs: 60_000, taskOptions: { fetch: { timeoutMs: 5_000 } } });
   */
  taskOptions?: TaskOptionsMap;
  /**
   * Fallback agents (docs/policies.md): a task that fails for good is routed again, leaving out the
   * agent configs that failed it, and runs there with a fresh attempt budget, up to `maxAgents`
   * configs beyond the first. Needs routing: not with `agent`. @default off
   */
  fallback?: FallbackPolicy;
  /**
   * Debounce the workflow (docs/policies.md "Debounce and singleton", "In a workflow"): the key is
   * held by this workflow, and its tasks' first attempts wait `delayMs` (at most until `maxWaitMs`
   * after the first workflow of the burst). A later workflow with the key, while none of this one's
   * tasks has started an attempt, replaces it: this one ends CANCELLED, and so does the call. Not
   * with `runAt` or `delayMs`. A call for a workflow that holds its key already (a resume) waits no
   * more. @default none
   */
  debounce?: ExecuteOptions['debounce'];
  /**
   * Singleton workflow: while another workflow holding the key is unfinished, `skip` refuses this one
   * (SingletonActiveError, SINGLETON_ACTIVE; nothing of it runs, it is left as it was) and `cancel`
   * cancels that one, then runs this one. @default none
   */
  singleton?: ExecuteOptions['singleton'];
}

export interface WorkflowResult {
  workflowId: string;
  /**
   * The workflow's status when the call resolved: COMPLETED, FAILED, CANCELLED or PAUSED; or, with
   * `stalled`, RUNNING or PENDING.
   */
  status: WorkflowStatus;
  /**
   * Present (true) when the call resolved because nothing could happen any more without the user
   * while the workflow had not ended: a task paused, or cancelled, with nodes waiting on it
   * (docs/workflows.md). Resume or retry it and call `executeWorkflow` again.
   */
  stalled?: true;
  /** What this run executed, in the order the executions ended. */
  results: ExecutionResult[];
  durationMs: number;
  /**
   * Present when the workflow FAILED and a task of it declares a compensation: true when every
   * compensation due ran and COMPLETED, false while one runs or after one failed.
   */
  compensated?: boolean;
}
