import { isTerminalStatus } from '../../../machines/status.js';
import type { Agent, ServiceRegistry, Task, Workflow } from '../../index.js';
import { CliUsageError } from '../cli-error.js';
import { ExitCode } from '../exit-codes.js';
import { runWatched } from '../execute.js';
import { printJson, println, type CliIO } from '../io.js';
import { runRecordOf } from '../run-record.js';
import { openSession, resolveDbSpec } from '../store.js';
import { openRunSession, registerAgents } from '../workflow-agents.js';
import { configsById, finishRun, type CommonOptions } from './common.js';

export interface ResumeOptions extends CommonOptions {
  /** The agents module to use instead of the one the workflow was run with. */
  agents?: string;
}

/**
 * `symphony resume <workflowId>`: un-pauses the workflow (the process running it, if any, follows
 * at once), then runs here whatever of it no live engine holds: the tasks of a run that was
 * interrupted (Ctrl-C, a crash) or paused when its process ended. Exit codes as for `run` when it
 * runs tasks; 0 when another process runs them.
 */
export async function resumeCommand(io: CliIO, workflowId: string, options: ResumeOptions): Promise<number> {
  const json = options.json ?? false;
  const spec = resolveDbSpec(options.db, io);
  // A first look (read only) tells how the workflow was run, hence the engine options to open with.
  const probe = await openSession(spec, { mustExist: true });
  let workflow: Workflow;
  let unfinished: number;
  try {
    const tracker = probe.registry.getWorkflowTracker();
    workflow = await tracker.getWorkflow(workflowId);
    unfinished = (await tracker.getWorkflowTasks(workflowId)).filter(
      (task) => !isTerminalStatus(task.status),
    ).length;
  } finally {
    await probe.stop();
  }
  if (!workflow.paused && unfinished === 0) {
    throw new CliUsageError(
      `Workflow ${workflowId} is ${workflow.status}, not paused, with no unfinished task; there is nothing to resume`,
    );
  }
  const record = runRecordOf(workflow);
  const session = await openRunSession(spec, workflow, options.inspect);
  try {
    const { registry } = session;
    const tracker = registry.getWorkflowTracker();
    if (workflow.paused) workflow = await tracker.resumeWorkflow(workflowId);
    const factory = registry.getAgentFactory();
    let registered: Promise<void> | null = null;
    const agents = new Map<string, Agent>();
    // Agents are loaded only if some task is to run here.
    const resolveAgent = async (task: Readonly<Task>): Promise<Agent | undefined> => {
      registered ??= registerAgents(io, factory, workflow, record, options.agents);
      await registered;
      const key = task.execution?.agentKey ?? task.agentId;
      if (key === null || key === undefined) return undefined;
      let agent = agents.get(key);
      if (!agent) agents.set(key, (agent = await factory.createAgent(key)));
      return agent;
    };
    const startedAt = Date.now();
    const report = await registry.recover({ workflowId, resolveAgent });
    const holders = await holdersOf(registry, report.leasedElsewhere);
    if (report.recovered.length === 0) {
      const now = await tracker.getWorkflow(workflowId);
      if (json) printJson(io.stdout, { workflow: now, ranHere: [], heldElsewhere: report.leasedElsewhere });
      else {
        println(io.stdout, `Workflow ${workflowId} resumed: now ${now.status}`);
        if (holders.length > 0) {
          println(
            io.stdout,
            `${report.leasedElsewhere.length} unfinished task(s) run in another process (engine ${holders.join(', ')}). ` +
              'If that process has in fact ended, its hold lapses within seconds: resume again then.',
          );
        }
      }
      if (report.unresolved.length > 0) {
        println(
          io.stderr,
          `symphony: ${report.unresolved.length} unfinished task(s) have no execution plan or agent; they stay as they are`,
        );
      }
      return ExitCode.OK;
    }
    if (holders.length > 0) {
      // Some tasks run here, others are held by an engine that still counts as alive: most likely
      // one that just died (a second Ctrl-C, a crash) and whose beats have not lapsed yet.
      println(
        io.stderr,
        `symphony: ${report.leasedElsewhere.length} unfinished task(s) are held by another engine that still counts as alive ` +
          `(${holders.join(', ')}) and were left to it. If that process has ended, its hold lapses within seconds: ` +
          `run \`symphony resume ${workflowId}\` again then.`,
      );
    }
    const taskIds = new Set(report.recovered);
    const configs = await configsById(registry, [...agents.keys()]);
    if (!json) {
      println(
        io.stdout,
        `Resuming workflow ${workflowId}: running its ${taskIds.size} unfinished task(s) here`,
      );
    }
    const outcome = await runWatched(io, json, {
      session,
      workflowId,
      started: report.results,
      agents: configs,
      taskIds,
      startedAt,
    });
    return await finishRun(io, json, session, workflowId, configs, outcome, { taskIds });
  } finally {
    await session.stop();
  }
}

/** The engines named as holding these tasks. */
async function holdersOf(registry: ServiceRegistry, taskIds: readonly string[]): Promise<string[]> {
  if (taskIds.length === 0) return [];
  const tasks = await registry.getRepository('tasks').getMany(taskIds);
  return [...new Set(tasks.flatMap((task) => (task.leaseOwner === null ? [] : [task.leaseOwner])))];
}
