import { ROUTING_STRATEGIES, type RoutingStrategy } from '../../machines/router.machine.js';
import type { AgentConfig } from '../domain/agent-config.js';
import type { Task } from '../domain/task.js';
import { InvalidArgumentError } from '../errors/errors.js';
import type { Runtime } from '../engine/runtime.js';
import { snapshotOf } from '../routing/load-table.js';
import { pickAgent } from '../routing/strategies.js';
import type { CustomRoutingFunction, LoadSnapshot } from '../routing/types.js';
import type { TaskManager } from './task-manager.js';

export interface RouteOptions {
  /** Use this strategy for this call only. */
  strategy?: RoutingStrategy;
  /** Consider only these agent config ids. @default every agent config */
  candidates?: readonly string[];
}

function expectStrategy(strategy: unknown): RoutingStrategy {
  if (!ROUTING_STRATEGIES.includes(strategy as RoutingStrategy)) {
    throw new InvalidArgumentError(
      `Expected a routing strategy (${ROUTING_STRATEGIES.join(', ')}), got ${JSON.stringify(String(strategy))}`,
    );
  }
  return strategy as RoutingStrategy;
}

/**
 * Picks the agent config for a task. The strategy lives in the router actor (its state), the
 * load in the live load table fed by the agent actors.
 * @example
 * const agentConfigId = await router.routeTask(task, { strategy: 'LOAD_BALANCED' });
 */
export class TaskRouter {
  constructor(
    private readonly runtime: () => Promise<Runtime>,
    private readonly tasks: TaskManager,
    private custom: CustomRoutingFunction | undefined,
  ) {}

  async getStrategy(): Promise<RoutingStrategy> {
    const value = (await this.runtime()).router.getSnapshot().value;
    return value as RoutingStrategy;
  }

  /** Switches the strategy for every later call that does not name one. */
  async setStrategy(strategy: RoutingStrategy, custom?: CustomRoutingFunction): Promise<void> {
    const chosen = expectStrategy(strategy);
    if (custom !== undefined) this.setCustomStrategy(custom);
    (await this.runtime()).router.send({ type: 'SET_STRATEGY', strategy: chosen });
  }

  /** The function the CUSTOM strategy calls. */
  setCustomStrategy(custom: CustomRoutingFunction): void {
    if (typeof custom !== 'function') throw new InvalidArgumentError('Expected a custom routing function');
    this.custom = custom;
  }

  /** The live load per agent config id: in flight, completed, failed. */
  async getLoad(): Promise<LoadSnapshot> {
    return snapshotOf((await this.runtime()).load);
  }

  /** Returns the id of the chosen agent config; rejects with NO_AGENT_AVAILABLE when none fits. */
  async routeTask(task: Task | string, options: RouteOptions = {}): Promise<string> {
    const runtime = await this.runtime();
    const subject = typeof task === 'string' ? await this.tasks.getTask(task) : task;
    if (typeof subject !== 'object' || subject === null || typeof subject.id !== 'string') {
      throw new InvalidArgumentError('Expected `task` to be a Task or a task id');
    }
    const router = runtime.router.getSnapshot();
    const strategy =
      options.strategy === undefined ? (router.value as RoutingStrategy) : expectStrategy(options.strategy);
    let candidates: AgentConfig[] = await runtime.store.agentConfigs.find();
    if (options.candidates !== undefined) {
      const allowed = new Set(options.candidates);
      candidates = candidates.filter((config) => allowed.has(config.id));
    }
    const input = {
      task: subject,
      candidates,
      load: snapshotOf(runtime.load),
      cursor: router.context.cursor,
    };
    const chosen =
      strategy === 'CUSTOM'
        ? await pickAgent('CUSTOM', input, this.custom ?? missingCustom)
        : pickAgent(strategy, input);
    runtime.router.send({ type: 'ROUTED', strategy, agentId: chosen.id });
    return chosen.id;
  }
}

const missingCustom: CustomRoutingFunction = () => {
  throw new InvalidArgumentError(
    'The CUSTOM strategy needs a function: pass `customRouting` to the registry or call router.setCustomStrategy(fn)',
  );
};
