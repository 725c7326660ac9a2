import { resolve } from 'node:path';
import {
  ErrorCode,
  SymphonyError,
  type Agent,
  type ServiceRegistry,
  type Task,
  type TaskAgentPair,
} from '../../index.js';
import { ensureAgentConfigs } from '../agent-configs.js';
import { fileAgentsModule, loadAgentsModule, type AgentsModule } from '../agents-module.js';
import {
  childAgentsOf,
  childConfigFinder,
  childEntries,
  routingSubject,
  runFiles,
  runsAgent,
  type RunFile,
} from '../child-agents.js';
import { CliUsageError } from '../cli-error.js';
import { ExitCode } from '../exit-codes.js';
import { catchInterrupts, runWatched } from '../execute.js';
import { runGraph } from '../graph-run.js';
import { printJson, println, type CliIO } from '../io.js';
import { toMetadata, type RunRecord } from '../run-record.js';
import { openSession, resolveDbSpec } from '../store.js';
import { waitForWorkers } from '../worker-watch.js';
import { definitionOf, sleepOf } from '../definition.js';
import { loadWorkflowFile } from '../workflow-file/load.js';
import { fairnessOptions } from '../workflow-file/policies.js';
import { keyOptions } from '../workflow-file/keys.js';
import type { LoadedWorkflowFile, LoadedWorkflowTask } from '../workflow-file/load.js';
import { timeLimitOptions } from '../workflow-file/time-limits.js';
import { fileTaskOptions } from '../workflow-file/task-policies.js';
import type { ExecuteWorkflowOptions } from '../../services/workflow-options.js';
import { finishRun, type CommonOptions } from './common.js';
import { configInputs, noteTypes } from '../file-agents.js';
import { refuseSingleton, SignalLatch, submitToWorkers } from '../submit-workflow.js';

export interface RunOptions extends CommonOptions {
  /** An agents module that replaces the file's `agents.module`, relative to the current directory. */
  agents?: string;
  /** Store the workflow and leave its tasks to workers (`symphony worker`) instead of running them here. */
  submit?: boolean;
  /** With `submit`: watch the store until the workers have finished the workflow. */
  wait?: boolean;
  /**
   * Check only (`symphony validate`): everything a run checks, up to the routing of every task, on
   * a store of its own in memory; no agent runs, no store is opened, and the report says so.
   */
  check?: boolean;
}

/** Adds the file's tasks to the workflow with their dependencies (by key), in one call. */
async function joinGraph(
  registry: ServiceRegistry,
  workflowId: string,
  spec: LoadedWorkflowFile,
  created: readonly Task[],
): Promise<void> {
  const idOfKey = new Map<string, string>();
  spec.tasks.forEach((entry, index) => {
    if (entry.key !== undefined) idOfKey.set(entry.key, created[index]!.id);
  });
  await registry.getWorkflowTracker().addTasksToWorkflow(
    workflowId,
    spec.tasks.map((entry, index) => ({
      taskId: created[index]!.id,
      dependsOn: entry.dependsOn.map((key) => idOfKey.get(key)!),
      ...(entry.key === undefined ? {} : { key: entry.key }),
      ...(entry.when === undefined ? {} : { when: entry.when }),
      ...(entry.forEach === undefined ? {} : { forEach: entry.forEach }),
      ...(entry.sleep === undefined ? {} : { sleep: sleepOf(entry.sleep) }),
      ...(entry.loop === undefined ? {} : { loop: entry.loop }),
      ...(entry.waitFor === undefined ? {} : { waitFor: entry.waitFor }),
      ...(entry.workflow === undefined ? {} : { workflow: { definition: definitionOf(entry) } }),
      ...(entry.compensate === undefined ? {} : { compensate: entry.compensate }),
    })),
  );
}

