import { DEMO_ENGINE_OPTIONS, registerDemoAgents } from '../../examples/demo.js';
import type { Agent, AgentFactory, CustomRoutingFunction, EngineOptions, Workflow } from '../index.js';
import { loadAgentsModule, type AgentsModule } from './agents-module.js';
import { CliUsageError } from './cli-error.js';
import type { CliIO } from './io.js';
import { agentsModulesOf, runRecordOf, type RunRecord } from './run-record.js';
import { openSession, type Session } from './store.js';

/** The engine options a workflow was run with, from its run record, for a command that runs it again. */
export function engineOptionsOf(record: RunRecord | null): Omit<EngineOptions, 'store'> {
  if (record?.source === 'demo') return DEMO_ENGINE_OPTIONS;
  return {
    ...(record?.concurrency === undefined ? {} : { maxConcurrency: record.concurrency }),
    ...(record?.retry === undefined ? {} : { retry: record.retry }),
    ...(record?.timeoutMs === undefined ? {} : { timeoutMs: record.timeoutMs }),
    ...(record?.prices === undefined ? {} : { prices: record.prices }),
  };
}

/**
 * Registers the agent types that run a workflow's tasks: from `--agents` when given, else from the
 * run record (the demo's agents, or every agents module the workflow was run with: its file's and
 * its child workflow files'). Returns the `route` of `--agents` or of the file's module (what the
 * CUSTOM strategy calls), if it exports one.
 */
export async function registerAgents(
  io: CliIO,
  factory: AgentFactory,
  workflow: Workflow,
  record: RunRecord | null,
  override: string | undefined,
): Promise<CustomRoutingFunction | undefined> {
  let modules: AgentsModule[];
  if (override !== undefined) {
    modules = [await loadAgentsModule(override, io.cwd, '--agents')];
  } else if (record?.source === 'demo') {
    registerDemoAgents(factory);
    return undefined;
  } else if (agentsModulesOf(record).length > 0) {
    modules = [];
    for (const path of agentsModulesOf(record)) {
      modules.push(await loadAgentsModule(path, io.cwd, 'the agents module of the workflow'));
    }
  } else {
    throw new CliUsageError(
      `Workflow ${workflow.id} was not run by the symphony CLI, so its agents are unknown: pass --agents <module>`,
    );
  }
  for (const module of modules) await module.registerInto(factory);
  return modules[0]!.route;
}

/** A session on `spec` with the engine options the workflow was run with (its run record). */
export function openRunSession(
  spec: string,
  workflow: Workflow,
  inspect: string | boolean | undefined,
  io: Pick<CliIO, 'cwd' | 'env'>,
): Promise<Session> {
  return openSession(spec, {
    mustExist: true,
    engine: engineOptionsOf(runRecordOf(workflow)),
    inspect,
    cwd: io.cwd,
    env: io.env,
  });
}

/** A workflow's agents, loaded when first needed: see `lazyAgents`. */
export interface LazyAgents {
  /** Registers the agent types (once); returns the `route` of the agents module, if any. */
  register(): Promise<CustomRoutingFunction | undefined>;
  /** The agent of an agent config, built once (the agent types registered first). */
  agentOf(configId: string): Promise<Agent>;
  /** The agent configs whose agents were built. */
  built(): string[];
}

/** A workflow's agents (`registerAgents`), registered and built only if some task is to run here. */
export function lazyAgents(
  io: CliIO,
  factory: AgentFactory,
  workflow: Workflow,
  record: RunRecord | null,
  agentsOption: string | undefined,
): LazyAgents {
  let registered: Promise<CustomRoutingFunction | undefined> | null = null;
  const register = () => (registered ??= registerAgents(io, factory, workflow, record, agentsOption));
  const agents = new Map<string, Promise<Agent>>();
  return {
    register,
    agentOf(configId) {
      let agent = agents.get(configId);
      if (!agent) agents.set(configId, (agent = register().then(() => factory.createAgent(configId))));
      return agent;
    },
    built: () => [...agents.keys()],
  };
}
