import { isTerminalStatus } from '../../../machines/status.js';
import { ErrorCode } from '../../errors/codes.js';
import { SymphonyError } from '../../errors/symphony-error.js';
import { CliUsageError } from '../cli-error.js';
import { resumable } from '../commands/resume.js';
import { ExitCode } from '../exit-codes.js';
import type { CliIO, OutputStream } from '../io.js';
import { waitsForWorker } from '../overview/workflows.js';
import { runRecordOf } from '../run-record.js';
import { openSession, type Session } from '../store.js';
import type { Workflow } from '../../domain/workflow.js';

/** The buttons of the dashboard: each goes through the `symphony` command of the same name. */
export const ACTIONS = ['pause', 'resume', 'cancel', 'retry', 'signal'] as const;
export type Action = (typeof ACTIONS)[number];

/** An action's answer: the HTTP status and a JSON body (the command's JSON, or `{ error }`). */
export interface ActionResult {
  status: number;
  body: unknown;
}

/** What an action needs: the store the dashboard reads, and a way to run a `symphony` command. */
export interface ActionContext {
  session: Session;
  /** The store spec as given, for the commands' `--db`. */
  spec: string;
  /** Runs `symphony <argv>` in this process (src/cli/main.ts `main`) and returns its exit code. */
  cli: (argv: readonly string[], io: CliIO) => Promise<number>;
  io: Pick<CliIO, 'env' | 'cwd'>;
}

/** An output stream that keeps what is written. */
function sink(): OutputStream & { text: () => string } {
  let text = '';
  return { write: (chunk: string) => ((text += chunk), true), text: () => text };
}

const STATUS_OF_CODE: Record<string, number> = {
  [ErrorCode.WORKFLOW_NOT_FOUND]: 404,
  [ErrorCode.TASK_NOT_FOUND]: 404,
  [ErrorCode.INVALID_ARGUMENT]: 400,
  CLI_USAGE: 409,
};

/**
 * Runs `symphony <command> --db <store> --json [options] -- <operands>` here, as a terminal would: the same parsing, checks,
 * store writes (commands that engines apply) and error codes. Its JSON is the answer's body.
 */
export async function runCommand(
  context: ActionContext,
  command: string,
  operands: readonly string[],
  options: readonly string[] = [],
): Promise<ActionResult> {
  const out = sink();
  const err = sink();
  // Operands after `--`: an id or a name is never read as an option.
  const code = await context.cli([command, '--db', context.spec, '--json', ...options, '--', ...operands], {
    stdout: out,
    stderr: err,
    env: context.io.env,
    cwd: context.io.cwd,
  });
  let body: unknown;
  try {
    body = JSON.parse(out.text());
  } catch {
    body = {
      error: { code: 'INTERNAL', message: err.text().trim() || `symphony ${command} exited ${code}` },
    };
  }
  if (code === ExitCode.OK) return { status: 200, body };
  const errorCode = (body as { error?: { code?: string } }).error?.code ?? '';
  const status = STATUS_OF_CODE[errorCode] ?? (code === ExitCode.USAGE ? 409 : 500);
  return { status, body };
}

/** The answer of a refused action. */
function refused(error: unknown): ActionResult {
  if (CliUsageError.isInstance(error) || SymphonyError.isInstance(error)) {
    const status = STATUS_OF_CODE[error.code] ?? (CliUsageError.isInstance(error) ? 409 : 500);
    return { status, body: { error: { code: error.code, message: error.message } } };
  }
  throw error;
}

/**
 * Resume from the dashboard: the first step of `symphony resume` (its checks, then the RESUME
 * command through the store, which the process running the workflow applies). The second step,
 * running here what no live process holds, needs the workflow's agents: the answer says when
 * `symphony resume <id>` is still needed for that.
 */
async function resume(context: ActionContext, workflowId: string): Promise<ActionResult> {
  const { session } = context;
  try {
    const { workflow } = await resumable(session, workflowId);
    const tracker = session.registry.getWorkflowTracker();
    const after = workflow.paused ? await steerResume(context, workflowId) : workflow;
    const tasks = await tracker.getWorkflowTasks(workflowId);
    const live = new Set(
      (await session.registry.listEngines()).filter((e) => e.alive && !e.self).map((e) => e.engineId),
    );
    const orphans = tasks.filter(
      (task) => !isTerminalStatus(task.status) && (task.leaseOwner === null || !live.has(task.leaseOwner)),
    );
    const submitted = await session.submitted(workflowId);
    const byWorkers =
      runRecordOf(workflow)?.submitted === true ||
      (submitted !== undefined && submitted.endedAt === null) ||
      orphans.some(waitsForWorker);
    const note =
      orphans.length > 0 && !byWorkers
        ? `${orphans.length} unfinished task(s) are held by no live process: \`symphony resume ${workflowId}\` runs them in a terminal.`
        : null;
    return { status: 200, body: { workflow: after, note } };
  } catch (error) {
    return refused(error);
  }
}

/**
 * RESUME through a session of its own that may write (the dashboard's session only reads the
 * store), with no beat, as `symphony resume`'s first step steers.
 */
async function steerResume(context: ActionContext, workflowId: string): Promise<Workflow> {
  const steering = await openSession(context.spec, {
    mustExist: true,
    beats: false,
    cwd: context.io.cwd,
    env: context.io.env,
  });
  try {
    return (await steering.registry.getWorkflowTracker().steerWorkflow(workflowId, 'RESUME')).workflow;
  } finally {
    await steering.stop();
  }
}

/**
 * Carries out a button of the dashboard on a workflow (or, for retry, a task): pause and cancel
 * run `symphony pause|cancel`, signal `symphony signal`, retry `symphony retry --submit` (for a
 * workflow run by workers: its tasks go back to them); resume see above.
 */
export async function runAction(
  context: ActionContext,
  action: Action,
  target: { workflowId?: string; taskId?: string },
  body: Record<string, unknown>,
): Promise<ActionResult> {
  const id = target.taskId ?? target.workflowId!;
  switch (action) {
    case 'pause':
    case 'cancel':
      return runCommand(context, action, [id]);
    case 'resume':
      return resume(context, id);
    case 'signal': {
      const name = body.name;
      const payload = body.payload ?? 'null';
      if (typeof name !== 'string' || typeof payload !== 'string') {
        return refused(new CliUsageError('Expected a signal name and a JSON payload (text)'));
      }
      // `@file` would have the command read a file of this machine: the dashboard sends JSON only.
      if (payload.trimStart().startsWith('@')) {
        return refused(
          new CliUsageError('Expected the payload to be JSON; @<file> is for the terminal only'),
        );
      }
      return runCommand(context, 'signal', [id, name, payload]);
    }
    case 'retry': {
      try {
        const task =
          target.taskId === undefined ? null : await context.session.registry.getRepository('tasks').get(id);
        const workflowId = task?.workflowId ?? target.workflowId ?? id;
        const workflow = await context.session.registry.getWorkflowTracker().getWorkflow(workflowId);
        if (runRecordOf(workflow)?.submitted !== true) {
          throw new CliUsageError(
            `Workflow ${workflowId} was not run by workers (symphony run --submit): its agents are in the process that ran it. \`symphony retry ${id}\` runs its failed tasks again in a terminal.`,
          );
        }
      } catch (error) {
        return refused(error);
      }
      return runCommand(context, 'retry', [id], ['--submit']);
    }
  }
}
