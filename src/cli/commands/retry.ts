import { DEMO_ENGINE_OPTIONS, registerDemoAgents } from '../../../examples/demo.js';
import type { Agent, AgentFactory, EngineOptions, Task, TaskAgentPair, Workflow } from '../../index.js';
import { loadAgentsModule } from '../agents-module.js';
import { CliUsageError } from '../cli-error.js';
import { ExitCode } from '../exit-codes.js';
import { runWatched } from '../execute.js';
import { printJson, println, type CliIO } from '../io.js';
import { runRecordOf, type RunRecord } from '../run-record.js';
import { openSession, resolveDbSpec, type Session } from '../store.js';
import { configsById, finishRun, type CommonOptions } from './common.js';

export interface RetryOptions extends CommonOptions {
  /** The agents module to use instead of the one the workflow was run with. */
  agents?: string;
}

/** The FAILED tasks to retry: the task named, or every failed task of the workflow not retried yet. */
async function failedTasks(session: Session, id: string): Promise<{ workflow: Workflow; failed: Task[] }> {
  const { registry } = session;
  const taskRepository = registry.getRepository('tasks');
  const task = await taskRepository.get(id);
  const workflowId = task ? task.workflowId : id;
  if (workflowId === null)
    throw new CliUsageError(`Task ${id} belongs to no workflow; the CLI retries workflow tasks`);
  const workflow = await registry.getRepository('workflows').get(workflowId);
  if (!workflow)
    throw new CliUsageError(`No workflow or task with id ${JSON.stringify(id)} in ${session.storeName}`);
  const tasks = await taskRepository.find({ where: { workflowId } });
  const retriedAs = new Map<string, string>();
  for (const candidate of tasks) {
    if (typeof candidate.metadata.retryOf === 'string')
      retriedAs.set(candidate.metadata.retryOf, candidate.id);
  }
  if (task) {
    if (task.status !== 'FAILED') {
      throw new CliUsageError(`Task ${id} is ${task.status}; only FAILED tasks can be retried`);
    }
    const again = retriedAs.get(task.id);
    if (again !== undefined)
      throw new CliUsageError(`Task ${id} was already retried as task ${again}; retry that one`);
    return { workflow, failed: [task] };
  }
  return { workflow, failed: tasks.filter((t) => t.status === 'FAILED' && !retriedAs.has(t.id)) };
}

function engineOptionsOf(record: RunRecord | null): Omit<EngineOptions, 'store'> {
  if (record?.source === 'demo') return DEMO_ENGINE_OPTIONS;
  return {
    ...(record?.concurrency === undefined ? {} : { maxConcurrency: record.concurrency }),
    ...(record?.retry === undefined ? {} : { retry: record.retry }),
    ...(record?.timeoutMs === undefined ? {} : { timeoutMs: record.timeoutMs }),
  };
}

async function registerAgents(
  io: CliIO,
  factory: AgentFactory,
  workflow: Workflow,
  record: RunRecord | null,
  override: string | undefined,
): Promise<void> {
  if (override !== undefined) {
    await (await loadAgentsModule(override, io.cwd, '--agents')).registerInto(factory);
  } else if (record?.source === 'demo') {
    registerDemoAgents(factory);
  } else if (record?.agentsModule !== undefined) {
    await (
      await loadAgentsModule(record.agentsModule, io.cwd, 'the agents module of the workflow')
    ).registerInto(factory);
  } else {
    throw new CliUsageError(
      `Workflow ${workflow.id} was not run by the symphony CLI, so its agents are unknown: pass --agents <module>`,
    );
  }
}

/**
 * `symphony retry <workflowId|taskId>`: a FAILED task is final, so each failed task gets a NEW
 * task in the same workflow with the same input and `metadata.retryOf` = the failed task's id,
 * run on the agent config that ran the failed one. Exit 0 when every new task completes.
 */
export async function retryCommand(io: CliIO, id: string, options: RetryOptions): Promise<number> {
  const json = options.json ?? false;
  const spec = resolveDbSpec(options.db, io);
  // A first look (read only) tells how the workflow was run, hence the engine options to open with.
  const probe = await openSession(spec, { mustExist: true });
  let found: { workflow: Workflow; failed: Task[] };
  try {
    found = await failedTasks(probe, id);
  } finally {
    await probe.stop();
  }
  const { workflow, failed } = found;
  if (workflow.cancelled)
    throw new CliUsageError(`Workflow ${workflow.id} is cancelled; its tasks cannot be retried`);
  if (workflow.paused) throw new CliUsageError(`Workflow ${workflow.id} is paused; resume it first`);
  if (failed.length === 0) {
    if (json) printJson(io.stdout, { workflowId: workflow.id, retried: [] });
    else
      println(
        io.stdout,
        `Nothing to retry: workflow ${workflow.id} has no failed task that was not retried yet`,
      );
    return ExitCode.OK;
  }
  const record = runRecordOf(workflow);
  const session = await openSession(spec, { mustExist: true, engine: engineOptionsOf(record) });
  try {
    const { registry } = session;
    const factory = registry.getAgentFactory();
    await registerAgents(io, factory, workflow, record, options.agents);
    const candidates =
      record?.agentConfigIds ?? (await factory.listAgentConfigs()).map((config) => config.id);
    const router = registry.getTaskRouter();
    const built = new Map<string, Agent>();
    const pairs: TaskAgentPair[] = [];
    for (const old of failed) {
      const task = await registry.getTaskManager().createTask({
        name: old.name,
        description: old.description,
        inputData: old.inputData,
        tags: old.tags,
        priority: old.priority,
        metadata: { ...old.metadata, retryOf: old.id },
        workflowId: workflow.id,
        idempotencyKey: `retry-of:${old.id}`,
      });
      const known = old.agentId !== null && (await registry.getRepository('agentConfigs').get(old.agentId));
      const configId =
        known && factory.hasAgentType(known.type)
          ? known.id
          : await router.routeTask(task, { strategy: record?.strategy ?? 'CAPABILITY_MATCH', candidates });
      let agent = built.get(configId);
      if (!agent) built.set(configId, (agent = await factory.createAgent(configId)));
      pairs.push([task.id, agent]);
    }
    const taskIds = new Set(pairs.map(([taskId]) => taskId));
    const agents = await configsById(registry, [...built.keys()]);
    if (!json)
      println(io.stdout, `Retrying ${pairs.length} failed task(s) of workflow ${workflow.id} as new tasks`);
    const outcome = await runWatched(io, json, {
      session,
      workflowId: workflow.id,
      pairs,
      agents,
      taskIds,
      ...(record?.concurrency === undefined ? {} : { maxConcurrent: record.concurrency }),
    });
    return await finishRun(io, json, session, workflow.id, agents, outcome, {
      taskIds,
      print: (summary) => {
        if (summary.workflow.status === 'FAILED') {
          println(
            io.stdout,
            'The workflow stays FAILED: a failed task is final; the counts above are its retries.',
          );
        }
      },
    });
  } finally {
    await session.stop();
  }
}
