import { setTimeout as sleep } from 'node:timers/promises';
import { isTerminalStatus } from '../../machines/status.js';
import type {
  Agent,
  CustomRoutingFunction,
  ExecuteWorkflowOptions,
  ExecutionResult,
  ServiceRegistry,
  Task,
  WorkflowAgentResolver,
} from '../index.js';
import { childConfigFinder } from './child-agents.js';
import { CliUsageError } from './cli-error.js';
import { WATCH_POLL_MS } from './progress/watcher.js';
import { mainConfigIdsOf, type RunRecord } from './run-record.js';

/** What the CLI needs to run a workflow's graph again (resume, retry). */
export interface GraphAgentsOptions {
  registry: ServiceRegistry;
  workflowId: string;
  record: RunRecord | null;
  /** Registers the agent types (once); returns the agents module's `route`, if any. */
  register: () => Promise<CustomRoutingFunction | undefined>;
  /** The agent of an agent config, built once. */
  agentOf: (configId: string) => Promise<Agent>;
}

/**
 * The agent of each task of a graph the CLI runs again (resume, retry), as `run` gave them: a task
 * that ran keeps its agent config while that config exists and its type is registered; the
 * workflow's tasks that never started (or whose config is gone) are routed now, as one plan, with
 * the run record's strategy among the workflow file's own configs (CUSTOM through the agents
 * module's `route`); a fan-out's item or a loop's iteration made later takes its maker's; a task
 * of a child workflow, its definition entry's (the run record's `childAgents`), else it is routed
 * when it is to run.
 */
export async function graphAgents(options: GraphAgentsOptions): Promise<WorkflowAgentResolver> {
  const { registry, workflowId, record, agentOf } = options;
  const route = await options.register();
  const router = registry.getTaskRouter();
  if (route) router.setCustomStrategy(route);
  const factory = registry.getAgentFactory();
  const configs = registry.getRepository('agentConfigs');
  const all = record?.agentConfigIds ?? (await factory.listAgentConfigs()).map((config) => config.id);
  const main = record === null ? all : mainConfigIdsOf(record);
  const strategy = record?.strategy ?? 'CAPABILITY_MATCH';
  /** The config id when this engine can build its agent, else undefined. */
  const usable = async (configId: string | null | undefined): Promise<string | undefined> => {
    if (configId === null || configId === undefined) return undefined;
    const config = await configs.get(configId);
    return config && factory.hasAgentType(config.type) ? config.id : undefined;
  };
  const keptOf = async (task: Readonly<Task>) =>
    (await usable(task.execution?.agentKey)) ?? (await usable(task.agentId));
  const unfinished = (await registry.getWorkflowTracker().getWorkflowTasks(workflowId)).filter(
    (task) => !isTerminalStatus(task.status),
  );
  const toRoute: Task[] = [];
  for (const task of unfinished) if ((await keptOf(task)) === undefined) toRoute.push(task);
  const routed = toRoute.length === 0 ? [] : await router.routeTasks(toRoute, { strategy, candidates: main });
  const planned = new Map(toRoute.map((task, index) => [task.id, routed[index]!]));
  for (const configId of new Set(routed)) await agentOf(configId);
  const childConfigOf = childConfigFinder(registry, workflowId, record?.childAgents ?? {});
  return async (task) => {
    const maker = task.graph?.item?.of;
    let key =
      (await keptOf(task)) ??
      planned.get(task.id) ??
      (maker === undefined || maker === null ? undefined : planned.get(maker)) ??
      null;
    key ??= (await childConfigOf(task)) ?? null;
    if (key === null && maker !== undefined && maker !== null) {
      key = (await keptOf(await registry.getTaskManager().getTask(maker))) ?? null;
    }
    // A task the run record does not name (a child's, in a record written before it named them)
    // is routed when it is to run: the workflow's own among its file's configs.
    key ??=
      (
        await router.routeTasks([task], {
          strategy,
          candidates: task.workflowId === workflowId ? main : all,
        })
      )[0] ?? null;
    if (key === null) {
      throw new CliUsageError(`Task ${task.id} of workflow ${workflowId} has no agent: it was not routed`);
    }
    return agentOf(key);
  };
}

/**
 * Runs a workflow's graph (`executeWorkflow`) to its end. A run that stops because the workflow
 * was paused (here or from another process) waits, reading the workflow's row every `pollMs`,
 * until it is resumed, then runs on; it ends when the workflow is cancelled meanwhile, or when
 * nothing of it is left unfinished. Returns what the runs executed.
 */
export async function runGraph(
  registry: ServiceRegistry,
  workflowId: string,
  options: ExecuteWorkflowOptions,
  pollMs = WATCH_POLL_MS,
): Promise<ExecutionResult[]> {
  const executor = registry.getEnhancedExecutor();
  const results: ExecutionResult[] = [];
  for (;;) {
    const run = await executor.executeWorkflow(workflowId, options);
    results.push(...run.results);
    if (run.status !== 'PAUSED' || !(await waitWhilePaused(registry, workflowId, pollMs))) return results;
  }
}

/** Waits while the workflow is paused with work left; true once it is resumed, false if it ended. */
async function waitWhilePaused(
  registry: ServiceRegistry,
  workflowId: string,
  pollMs: number,
): Promise<boolean> {
  const workflows = registry.getRepository('workflows');
  const tasks = registry.getRepository('tasks');
  for (;;) {
    const workflow = await workflows.get(workflowId);
    if (!workflow || workflow.cancelled) return false;
    if (!workflow.paused) return true;
    const left = await tasks.find({ where: { workflowId } });
    if (left.every((task) => isTerminalStatus(task.status))) return false;
    await sleep(pollMs);
  }
}
