import type { Agent, ServiceRegistry, Task, TaskAgentPair, Workflow } from '../../index.js';
import { CliUsageError, UnknownIdError } from '../cli-error.js';
import { ExitCode } from '../exit-codes.js';
import { catchInterrupts, runWatched } from '../execute.js';
import { graphAgents, runGraph } from '../graph-run.js';
import { printJson, println, type CliIO } from '../io.js';
import { recordedFallback, recordedPolicies, recordedTaskOptions } from '../recorded-options.js';
import { runRecordOf, type RunRecord } from '../run-record.js';
import { ownOptionsById, withTaskOptions } from '../../services/task-options.js';
import { lazyAgents, openRunSession, registerAgents } from '../workflow-agents.js';
import { openSession, resolveDbSpec, type Session } from '../store.js';
import { waitForWorkers } from '../worker-watch.js';
import { configsById, finishRun, type CommonOptions } from './common.js';
import { SignalLatch } from '../submit-workflow.js';

export interface RetryOptions extends CommonOptions {
  /** The agents module to use instead of the one the workflow was run with. */
  agents?: string;
  /**
   * Leave the retried tasks to workers (`symphony worker`) instead of running them here; false
   * runs them here. @default how the workflow was run: true after `run --submit`
   */
  submit?: boolean;
  /** With `submit`: watch the store until the workers have finished the retried tasks. */
  wait?: boolean;
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
 * Whether the retry leaves its tasks to workers: `--submit` or `--no-submit` when given, else as
 * the workflow was run (`run --submit` notes it in the run record). A graph's retry goes to the
 * workers as a whole (see retryOnWorkers).
 */
function submitsRetry(options: RetryOptions, record: RunRecord | null): boolean {
  const submit = options.submit ?? record?.submitted === true;
  if (options.wait && !submit) {
    throw new CliUsageError(
      '--wait: expected with --submit, or for a workflow run with --submit (a retry run here always waits for its tasks)',
    );
  }
  if (submit && options.agents !== undefined) {
    throw new CliUsageError(
      '--agents: the workers run the retried tasks on their own agents (symphony worker --agents); not with --submit',
    );
  }
  return submit;
}

/**
 * The agent config each task's new run goes to: the one that ran it while it is still stored and
 * `usable` accepts its type, else one the router picks among the run's configs (those tasks as one
 * batch). Decided before any task is retried, so a routing error leaves them all FAILED.
 */
async function agentConfigsFor(
  registry: ServiceRegistry,
  failed: readonly Task[],
  record: RunRecord | null,
  usable: (type: string) => boolean,
): Promise<string[]> {
  const configs = registry.getRepository('agentConfigs');
  const kept: Array<string | null> = [];
  for (const task of failed) {
    const known = task.agentId === null ? null : await configs.get(task.agentId);
    kept.push(known && usable(known.type) ? known.id : null);
  }
  const toRoute = failed.filter((_, index) => kept[index] === null);
  if (toRoute.length === 0) return kept as string[];
  const candidates =
    record?.agentConfigIds ??
    (await registry.getAgentFactory().listAgentConfigs()).map((config) => config.id);
  const routed = await registry
    .getTaskRouter()
    .routeTasks(toRoute, { strategy: record?.strategy ?? 'CAPABILITY_MATCH', candidates });
  let next = 0;
  return kept.map((id) => id ?? routed[next++]!);
}

/**
 * `symphony retry <workflowId|taskId>`: each FAILED task is given a new run (`retryTask`: back to
 * PENDING with its history kept) on the agent config that ran it, and executed again here, or with
 * `--submit` (the default for a workflow run with `--submit`) left to workers (see
 * retryOnWorkers). Exit 0 when every retried task completes; the workflow's status follows its
 * tasks. A workflow graph's FAILED and CANCELLED tasks are retried and its graph runs on to its
 * end here (see retryGraph).
 */
export async function retryCommand(io: CliIO, id: string, options: RetryOptions): Promise<number> {
  const json = options.json ?? false;
  const spec = resolveDbSpec(options.db, io);
  if (options.submit === true && (spec === ':memory:' || spec === 'memory')) {
    throw new CliUsageError(
      `--submit: workers take the tasks from a store they open too; ${spec} is this process's own`,
    );
  }
  // A first look (read only) tells how the workflow was run, hence the engine options to open with.
  const probe = await openSession(spec, { mustExist: true, beats: false, cwd: io.cwd, env: io.env });
  let found: { workflow: Workflow; failed: Task[]; graph: boolean };
  try {
    found = await failedTasks(probe, id);
  } finally {
    await probe.stop();
  }
  const { workflow, failed } = found;
  if (workflow.cancelled)
    throw new CliUsageError(`Workflow ${workflow.id} is cancelled; its tasks cannot be retried`);
  if (workflow.paused) throw new CliUsageError(`Workflow ${workflow.id} is paused; resume it first`);
  const record = runRecordOf(workflow);
  // A run with fallback agents is run as a graph is (executeWorkflow falls back), so is its retry.
  const graph = found.graph || record?.fallback !== undefined;
  const submit = submitsRetry(options, record);
  // Tasks with policies of their own ran as a graph does here (executeWorkflow takes them).
  const ownPolicies = recordedTaskOptions(record).taskOptions !== undefined;
  if (failed.length === 0) {
    if (json) printJson(io.stdout, { workflowId: workflow.id, retried: [] });
    else println(io.stdout, `Nothing to retry: workflow ${workflow.id} has no failed task`);
    return ExitCode.OK;
  }
  if (submit) return retryOnWorkers(io, json, spec, workflow, failed, options, graph);
  if (graph || ownPolicies) return retryGraph(io, json, spec, workflow, failed, options);
  const session = await openRunSession(spec, workflow, options.inspect, io);
  // Ctrl-C from here on stops the run gracefully (at once if it came before the run started).
  const interrupts = catchInterrupts(io);
  try {
    const { registry } = session;
    const factory = registry.getAgentFactory();
    await registerAgents(io, factory, workflow, record, options.agents);
    // A task goes back to its agent when that still exists here; the others are routed as one batch.
    const configIds = await agentConfigsFor(registry, failed, record, (type) => factory.hasAgentType(type));
    const built = new Map<string, Agent>();
    const pairs: TaskAgentPair[] = [];
    for (const [index, old] of failed.entries()) {
      const task = await registry.getTaskManager().retryTask(old.id);
      const configId = configIds[index]!;
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
      execute: recordedPolicies(record),
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
 * The retry of a workflow left to workers: its failed tasks are given a new run (`retryTask`), which
 * leaves a task without an execution plan, so they are enqueued again (`enqueueTasks`), each on the
 * agent config that ran it, under the run's retry policy and timeout; a worker then claims them.
 * No agent runs here. With `--wait` the store is watched until the workers have finished them
 * (`run --submit --wait`'s watch, over the retried tasks), else it returns at once. SIGINT or
 * SIGTERM lets the hand-over finish (no task is left retried but not enqueued) and ends a wait.
 */
async function retryOnWorkers(
  io: CliIO,
  json: boolean,
  spec: string,
  workflow: Workflow,
  failed: readonly Task[],
  options: RetryOptions,
  graph: boolean,
): Promise<number> {
  const record = runRecordOf(workflow);
  const session = await openRunSession(spec, workflow, options.inspect, io);
  const latch = new SignalLatch();
  try {
    const { registry } = session;
    // The workers have the agent types: any stored config will do.
    const configIds = await agentConfigsFor(registry, failed, record, () => true);
    const manager = registry.getTaskManager();
    const previous = graph ? await session.submitted(workflow.id) : undefined;
    for (const task of failed) await manager.retryTask(task.id);
    const planned = {
      ...(record?.retry === undefined ? {} : { retry: record.retry }),
      ...(record?.timeoutMs === undefined ? {} : { timeoutMs: record.timeoutMs }),
      ...recordedPolicies(record),
    };
    const retried = new Map(failed.map((task, index) => [task.id, configIds[index]!]));
    const { taskOptions } = recordedTaskOptions(record);
    if (graph) {
      // Handed to the workers again as a whole: a node not run yet keeps the agent config it was
      // submitted with (else the one that ran it, else the first retried task's).
      await registry.getEnhancedExecutor().enqueueWorkflow(workflow.id, {
        agentKey: (task) =>
          retried.get(task.id) ?? previous?.plan.agentKeys[task.id] ?? task.agentId ?? configIds[0]!,
        ...planned,
        ...recordedFallback(record),
        ...(taskOptions === undefined ? {} : { taskOptions }),
      });
    } else {
      // Tasks with policies of their own go one by one, each under the run's and its own.
      const executor = registry.getEnhancedExecutor();
      const own = ownOptionsById(taskOptions, failed);
      const plain = [...retried].filter(([taskId]) => !own.has(taskId));
      if (plain.length > 0) await executor.enqueueTasks(plain, planned);
      for (const [taskId, options] of own) {
        await executor.enqueueTasks([[taskId, retried.get(taskId)!]], withTaskOptions(planned, options));
      }
    }
    const taskIds = new Set(failed.map((task) => task.id));
    if (!json || !options.wait) {
      if (json) {
        printJson(io.stdout, {
          workflowId: workflow.id,
          retried: [...taskIds],
          submitted: taskIds.size,
          store: session.storeName,
        });
      } else {
        println(
          io.stdout,
          `Workflow ${workflow.id}: ${taskIds.size} failed task(s) retried and submitted to workers, store ${session.storeName}`,
        );
      }
    }
    if (!options.wait) return latch.interrupted ? ExitCode.INTERRUPTED : ExitCode.OK;
    const agents = await configsById(registry, configIds);
    return await waitForWorkers(io, json, {
      session,
      workflowId: workflow.id,
      agents,
      stopped: latch.signalled,
      taskIds,
    });
  } finally {
    latch.dispose();
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
        ...recordedPolicies(record),
        ...recordedFallback(record),
        ...recordedTaskOptions(record),
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
