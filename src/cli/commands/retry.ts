import type { Agent, Task, TaskAgentPair, Workflow } from '../../index.js';
import { CliUsageError, UnknownIdError } from '../cli-error.js';
import { ExitCode } from '../exit-codes.js';
import { catchInterrupts, runWatched } from '../execute.js';
import { graphAgents, runGraph } from '../graph-run.js';
import { printJson, println, type CliIO } from '../io.js';
import { runRecordOf } from '../run-record.js';
import { lazyAgents, openRunSession, registerAgents } from '../workflow-agents.js';
import { openSession, resolveDbSpec, type Session } from '../store.js';
import { configsById, finishRun, type CommonOptions } from './common.js';

export interface RetryOptions extends CommonOptions {
  /** The agents module to use instead of the one the workflow was run with. */
  agents?: string;
}

/**
 * The tasks to retry: the task named, or every FAILED task of the workflow (of a workflow graph,
 * CANCELLED ones too); `graph` when some task of the workflow has a graph.
 */
async function failedTasks(
  session: Session,
  id: string,
): Promise<{ workflow: Workflow; failed: Task[]; graph: boolean }> {
  const { registry } = session;
  const taskRepository = registry.getRepository('tasks');
  const task = await taskRepository.get(id);
  const workflowId = task ? task.workflowId : id;
  if (workflowId === null)
    throw new CliUsageError(`Task ${id} belongs to no workflow; the CLI retries workflow tasks`);
  const workflow = await registry.getRepository('workflows').get(workflowId);
  if (!workflow) throw new UnknownIdError(id, session.storeName);
  const tasks = await taskRepository.find({ where: { workflowId } });
  const graph = tasks.some((one) => one.graph !== null);
  const retryable = (status: Task['status']) => status === 'FAILED' || (graph && status === 'CANCELLED');
  if (task) {
    if (!retryable(task.status)) {
      throw new CliUsageError(
        `Task ${id} is ${task.status}; only FAILED${graph ? ' or CANCELLED' : ''} tasks can be retried`,
      );
    }
    return { workflow, failed: [task], graph };
  }
  return { workflow, failed: tasks.filter((one) => retryable(one.status)), graph };
}

/**
 * `symphony retry <workflowId|taskId>`: each FAILED task is given a new run (`retryTask`: back to
 * PENDING with its history kept) and executed again on the agent config that ran it. Exit 0 when
 * every retried task completes; the workflow's status follows its tasks. A workflow graph's
 * FAILED and CANCELLED tasks are retried and its graph runs on to its end (see retryGraph).
 */
