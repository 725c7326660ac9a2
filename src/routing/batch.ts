import { RoutingStrategy } from '../../machines/router.machine.js';
import type { AgentConfig } from '../domain/agent-config.js';
import type { Task } from '../domain/task.js';
import { ErrorCode } from '../errors/codes.js';
import { SymphonyError } from '../errors/symphony-error.js';
import { readOnlyLoad } from './load-table.js';
import { NO_LOAD } from './shared.js';
import { pickAgent } from './strategies.js';
import type { AgentLoad, CustomRoutingFunction, LoadSnapshot } from './types.js';

export interface BatchRoutingInput {
  tasks: readonly Readonly<Task>[];
  candidates: readonly AgentConfig[];
  /** The load before the batch; not changed. */
  load: LoadSnapshot;
  /** The router's round-robin cursor before the batch. */
  cursor: number;
}

export interface BatchRoutingPlan {
  /** The agent chosen for each task, in input order; `undefined` where none fits. */
  chosen: Array<AgentConfig | undefined>;
  /** The tasks no agent can take, with the NO_AGENT_AVAILABLE error saying why. */
  unroutable: Array<{ index: number; taskId: string; error: SymphonyError }>;
  /** The load the plan ends with: every choice one more `queued` on its agent. */
  load: LoadSnapshot;
}

/**
 * Routes tasks in order as one plan: each choice counts as one more execution queued on the
 * chosen agent for the choices after it (`inFlight` and so the capacity check stay as given),
 * and the cursor advances once per ROUND_ROBIN pick, as the router actor's does. A task no agent
 * can take is recorded and adds no load; any other error (a CUSTOM function's, a bad answer)
 * rejects at once. The built-in strategies plan synchronously: nothing runs between choices.
 *
 * @example
 * const plan = await planRoutes('LOAD_BALANCED', { tasks, candidates, load: snapshotOf(table), cursor: 0 });
 */
export async function planRoutes(
  strategy: RoutingStrategy,
  input: BatchRoutingInput,
  custom?: CustomRoutingFunction,
): Promise<BatchRoutingPlan> {
  const loads = new Map<string, AgentLoad>(input.load);
  const load = readOnlyLoad(loads);
  const step = strategy === RoutingStrategy.ROUND_ROBIN ? 1 : 0;
  let cursor = input.cursor;
  const chosen: Array<AgentConfig | undefined> = [];
  const unroutable: BatchRoutingPlan['unroutable'] = [];
  for (const [index, task] of input.tasks.entries()) {
    const pickInput = { task, candidates: input.candidates, load, cursor };
    let agent: AgentConfig;
    try {
      agent =
        strategy === RoutingStrategy.CUSTOM
          ? await pickAgent(strategy, pickInput, custom as CustomRoutingFunction)
          : pickAgent(strategy, pickInput);
    } catch (error) {
      if (!SymphonyError.isInstance(error) || error.code !== ErrorCode.NO_AGENT_AVAILABLE) throw error;
      chosen.push(undefined);
      unroutable.push({ index, taskId: task.id, error });
      continue;
    }
    chosen.push(agent);
    cursor += step;
    const before = loads.get(agent.id) ?? NO_LOAD;
    loads.set(agent.id, Object.freeze({ ...before, queued: (before.queued ?? 0) + 1 }));
  }
  return { chosen, unroutable, load };
}

/** The load as if every execution in flight were waiting: no agent is busy, none is less loaded. */
function asQueued(load: LoadSnapshot): LoadSnapshot {
  const all = new Map<string, AgentLoad>();
  for (const [agentId, entry] of load) {
    all.set(agentId, Object.freeze({ ...entry, inFlight: 0, queued: entry.inFlight + (entry.queued ?? 0) }));
  }
  return readOnlyLoad(all);
}

/**
 * As {@link planRoutes}, but a task no free agent can take is routed again among the busy ones,
 * by the same strategy, reading every agent's in-flight work as queued (a config at its
 * `maxConcurrency` is a candidate whose queue the task waits in; balancing still counts `inFlight +
 * queued`). Free agents come first: only the first pass's unroutable tasks take the second. A task
 * still unroutable then has no candidate at all (no config, none with its capabilities, ...), with
 * the second pass's error. The plan's `load` is the first pass's plus the second pass's choices.
 */
export async function planRoutesWaiting(
  strategy: RoutingStrategy,
  input: BatchRoutingInput,
  custom?: CustomRoutingFunction,
): Promise<BatchRoutingPlan> {
  const first = await planRoutes(strategy, input, custom);
  if (first.unroutable.length === 0) return first;
  const picks = first.chosen.filter((agent) => agent !== undefined).length;
  const second = await planRoutes(
    strategy,
    {
      tasks: first.unroutable.map(({ index }) => input.tasks[index]!),
      candidates: input.candidates,
      load: asQueued(first.load),
      cursor: input.cursor + (strategy === RoutingStrategy.ROUND_ROBIN ? picks : 0),
    },
    custom,
  );
  const chosen = [...first.chosen];
  const loads = new Map<string, AgentLoad>(first.load);
  const unroutable: BatchRoutingPlan['unroutable'] = [];
  first.unroutable.forEach(({ index, taskId }, at) => {
    const agent = second.chosen[at];
    if (agent === undefined) {
      unroutable.push({ index, taskId, error: second.unroutable.find((one) => one.index === at)!.error });
      return;
    }
    chosen[index] = agent;
    const before = loads.get(agent.id) ?? NO_LOAD;
    loads.set(agent.id, Object.freeze({ ...before, queued: (before.queued ?? 0) + 1 }));
  });
  return { chosen, unroutable, load: readOnlyLoad(loads) };
}
