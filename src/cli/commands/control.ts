import { isTerminalStatus } from '../../../machines/status.js';
import type { Workflow } from '../../index.js';
import { CliUsageError } from '../cli-error.js';
import { ExitCode } from '../exit-codes.js';
import { reportInterruptedCommand, untilInterrupted } from '../execute.js';
import { printJson, println, type CliIO } from '../io.js';
import { openSession, resolveDbSpec, type Session } from '../store.js';
import type { CommonOptions } from './common.js';

export type ControlAction = 'pause' | 'cancel';

const DONE: Record<ControlAction, string> = { pause: 'paused', cancel: 'cancelled' };

/**
 * `symphony pause|cancel <workflowId>`: steers the workflow wherever it runs. When another process
 * runs it, the command goes through the store and that process applies it (within its control
 * poll, about 0.5 s); the command returns once it has. `resume` is in resume.ts.
 */
/** Refuses (exit 2) a workflow that is not there, or that has no unfinished task to steer. */
async function checkSteerable(session: Session, action: ControlAction, workflowId: string): Promise<void> {
  const tracker = session.registry.getWorkflowTracker();
  const before = await tracker.getWorkflow(workflowId);
  const tasks = await tracker.getWorkflowTasks(workflowId);
  if (tasks.every((task) => isTerminalStatus(task.status))) {
    throw new CliUsageError(
      `Workflow ${workflowId} is ${before.status} and has no unfinished task; there is nothing to ${action}`,
    );
  }
}

export async function controlCommand(
  io: CliIO,
  action: ControlAction,
  workflowId: string,
  options: CommonOptions,
): Promise<number> {
  const spec = resolveDbSpec(options.db, io);
  // A first look, without a beat: a command refused here leaves no trace in the store.
  const probe = await openSession(spec, { mustExist: true, beats: false, cwd: io.cwd, env: io.env });
  try {
    await checkSteerable(probe, action, workflowId);
  } finally {
    await probe.stop();
  }
  const session = await openSession(spec, { mustExist: true, cwd: io.cwd, env: io.env });
  try {
    const tracker = session.registry.getWorkflowTracker();
    // Ctrl-C while the process running the workflow has not applied it yet: the command stays written.
    const steered = await untilInterrupted(session, () =>
      action === 'pause' ? tracker.pauseWorkflow(workflowId) : tracker.cancelWorkflow(workflowId),
    );
    if (steered.interrupted) return reportInterruptedCommand(io, action, workflowId, options.json ?? false);
    const after: Workflow = steered.value;
    if (options.json) {
      printJson(io.stdout, after);
    } else {
      println(io.stdout, `Workflow ${after.id} ${DONE[action]}: now ${after.status}`);
      if (action === 'pause') {
        println(
          io.stdout,
          `Running attempts finish; no new attempt starts until ${session.hints.quoted(`resume ${after.id}`)}.`,
        );
      }
    }
    return ExitCode.OK;
  } finally {
    await session.stop();
  }
}
