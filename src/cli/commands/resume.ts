import { isTerminalStatus } from '../../../machines/status.js';
import type {
  Agent,
  CustomRoutingFunction,
  ExecutionResult,
  RecoveryReport,
  ServiceRegistry,
  Task,
  Workflow,
} from '../../index.js';
import { CliUsageError } from '../cli-error.js';
import { ExitCode } from '../exit-codes.js';
import { catchInterrupts, runWatched } from '../execute.js';
import { formatDuration } from '../format.js';
import { graphAgents, runGraph } from '../graph-run.js';
import { printJson, println, type CliIO } from '../io.js';
import { recordedFallback, recordedPolicies, recordedTaskOptions } from '../recorded-options.js';
import { runRecordOf, type RunRecord } from '../run-record.js';
import { runPlanless } from '../planless-runs.js';
import { openSession, resolveDbSpec, type Session } from '../store.js';
import { lazyAgents, openRunSession } from '../workflow-agents.js';
import { configsById, finishRun, type CommonOptions } from './common.js';

export interface ResumeOptions extends CommonOptions {
  /** The agents module to use instead of the one the workflow was run with. */
  agents?: string;
}

/**
 * The workflow to resume, read before anything changes: refused (a usage error) when it is
 * neither paused nor has an unfinished task. `graph`: some task of it has a graph.
 */
export async function resumable(
  session: Session,
  workflowId: string,
): Promise<{ workflow: Workflow; unfinished: number; graph: boolean }> {
  const tracker = session.registry.getWorkflowTracker();
  const workflow = await tracker.getWorkflow(workflowId);
  const tasks = await tracker.getWorkflowTasks(workflowId);
  const unfinished = tasks.filter((task) => !isTerminalStatus(task.status)).length;
  if (!workflow.paused && unfinished === 0) {
    throw new CliUsageError(
      `Workflow ${workflowId} is ${workflow.status}, not paused, with no unfinished task; there is nothing to resume`,
    );
  }
  return { workflow, unfinished, graph: tasks.some((task) => task.graph !== null) };
}

/**
 * `symphony resume <workflowId>`: un-pauses the workflow (the process running it, if any, follows
 * at once), then runs here whatever of it no live engine holds: the tasks of a run that was
 * interrupted (Ctrl-C, a crash) or paused when its process ended. A workflow graph goes on here
 * to its end when no other engine holds its tasks: after the recovery, `executeWorkflow` runs the
 * nodes its graph releases, each routed as `run` routes it. Exit codes as for `run` when it
 * runs tasks; when it runs none, 0 if a live process that answered runs them (or nothing is left),
 * else 5 (NOTHING_RAN).
 */