/** What `symphony validate` prints of a file that passed every check of a run. */
function reportValid(
  io: CliIO,
  json: boolean,
  report: { file: string; tasks: number; childEntries: number; agentConfigs: number; strategy: string },
): void {
  if (json) {
    printJson(io.stdout, { valid: true, ...report });
    return;
  }
  const { file, tasks, childEntries, agentConfigs, strategy } = report;
  const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  const children = childEntries === 0 ? '' : ` (and ${count(childEntries, 'task')} of child workflows)`;
  println(
    io.stdout,
    `${file}: valid: ${count(tasks, 'task')}${children}, ${count(agentConfigs, 'agent config')}, routing ${strategy} (checked in memory: no store opened, no agent run)`,
  );
}

/** `symphony run <file>`: validates the file, loads its agents, routes every task, runs them all. */
export async function runCommand(io: CliIO, file: string, options: RunOptions): Promise<number> {
  const json = options.json ?? false;
  if (options.wait && !options.submit) {
    throw new CliUsageError('--wait: expected with --submit (a run without it always waits for its tasks)');
  }
  const path = resolve(io.cwd, file);
  const spec = await loadWorkflowFile(path, file);
  // A file with dependencies: its tasks join the workflow with them, in the file's order once
  // sorted so that every task comes after what it depends on.
  const graphParts = spec.tasks.some(
    (entry) =>
      entry.key !== undefined ||
      entry.dependsOn.length > 0 ||
      entry.sleep !== undefined ||
      entry.loop !== undefined ||
      entry.waitFor !== undefined ||
      entry.workflow !== undefined ||
      entry.compensate !== undefined,
  );
  // Fallback agents are a graph run's (executeWorkflow routes a failed task again).
  const graph = graphParts || spec.fallback !== undefined;
  const timed = [spec, ...spec.tasks].findIndex((part) => Object.keys(timeLimitOptions(part)).length > 0);
  if (options.submit && graph && timed !== -1) {
    const whose = timed === 0 ? '' : ` (tasks[${timed - 1}] has its own)`;
    throw new CliUsageError(
      `${file}: --submit: workers take a workflow with graph parts without time limits (delayMs, runAt, scheduleToStartMs, scheduleToCloseMs, heartbeatTimeoutMs)${whose}; without --submit, symphony run runs it here`,
    );
  }
  const {
    module: agentsModule,
    modulePath,
    strategy,
  } = await fileAgentsModule(file, path, spec, options.agents, io.cwd);
  // The child workflow files' agents: --agents for all; else each file's module (a file without
  // one, the module of the file naming it), each loaded once.
  const files = runFiles(spec, path);
  const moduleOf = new Map<RunFile, AgentsModule>([[files[0]!, agentsModule]]);
  const modules = new Map<string, AgentsModule>([[agentsModule.path, agentsModule]]);
  for (const child of files.slice(1)) {
    let module = agentsModule;
    if (options.agents === undefined && child.module !== undefined && child.module !== files[0]!.module) {
      const loaded = await loadAgentsModule(
        child.module.path,
        child.module.dir,
        `${file}: ${child.module.field}`,
      );
      module = modules.get(loaded.path) ?? loaded;
      modules.set(module.path, module);
    }
    moduleOf.set(child, module);
  }
  const dbSpec = options.check ? ':memory:' : resolveDbSpec(options.db, io);
  if (options.submit && (dbSpec === ':memory:' || dbSpec === 'memory')) {
    throw new CliUsageError(
      `--submit: workers take the tasks from a store they open too; ${dbSpec} is this process's own`,
    );
  }
  const session = await openSession(dbSpec, {
    cwd: io.cwd,
    env: io.env,
    inspect: options.inspect,
    engine: {
      ...(spec.concurrency === undefined ? {} : { maxConcurrency: spec.concurrency }),
      ...(spec.retry === undefined ? {} : { retry: spec.retry }),
      ...(spec.timeoutMs === undefined ? {} : { timeoutMs: spec.timeoutMs }),
      ...(spec.agingMs === undefined ? {} : { agingMs: spec.agingMs }),
      ...(spec.prices === undefined ? {} : { prices: spec.prices }),
      routingStrategy: strategy,
      ...(agentsModule.route ? { customRouting: agentsModule.route } : {}),
    },
  });
  // Ctrl-C from here on stops the run gracefully (at once if it came before the run started); a
  // submission finishes, then ends (with --wait: its watch ends).
  const latch = options.submit ? new SignalLatch() : null;
  const interrupts = latch === null && !options.check ? catchInterrupts(io) : null;
  try {
    const { registry } = session;
    const factory = registry.getAgentFactory();
    const types = new Set<string>();
    for (const module of modules.values()) {
      try {
        await module.registerInto(noteTypes(factory, types));
      } catch (error) {
        throw new CliUsageError(
          `${module === agentsModule ? modulePath : module.path}: registering the agent types failed: ${(error as Error).message}`,
          { cause: error },
        );
      }
    }
    for (const runFile of files) {
      const module = moduleOf.get(runFile)!;
      const where = runFile.where === '' ? '' : `${runFile.where}: `;
      runFile.spec.agents.configs.forEach((config, index) => {
        if (!factory.hasAgentType(config.type)) {
          const known = [...types].map((type) => JSON.stringify(type)).join(', ');
          throw new CliUsageError(
            `${file}: ${where}agents.configs[${index}].type: expected an agent type that ${module === agentsModule ? modulePath : module.path} registers (${known || 'it registers none'}), got ${JSON.stringify(config.type)}`,
          );
        }
      });
    }
    // Each file's configs (an identical config already stored, or of an earlier file, is reused).
    const fileConfigs = [];
    for (const runFile of files)
      fileConfigs.push(await ensureAgentConfigs(factory, configInputs(runFile.spec)));
    const agents = [...new Map(fileConfigs.flat().map((config) => [config.id, config])).values()];
    const agentConfigIds = agents.map((agent) => agent.id);
    const record: RunRecord = {
      source: 'run',
      file: path,
      agentsModule: agentsModule.path,
      // Every module loaded, so that resume and retry load the child files' agents too.
      agentsModules: [...modules.keys()],
      agentConfigIds,
      // The file's own configs: its tasks are routed among these only (a resume too).
      mainAgentConfigIds: fileConfigs[0]!.map((config) => config.id),
      strategy,
      ...(options.submit ? { submitted: true } : {}),
      ...(spec.concurrency === undefined ? {} : { concurrency: spec.concurrency }),
      ...(spec.retry === undefined ? {} : { retry: spec.retry }),
      ...(spec.timeoutMs === undefined ? {} : { timeoutMs: spec.timeoutMs }),
      ...fairnessOptions(spec),
      ...(Object.keys(timeLimitOptions(spec)).length === 0 ? {} : { timeLimits: timeLimitOptions(spec) }),
      ...(spec.fallback === undefined ? {} : { fallback: { maxAgents: spec.fallback.maxAgents } }),
      ...(spec.prices === undefined ? {} : { prices: spec.prices }),
    };
    const workflow = await registry.getWorkflowTracker().createWorkflow({
      name: spec.name,
      ...(spec.description === undefined ? {} : { description: spec.description }),
      metadata: { ...toMetadata(record), ...(spec.budget === undefined ? {} : { budget: spec.budget }) },
    });
    const tasks = registry.getTaskManager();
    const router = registry.getTaskRouter();
    const created: Task[] = [];
    for (const entry of spec.tasks) {
      created.push(
        await tasks.createTask({
          name: entry.name,
          ...(graph ? {} : { workflowId: workflow.id }),
          ...(entry.description === undefined ? {} : { description: entry.description }),
          ...(entry.tags === undefined ? {} : { tags: entry.tags }),
          ...(entry.priority === undefined ? {} : { priority: entry.priority }),
          ...(entry.metadata === undefined ? {} : { metadata: entry.metadata }),
          inputData: { ...entry.inputData, ...(entry.query === undefined ? {} : { query: entry.query }) },
        }),
      );
    }
    if (graph) await joinGraph(registry, workflow.id, spec, created);
    // The tasks' own policies, by key or id: the run record keeps them for retry and resume.
    const taskOptions = fileTaskOptions(
      spec.tasks,
      created.map((task) => task.id),
    );
    const ownPolicies = Object.keys(taskOptions).length > 0;
    if (ownPolicies) {
      record.taskPolicies = taskOptions;
      await registry.getWorkflowTracker().updateWorkflowMetadata(workflow.id, toMetadata(record));
    }
    // One plan for the whole file, so load-aware strategies spread the tasks over the agents.
    let configIds: string[] = [];
    const unroutable: string[] = [];
    try {
      configIds = await router.routeTasks(created, {
        strategy,
        candidates: fileConfigs[0]!.map((config) => config.id),
      });
    } catch (error) {
      if (!SymphonyError.isInstance(error) || error.code !== ErrorCode.NO_AGENT_AVAILABLE) throw error;
      for (const { index } of error.details.unroutable as Array<{ index: number }>) {
        const entry = spec.tasks[index]!;
        unroutable.push(
          `tasks[${index}]: no agent can take ${JSON.stringify(entry.name)} (strategy ${strategy}, tags ${JSON.stringify(entry.tags ?? [])})`,
        );
      }
    }
    // The tasks of child workflows are made during the run: each entry of a definition is routed
    // now, among the agents of the file it is written in, and its tasks run on that agent.
    const entries = childEntries(files).filter((entry) => runsAgent(entry.task));
    const entryConfig = new Map<LoadedWorkflowTask, string>();
    for (const [at, configs] of fileConfigs.entries()) {
      const own = entries.filter((entry) => entry.file === at);
      if (own.length === 0) continue;
      try {
        const ids = await router.routeTasks(own.map(routingSubject), {
          strategy,
          candidates: configs.map((config) => config.id),
        });
        own.forEach((entry, index) => entryConfig.set(entry.task, ids[index]!));
      } catch (error) {
        if (!SymphonyError.isInstance(error) || error.code !== ErrorCode.NO_AGENT_AVAILABLE) throw error;
        for (const { index } of error.details.unroutable as Array<{ index: number }>) {
          const { task, where } = own[index]!;
          unroutable.push(
            `${where}: no agent can take ${JSON.stringify(task.name)} (strategy ${strategy}, tags ${JSON.stringify(task.tags ?? [])})`,
          );
        }
      }
    }
    if (unroutable.length > 0) {
      await registry.getWorkflowTracker().cancelWorkflow(workflow.id);
      const lines =
        unroutable.length === 1 ? unroutable[0] : `\n${unroutable.map((line) => `  ${line}`).join('\n')}`;
      throw new CliUsageError(
        `${file}: ${lines}${options.check ? '' : `\n(workflow ${workflow.id} was cancelled)`}`,
      );
    }
    if (options.submit) {
      const fileConfigIds = fileConfigs[0]!.map((config) => config.id);
      const submitted = await submitToWorkers(
        registry,
        file,
        spec,
        workflow.id,
        created,
        configIds,
        fileConfigIds,
        taskOptions,
      );
      if (!json || !options.wait) {
        const summary = `Workflow ${workflow.id}: ${submitted} tasks submitted to workers, ${agents.length} agents, routing ${strategy}, store ${session.storeName}`;
        if (json) {
          printJson(io.stdout, {
            workflow: { id: workflow.id, name: workflow.name },
            submitted,
            store: session.storeName,
          });
        } else println(io.stdout, summary);
      }
      if (!options.wait) return latch!.interrupted ? ExitCode.INTERRUPTED : ExitCode.OK;
      return await waitForWorkers(io, json, {
        session,
        workflowId: workflow.id,
        agents,
        stopped: latch!.signalled,
      });
    }
    const built = new Map<string, Agent>();
    const pairs: TaskAgentPair[] = [];
    for (const [index, configId] of configIds.entries()) {
      let agent = built.get(configId);
      if (!agent) built.set(configId, (agent = await factory.createAgent(configId)));
      pairs.push([created[index]!.id, agent]);
    }
    // The entries' agents join the run record, so that a resume runs the children's tasks on them.
    const entryAgents = childAgentsOf(
      spec.tasks,
      created.map((task) => task.id),
      entryConfig,
    );
    if (Object.keys(entryAgents).length > 0) {
      await registry
        .getWorkflowTracker()
        .updateWorkflowMetadata(workflow.id, toMetadata({ ...record, childAgents: entryAgents }));
    }
    if (!json && !options.check) {
      println(
        io.stdout,
        `Workflow ${workflow.id}: ${pairs.length} tasks, ${agents.length} agents, routing ${strategy}, store ${session.storeName}`,
      );
    }
    const agentOf = new Map(pairs.map(([taskId, agent]) => [taskId, agent]));
    const childConfigOf = childConfigFinder(registry, workflow.id, entryAgents);
    const childAgents = new Map<string, Promise<Agent>>(
      [...built].map(([id, agent]) => [id, Promise.resolve(agent)]),
    );
    /**
     * The agent of a task: its own (or its maker's: a fan-out's, a loop's; or for a compensation,
     * its task's), or its definition entry's.
     */
    const resolveAgent = async (task: Readonly<Task>): Promise<Agent> => {
      const maker = task.graph?.item?.of ?? task.graph?.compensates ?? task.id;
      // A task that fell back to another agent config (the file's `fallback`) names it.
      const fellBackTo = task.execution?.agentKey;
      const known = fellBackTo === undefined ? agentOf.get(maker) : undefined;
      if (known !== undefined) return known;
      const configId = fellBackTo ?? (await childConfigOf(task));
      if (configId === undefined) {
        throw new CliUsageError(
          `Task ${task.id} of workflow ${task.workflowId} is not a task of ${file}: it has no agent`,
        );
      }
      let agent = childAgents.get(configId);
      if (agent === undefined) childAgents.set(configId, (agent = factory.createAgent(configId)));
      return agent;
    };
    // A file's debounce or singleton key is held by the workflow: executeWorkflow takes it.
    const keys = keyOptions(spec);
    const keyed = Object.keys(keys).length > 0;
    const graphOptions: ExecuteWorkflowOptions = {
      ...(ownPolicies ? { taskOptions } : {}),
      // A fan-out's tasks and a loop's iterations are made during the run: they take the agent of
      // the task that made them; a child workflow's tasks, their entry's.
      resolveAgent,
      ...(spec.concurrency === undefined ? {} : { maxConcurrent: spec.concurrency }),
      ...timeLimitOptions(spec),
      ...fairnessOptions(spec),
      // A task falls back among the file's own agent configs.
      ...(spec.fallback === undefined
        ? {}
        : { fallback: { ...spec.fallback, candidates: fileConfigs[0]!.map((config) => config.id) } }),
      ...keys,
    };
    if (options.check) {
      // The options as the run would give them, checked by the executor (its plain batch takes
      // a subset of them, checked the same way).
      await registry.getEnhancedExecutor().checkWorkflowOptions(graphOptions);
      // The agents of child workflow entries are built when their tasks first run: built now.
      for (const configId of new Set(entryConfig.values()))
        if (!built.has(configId)) built.set(configId, await factory.createAgent(configId));
      reportValid(io, json, {
        file,
        tasks: created.length,
        childEntries: entries.length,
        agentConfigs: agents.length,
        strategy,
      });
      return ExitCode.OK;
    }
    const outcome = await runWatched(io, json, {
      session,
      workflowId: workflow.id,
      // A run with a key or with tasks' own policies runs as a graph does (executeWorkflow takes them).
      // A pause stops the graph's run until the workflow is resumed, then it goes on.
      ...(graph || keyed || ownPolicies
        ? { started: runGraph(registry, workflow.id, graphOptions) }
        : { pairs }),
      agents,
      ...(spec.concurrency === undefined ? {} : { maxConcurrent: spec.concurrency }),
      execute: { ...timeLimitOptions(spec), ...fairnessOptions(spec) },
      interrupts: interrupts!,
    }).catch(async (error: unknown) => {
      await refuseSingleton(registry, file, workflow.id, error);
      throw error;
    });
    return await finishRun(io, json, session, workflow.id, agents, outcome);
  } finally {
    interrupts?.dispose();
    latch?.dispose();
    await session.stop();
  }
}