export async function retryCommand(io: CliIO, id: string, options: RetryOptions): Promise<number> {
  const json = options.json ?? false;
  const spec = resolveDbSpec(options.db, io);
  // A first look (read only) tells how the workflow was run, hence the engine options to open with.
  const probe = await openSession(spec, { mustExist: true, cwd: io.cwd, env: io.env });
  let found: { workflow: Workflow; failed: Task[]; graph: boolean };
  try {
    found = await failedTasks(probe, id);
  } finally {
    await probe.stop();
  }
  const { workflow, failed, graph } = found;
  if (workflow.cancelled)
    throw new CliUsageError(`Workflow ${workflow.id} is cancelled; its tasks cannot be retried`);
  if (workflow.paused) throw new CliUsageError(`Workflow ${workflow.id} is paused; resume it first`);
  if (failed.length === 0) {
    if (json) printJson(io.stdout, { workflowId: workflow.id, retried: [] });
    else println(io.stdout, `Nothing to retry: workflow ${workflow.id} has no failed task`);
    return ExitCode.OK;
  }
  if (graph) return retryGraph(io, json, spec, workflow, failed, options);
  const record = runRecordOf(workflow);
  const session = await openRunSession(spec, workflow, options.inspect, io);
  // Ctrl-C from here on stops the run gracefully (at once if it came before the run started).
  const interrupts = catchInterrupts(io);
  try {
    const { registry } = session;
    const factory = registry.getAgentFactory();
    await registerAgents(io, factory, workflow, record, options.agents);
    const candidates =
      record?.agentConfigIds ?? (await factory.listAgentConfigs()).map((config) => config.id);
    const router = registry.getTaskRouter();
    // A task goes back to its agent when that still exists; the others are routed as one batch.
    const retried: Task[] = [];
    const kept: Array<string | null> = [];
    for (const old of failed) {
      retried.push(await registry.getTaskManager().retryTask(old.id));
      const known = old.agentId !== null && (await registry.getRepository('agentConfigs').get(old.agentId));
      kept.push(known && factory.hasAgentType(known.type) ? known.id : null);
    }
    const toRoute = retried.filter((_, index) => kept[index] === null);
    const routed =
      toRoute.length === 0
        ? []
        : await router.routeTasks(toRoute, { strategy: record?.strategy ?? 'CAPABILITY_MATCH', candidates });
    const built = new Map<string, Agent>();
    const pairs: TaskAgentPair[] = [];
    let next = 0;
    for (const [index, task] of retried.entries()) {
      const configId = kept[index] ?? routed[next++]!;
      let agent = built.get(configId);
      if (!agent) built.set(configId, (agent = await factory.createAgent(configId)));
      pairs.push([task.id, agent]);
    }
    const taskIds = new Set(pairs.map(([taskId]) => taskId));
    const agents = await configsById(registry, [...built.keys()]);
    if (!json) println(io.stdout, `Retrying ${pairs.length} failed task(s) of workflow ${workflow.id}`);
    const outcome = await runWatched(io, json, {
      session,
      workflowId: workflow.id,
      pairs,
      agents,
      taskIds,
      ...(record?.concurrency === undefined ? {} : { maxConcurrent: record.concurrency }),
      interrupts,
    });
    return await finishRun(io, json, session, workflow.id, agents, outcome, {
      taskIds,
    });
  } finally {
    interrupts.dispose();
    await session.stop();
  }
}

/**
 * The retry of a workflow graph: its failed and cancelled tasks are given a new run (`retryTask`:
 * a loop a new round, a wait a new wait, a child-workflow node its child's failed tasks), then its
 * graph runs to its end here (`runGraph`), as `resume` continues one: what the retried tasks
 * release runs too, each task on the agent `graphAgents` gives it. Summary and exit code as for
 * `run`, over every task of the workflow.
 */
async function retryGraph(
  io: CliIO,
  json: boolean,
  spec: string,
  workflow: Workflow,
  failed: readonly Task[],
  options: RetryOptions,
): Promise<number> {
  const record = runRecordOf(workflow);
  const session = await openRunSession(spec, workflow, options.inspect, io);
  // Ctrl-C from here on stops the run gracefully (at once if it came before the run started).
  const interrupts = catchInterrupts(io);
  try {
    const { registry } = session;
    const { register, agentOf, built } = lazyAgents(
      io,
      registry.getAgentFactory(),
      workflow,
      record,
      options.agents,
    );
    await register();
    for (const task of failed) await registry.getTaskManager().retryTask(task.id);
    const resolveAgent = await graphAgents({ registry, workflowId: workflow.id, record, register, agentOf });
    const agents = await configsById(registry, record?.agentConfigIds ?? built());
    if (!json) {
      println(
        io.stdout,
        `Retrying ${failed.length} task(s) of workflow ${workflow.id} and running the rest of its graph`,
      );
    }
    const outcome = await runWatched(io, json, {
      session,
      workflowId: workflow.id,
      started: runGraph(registry, workflow.id, {
        resolveAgent,
        ...(record?.concurrency === undefined ? {} : { maxConcurrent: record.concurrency }),
      }),
      agents,
      interrupts,
    });
    return await finishRun(io, json, session, workflow.id, agents, outcome);
  } finally {
    interrupts.dispose();
    await session.stop();
  }
}