export async function resumeCommand(io: CliIO, workflowId: string, options: ResumeOptions): Promise<number> {
  const json = options.json ?? false;
  const spec = resolveDbSpec(options.db, io);
  // A first look (read only) tells how the workflow was run, hence the engine options to open with.
  const probe = await openSession(spec, { mustExist: true, beats: false, cwd: io.cwd, env: io.env });
  let workflow: Workflow;
  let graph: boolean;
  try {
    ({ workflow, graph } = await resumable(probe, workflowId));
  } finally {
    await probe.stop();
  }
  const record = runRecordOf(workflow);
  // A run with fallback agents (executeWorkflow falls back), or whose tasks have policies of their
  // own (executeWorkflow takes them), is run as a graph is, so goes on as one.
  if (record?.fallback !== undefined || recordedTaskOptions(record).taskOptions !== undefined) graph = true;
  const wasPaused = workflow.paused;
  const session = await openRunSession(spec, workflow, options.inspect, io);
  // Ctrl-C from here on stops the run gracefully (at once if it came before the run started).
  const interrupts = catchInterrupts(io);
  try {
    const { registry } = session;
    const tracker = registry.getWorkflowTracker();
    let appliedElsewhere = false;
    if (wasPaused) {
      const steered = await tracker.steerWorkflow(workflowId, 'RESUME');
      workflow = steered.workflow;
      appliedElsewhere = steered.appliedElsewhere;
    }
    // A workflow handed to workers as a whole (run --submit of a graph) is theirs to run: running
    // its graph here too would make two coordinators.
    const submitted = await session.submitted(workflowId);
    if (submitted && submitted.endedAt === null) {
      const by =
        submitted.coordinator === null ? 'the next worker to claim it' : `worker ${submitted.coordinator}`;
      if (json) {
        printJson(io.stdout, {
          workflow,
          ranHere: [],
          heldElsewhere: [],
          heldBy: submitted.coordinator === null ? [] : [submitted.coordinator],
          unrunnable: [],
        } satisfies ResumeNothingRan);
      } else {
        println(io.stdout, `Workflow ${workflowId}${wasPaused ? ' resumed' : ''}: now ${workflow.status}`);
        println(io.stdout, `It was submitted to workers: its graph is run by ${by}, not here.`);
      }
      return ExitCode.OK;
    }
    // A graph run in another process (waiting while paused) applied it and goes on: nothing to run here.
    if (graph && appliedElsewhere) {
      if (json) {
        printJson(io.stdout, {
          workflow,
          ranHere: [],
          heldElsewhere: [],
          heldBy: [],
          unrunnable: [],
        } satisfies ResumeNothingRan);
      } else {
        println(io.stdout, `Workflow ${workflowId} resumed: now ${workflow.status}`);
        println(io.stdout, 'The process running its graph applied the resume and goes on with it.');
      }
      return ExitCode.OK;
    }
    // Agents are loaded only if some task is to run here.
    const { register, agentOf, built } = lazyAgents(
      io,
      registry.getAgentFactory(),
      workflow,
      record,
      options.agents,
    );
    const resolveAgent = async (task: Readonly<Task>): Promise<Agent | undefined> => {
      const key = task.execution?.agentKey ?? task.agentId;
      return key === null || key === undefined ? undefined : agentOf(key);
    };
    const startedAt = Date.now();
    // What is unfinished before the recovery: a task it ends at once (past its close limit, an
    // interrupted attempt past maxAttempts) is the resume's as much as one it runs, and counts.
    const before = await unfinishedIds(registry, workflowId);
    const report = await registry.recover({ workflowId, resolveAgent });
    // A paused workflow was resumed through the store: an engine still holding its tasks now has
    // answered that command, so it is alive (one that died would have let its hold lapse first).
    const answered = wasPaused;
    const holders = await holdersOf(registry, report.leasedElsewhere);
    if (graph && report.leasedElsewhere.length === 0) {
      const { started } = await continueGraph(registry, workflowId, record, register, agentOf, report);
      const configs = await configsById(registry, built());
      const taskIds = new Set(before);
      if (!json) {
        println(
          io.stdout,
          `Resuming workflow ${workflowId}: running what is left of its graph here (${taskIds.size} unfinished task(s))`,
        );
      }
      const outcome = await runWatched(io, json, {
        session,
        workflowId,
        started,
        agents: configs,
        taskIds,
        startedAt,
        interrupts,
      });
      return await finishRun(io, json, session, workflowId, configs, outcome, { taskIds });
    }
    // Tasks given a new run from another process wait with no plan: they run here too.
    const planless = await runPlanless(registry, workflowId, record, report, agentOf);
    if (report.recovered.length === 0 && planless.taskIds.length === 0) {
      return await nothingRanHere(io, json, session, workflowId, report, holders, answered);
    }
    if (holders.length > 0) {
      const engines = holders.map((holder) => holder.engineId).join(', ');
      if (answered) {
        if (!json) {
          println(
            io.stdout,
            `${report.leasedElsewhere.length} other unfinished task(s) go on in another process (engine ${engines}).`,
          );
        }
      } else {
        // Some tasks run here, others are held by an engine that still counts as alive and was not
        // asked anything: most likely one that just died (a second Ctrl-C, a crash).
        println(
          io.stderr,
          `symphony: ${report.leasedElsewhere.length} unfinished task(s) are held by another engine that still counts as alive ` +
            `(${describeHolders(holders)}) and were left to it. If that process has ended, its hold lapses within seconds: ` +
            `run ${session.hints.quoted(`resume ${workflowId}`, 'this resume')} again then.`,
        );
      }
    }
    const taskIds = new Set([...report.recovered, ...planless.taskIds]);
    const configs = await configsById(registry, built());
    if (!json) {
      println(
        io.stdout,
        `Resuming workflow ${workflowId}: running its ${taskIds.size} unfinished task(s) here`,
      );
    }
    const outcome = await runWatched(io, json, {
      session,
      workflowId,
      started: Promise.all([report.results, planless.results]).then(([recovered, reruns]) => [
        ...recovered,
        ...reruns,
      ]),
      agents: configs,
      taskIds,
      startedAt,
      interrupts,
    });
    return await finishRun(io, json, session, workflowId, configs, outcome, { taskIds });
  } finally {
    interrupts.dispose();
    await session.stop();
  }
}

/**
 * Goes on with a graph workflow after its recovery: the nodes the graph releases run (`runGraph`:
 * `executeWorkflow`, waiting while the workflow is paused), each on the agent `graphAgents` gives
 * it. Returns the results of the recovered executions and of the run.
 */
async function continueGraph(
  registry: ServiceRegistry,
  workflowId: string,
  record: RunRecord | null,
  register: () => Promise<CustomRoutingFunction | undefined>,
  agentOf: (configId: string) => Promise<Agent>,
  report: RecoveryReport,
): Promise<{ started: Promise<ExecutionResult[]> }> {
  const resolveAgent = await graphAgents({ registry, workflowId, record, register, agentOf });
  const executed = runGraph(registry, workflowId, {
    resolveAgent,
    ...(record?.concurrency === undefined ? {} : { maxConcurrent: record.concurrency }),
    ...recordedPolicies(record),
    ...recordedFallback(record),
    ...recordedTaskOptions(record),
  });
  const started = Promise.all([report.results, executed]).then(([recovered, run]) => [...recovered, ...run]);
  return { started };
}

