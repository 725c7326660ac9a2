import { isTerminalStatus } from '../../../machines/status.js';
import type { Workflow } from '../../index.js';
import { CliUsageError } from '../cli-error.js';
import { ExitCode } from '../exit-codes.js';
import { reportInterruptedCommand, untilInterrupted } from '../execute.js';
import { printJson, println, type CliIO } from '../io.js';
import { openSession, resolveDbSpec } from '../store.js';
import type { CommonOptions } from './common.js';

export type ControlAction = 'pause' | 'cancel';

const DONE: Record<ControlAction, string> = { pause: 'paused', cancel: 'cancelled' };

/**
 * `symphony pause|cancel <workflowId>`: steers the workflow wherever it runs. When another process
 * runs it, the command goes through the store and that process applies it (within its control
 * poll, about 0.5 s); the command returns once it has. `resume` is in resume.ts.
 */
export async function controlCommand(
  io: CliIO,
  action: ControlAction,
  workflowId: string,
  options: CommonOptions,
): Promise<number> {
  const session = await openSession(resolveDbSpec(options.db, io), {
    mustExist: true,
    cwd: io.cwd,
    env: io.env,
  });
  try {
    const { registry } = session;
    const tracker = registry.getWorkflowTracker();
    const before = await tracker.getWorkflow(workflowId);
    const tasks = await tracker.getWorkflowTasks(workflowId);
    const unfinished = tasks.filter((task) => !isTerminalStatus(task.status)).length;
    if (unfinished === 0) {
      throw new CliUsageError(
        `Workflow ${workflowId} is ${before.status} and has no unfinished task; there is nothing to ${action}`,
      );
    }
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