/** The ids of the workflow's tasks that are not finished. */
async function unfinishedIds(registry: ServiceRegistry, workflowId: string): Promise<string[]> {
  const tasks = await registry.getWorkflowTracker().getWorkflowTasks(workflowId);
  return tasks.filter((task) => !isTerminalStatus(task.status)).map((task) => task.id);
}

/** An engine named as holding tasks, with its last beat (null: it never beat on this store). */
interface Holder {
  engineId: string;
  beatAt: number | null;
}

/** The engines named as holding these tasks. */
async function holdersOf(registry: ServiceRegistry, taskIds: readonly string[]): Promise<Holder[]> {
  if (taskIds.length === 0) return [];
  const tasks = await registry.getRepository('tasks').getMany(taskIds);
  const owners = new Set(tasks.flatMap((task) => (task.leaseOwner === null ? [] : [task.leaseOwner])));
  const beats = new Map((await registry.listEngines()).map((engine) => [engine.engineId, engine.beatAt]));
  return [...owners].map((engineId) => ({ engineId, beatAt: beats.get(engineId) ?? null }));
}

/** `engine-a (last beat 0.4 s ago), engine-b`. */
function describeHolders(holders: readonly Holder[], now = Date.now()): string {
  return holders
    .map(({ engineId, beatAt }) =>
      beatAt === null ? engineId : `${engineId}, last beat ${formatDuration(now - beatAt)} ago`,
    )
    .join('; ');
}

/** What `resume --json` prints when it ran no task here. */
export interface ResumeNothingRan {
  /** The workflow after the resume. */
  workflow: Workflow;
  ranHere: [];
  /** Unfinished tasks held by another engine (running them, or dead and not lapsed yet). */
  heldElsewhere: string[];
  /** The engines holding them. */
  heldBy: string[];
  /** Unfinished tasks no engine can run: no execution plan, or no agent for it here. */
  unrunnable: string[];
}

/**
 * The end of a resume that ran no task here. Exit 0 when nothing is left to run, or when every
 * unfinished task is run by a live process that answered the resume; 5 (NOTHING_RAN) otherwise: the
 * tasks are held by an engine that was not heard from (it may have just died), or cannot run.
 */
async function nothingRanHere(
  io: CliIO,
  json: boolean,
  session: Session,
  workflowId: string,
  report: RecoveryReport,
  holders: readonly Holder[],
  answered: boolean,
): Promise<number> {
  const tracker = session.registry.getWorkflowTracker();
  const now = await tracker.getWorkflow(workflowId);
  const unfinished = (await tracker.getWorkflowTasks(workflowId)).filter(
    (task) => !isTerminalStatus(task.status),
  );
  const held = new Set(report.leasedElsewhere);
  const unrunnable = unfinished.filter((task) => !held.has(task.id)).map((task) => task.id);
  const noPlan = unfinished.filter((task) => task.execution === null && !held.has(task.id)).length;
  const heldByLive = answered && unrunnable.length === 0;
  const code = unfinished.length === 0 || heldByLive ? ExitCode.OK : ExitCode.NOTHING_RAN;
  if (json) {
    printJson(io.stdout, {
      workflow: now,
      ranHere: [],
      heldElsewhere: report.leasedElsewhere,
      heldBy: holders.map((holder) => holder.engineId),
      unrunnable,
    } satisfies ResumeNothingRan);
    return code;
  }
  const out = io.stdout;
  println(
    out,
    answered
      ? `Workflow ${workflowId} resumed: now ${now.status}`
      : `Workflow ${workflowId} is ${now.status}`,
  );
  const engines = holders.map((holder) => holder.engineId).join(', ');
  if (held.size > 0 && answered) {
    println(
      out,
      `${held.size} unfinished task(s) run in another process (engine ${engines}), which resumed them.`,
    );
  } else if (held.size > 0) {
    println(
      out,
      `Nothing ran here: ${held.size} unfinished task(s) run in another process (engine ${describeHolders(holders)}). ` +
        `If that process has ended (a crash, kill -9), its hold lapses within seconds of its last beat: ` +
        `run ${session.hints.quoted(`resume ${workflowId}`, 'this resume')} again then.`,
    );
  }
  if (unrunnable.length > 0) {
    const why: string[] = [];
    if (noPlan > 0) why.push(`${noPlan} were never given to an engine (no execution plan)`);
    if (report.unresolved.length > 0) why.push(`${report.unresolved.length} have no agent here`);
    println(
      out,
      `Nothing can run ${unrunnable.length} unfinished task(s)${why.length > 0 ? `: ${why.join(', ')}` : ''}; they stay as they are.`,
    );
  }
  return code;
}
