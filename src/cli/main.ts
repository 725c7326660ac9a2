import { Command, CommanderError } from 'commander';
// Only small modules are imported here, so that `--help` and `--version` load no engine; each
// command's module (and what it needs: the demo, the inspector, the workflow file parser...) is
// imported by its action.
import { ErrorCode } from '../errors/codes.js';
import { UiErrorCode } from './ui/errors.js';
import { SymphonyError } from '../errors/symphony-error.js';
import { CliUsageError } from './cli-error.js';
import type { ControlAction } from './commands/control.js';
import type { CommonOptions } from './commands/common.js';
import type { DeadLetterListOptions, DeadLetterRedriveOptions } from './commands/dead-letter.js';
import type { DemoOptions } from './commands/demo.js';
import type { ListOptions } from './commands/list.js';
import type { ResumeOptions } from './commands/resume.js';
import type { RetryOptions } from './commands/retry.js';
import type { ScheduleAction, ScheduleAddOptions } from './commands/schedule.js';
import type { SignalOptions } from './commands/signal.js';
import type { RunOptions } from './commands/run.js';
import type { WorkerCommandOptions } from './commands/worker.js';
import type { WorkersOptions } from './commands/workers.js';
import { DEFAULT_INSPECT_URL } from './defaults.js';
import { EXIT_CODES_HELP, ExitCode } from './exit-codes.js';
import { printJson, println, type CliIO } from './io.js';
import { addWatchCommands } from './watch-commands.js';
import { withCommon, type Act } from './command-options.js';

/** Error codes that mean the caller asked for something wrong (exit 2), not that something broke. */
const USAGE_CODES: ReadonlySet<string> = new Set([
  ErrorCode.INVALID_ARGUMENT,
  ErrorCode.TASK_NOT_FOUND,
  ErrorCode.WORKFLOW_NOT_FOUND,
  ErrorCode.AGENT_CONFIG_NOT_FOUND,
  ErrorCode.AGENT_TYPE_NOT_FOUND,
  ErrorCode.INVALID_STATE,
  ErrorCode.NO_AGENT_AVAILABLE,
  ErrorCode.INPUT_NOT_SERIALIZABLE,
  ErrorCode.PAYLOAD_TOO_LARGE,
  ErrorCode.SCHEDULE_NOT_FOUND,
  ErrorCode.DUPLICATE_ID,
  ErrorCode.SINGLETON_ACTIVE,
  UiErrorCode.UI_BAD_PORT,
  UiErrorCode.UI_PORT_IN_USE,
  UiErrorCode.UI_TOKEN_REQUIRED,
]);

/** The code a usage error of the command line (unknown option, missing argument...) has in `--json`. */
export const USAGE_ERROR_CODE = 'CLI_USAGE';

/** `--inspect [url]` for the commands that run work. */
function withInspect(command: Command): Command {
  return command.option(
    '--inspect [url]',
    `stream every actor to a Stately inspector WebSocket (default ${DEFAULT_INSPECT_URL}); never keeps the process alive`,
  );
}

/** The program; each action stores its exit code in `result.code`. */
export function buildProgram(io: CliIO, result: { code: number; json: boolean }): Command {
  const program = new Command('symphony')
    .description('Run and steer Symphony workflows: AI-agent tasks on XState actors, kept in a store.')
    .version('0.1.0', '-v, --version')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', EXIT_CODES_HELP)
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      // Usage errors read like every other error of the CLI: "symphony: unknown option '--x'".
      outputError: (text, write) => write(text.replace(/^error: /, 'symphony: ')),
    })
    .exitOverride();

  const act: Act =
    <A extends unknown[]>(run: (...args: A) => Promise<number>) =>
    async (...args: A) => {
      const options = args.findLast(
        (arg) => typeof arg === 'object' && arg !== null && !(arg instanceof Command),
      ) as CommonOptions | undefined;
      result.json = options?.json ?? false;
      result.code = await run(...args);
    };

  withCommon(
    withInspect(program.command('demo'))
      .description(
        'Run the demo: 30 text-analysis tasks over examples/documents on four local agents (one flaky), routed by capability and content',
      )
      .option('--pace <ms>', 'each attempt waits this long first, to watch, pause or cancel the run', '0'),
  ).action(
    act(async (options: DemoOptions) => (await import('./commands/demo.js')).demoCommand(io, options)),
  );

  withCommon(
    withInspect(program.command('run'))
      .description('Run the workflow described in a JSON or YAML file (see docs/cli.md)')
      .argument('<file>', 'workflow file (.json, .yaml or .yml)')
      .option('--agents <module>', "agents module (JS or TS) to use instead of the file's agents.module")
      .option(
        '--submit',
        'store the workflow and leave its tasks to workers (symphony worker) instead of running them here; prints its id',
        false,
      )
      .option('--wait', 'with --submit: watch the store until the workers have finished the workflow', false),
  ).action(
    act(async (file: string, options: RunOptions) =>
      (await import('./commands/run.js')).runCommand(io, file, options),
    ),
  );

  program
    .command('validate')
    .description(
      'Check a workflow file as run does (its child files, agents modules and agent types, graph, the routing of every task) without running it or opening a store',
    )
    .argument('<file>', 'workflow file (.json, .yaml or .yml)')
    .option('--agents <module>', "agents module (JS or TS) to use instead of the file's agents.module")
    .option('--json', 'print JSON for scripts instead of text', false)
    .action(
      act(async (file: string, options: RunOptions) =>
        (await import('./commands/run.js')).runCommand(io, file, { ...options, check: true }),
      ),
    );

  withCommon(
    withInspect(program.command('worker'))
      .description(
        'Run a worker: take runnable tasks of any workflow from the store (run --submit leaves them) and run them, until SIGTERM or Ctrl-C drains it',
      )
      .option('--agents <module>', 'agents module (JS or TS) that registers the agent types of the tasks')
      .option('--concurrency <n>', 'attempts this worker runs at once', '10')
      .option('--poll-ms <ms>', 'milliseconds between claims when nothing wakes the worker', '1000')
      .option('--prefetch <n>', 'tasks held beyond the free slots, claimed ahead (for many short tasks)', '0')
      .option(
        '--grace-ms <ms>',
        'after SIGTERM, how long running attempts may go on before they are released',
        '30000',
      )
      .option('--engine-id <id>', 'engine id the worker claims under (default symphony-worker:<host>:<pid>)')
      .option(
        '--prices <file>',
        "a JSON or YAML price table, as a workflow file's prices: what costUsd budgets and quotas are priced by here (default: none, tokens cost nothing)",
      ),
  ).action(
    act(async (options: WorkerCommandOptions) =>
      (await import('./commands/worker.js')).workerCommand(io, options),
    ),
  );

  withCommon(
    program
      .command('workers')
      .description(
        'List the engines that beat on the store (workers and other commands): alive or not, last beat, tasks held by status',
      )
      .option('--alive', 'only the engines that are alive', false),
  ).action(
    act(async (options: WorkersOptions) =>
      (await import('./commands/workers.js')).workersCommand(io, options),
    ),
  );

  // No store and always JSON: no --db or --json.
  program
    .command('schema')
    .description(
      'Print the JSON Schema of workflow files (draft 2020-12), for editors to complete and check them',
    )
    .action(act(async () => (await import('./commands/schema.js')).schemaCommand(io)));

  withCommon(
    program
      .command('list')
      .description('List workflows, newest first, with status and task counts')
      .option(
        '--status <status>',
        'only workflows with this status (PENDING, RUNNING, COMPLETED, FAILED, PAUSED, CANCELLED)',
      )
      .option('--limit <n>', 'at most this many workflows', '50'),
  ).action(
    act(async (options: ListOptions) => (await import('./commands/list.js')).listCommand(io, options)),
  );

  withCommon(
    program
      .command('show')
      .description(
        "Show a workflow: its agents and every task's status, agent, attempts, duration and errors",
      )
      .argument('<id>', 'workflow id (see symphony list), or a task id to show its workflow'),
  ).action(
    act(async (id: string, options: CommonOptions) =>
      (await import('./commands/show.js')).showCommand(io, id, options),
    ),
  );

  withCommon(
    program
      .command('graph')
      .description(
        "Print a workflow's graph as a Mermaid flowchart: from a workflow file as declared, or from the store coloured by each task's status",
      )
      .argument(
        '<file|workflowId>',
        'workflow file (.json, .yaml or .yml), or workflow id (or task id) in the store',
      ),
  ).action(
    act(async (target: string, options: CommonOptions) =>
      (await import('./commands/graph.js')).graphCommand(io, target, options),
    ),
  );

  const control: Record<ControlAction, string> = {
    pause: 'Pause a workflow: running attempts finish, no new one starts; also in the process running it',
    cancel: 'Cancel a workflow: unfinished tasks are cancelled, running attempts aborted',
  };
  for (const [action, description] of Object.entries(control) as [ControlAction, string][]) {
    withCommon(
      program.command(action).description(description).argument('<workflowId>', 'workflow id'),
    ).action(
      act(async (id: string, options: CommonOptions) =>
        (await import('./commands/control.js')).controlCommand(io, action, id, options),
      ),
    );
  }

  withCommon(
    program
      .command('signal')
      .description(
        'Send a signal to a workflow: the first task waiting for it (waitFor) completes with the payload; kept until one does; also in the process running it',
      )
      .argument('<workflowId>', 'workflow id')
      .argument('<name>', 'signal name (letters, digits, _ . : -)')
      .argument('[json]', 'payload, as JSON (default: null); @<file>: the JSON in that file')
      .option('--payload-file <path>', 'file whose content (JSON) is the payload, for large payloads'),
  ).action(
    act(async (id: string, name: string, json: string | undefined, options: SignalOptions) =>
      (await import('./commands/signal.js')).signalCommand(io, id, name, json, options),
    ),
  );

  withCommon(
    withInspect(program.command('resume'))
      .description(
        'Resume a workflow: un-pause it (the process running it follows at once), then run here what no live process holds, e.g. the rest of an interrupted run',
      )
      .argument('<workflowId>', 'workflow id')
      .option('--agents <module>', 'agents module to use instead of the one the workflow was run with'),
  ).action(
    act(async (id: string, options: ResumeOptions) =>
      (await import('./commands/resume.js')).resumeCommand(io, id, options),
    ),
  );

  withCommon(
    withInspect(program.command('retry'))
      .description(
        'Retry failed tasks: each FAILED task of the workflow (or the one task named) is given a new run and executed again, here or, for a workflow run with --submit, by the workers',
      )
      .argument('<id>', 'workflow id or task id')
      .option('--agents <module>', 'agents module to use instead of the one the workflow was run with')
      .option(
        '--submit',
        'leave the retried tasks to workers (symphony worker) instead of running them here (the default for a workflow run with --submit)',
      )
      .option('--no-submit', 'run the retried tasks here, even for a workflow run with --submit')
      .option('--wait', 'with --submit: watch the store until the workers have finished the retried tasks'),
  ).action(
    act(async (id: string, options: RetryOptions) =>
      (await import('./commands/retry.js')).retryCommand(io, id, options),
    ),
  );

  const deadLetter = program
    .command('dead-letter')
    .description(
      'The dead-letter queue: FAILED tasks across workflows; list them, re-drive them after a fix',
    );
  const withDeadLetterFilters = (command: Command): Command =>
    command
      .option('--workflow <id>', 'only tasks of this workflow')
      .option('--agent <id>', 'only tasks whose last attempt ran on this agent config')
      .option('--error <code>', 'only tasks whose last error has this code or name')
      .option('--since <time>', 'only tasks that failed at or after this time (ISO 8601 or epoch ms)')
      .option('--before <time>', 'only tasks that failed before this time (ISO 8601 or epoch ms)');
  withCommon(
    withDeadLetterFilters(
      deadLetter.command('list').description('List dead letters, newest failure first, a page at a time'),
    )
      .option('--limit <n>', 'at most this many (1 to 1000)', '50')
      .option('--after <cursor>', 'the page after this cursor (printed by the previous page)'),
  ).action(
    act(async (options: DeadLetterListOptions) =>
      (await import('./commands/dead-letter.js')).deadLetterListCommand(io, options),
    ),
  );
  withCommon(
    withDeadLetterFilters(
      deadLetter
        .command('redrive')
        .description(
          'Re-drive dead letters: each goes back to PENDING with its error history kept (retryTask); exit 2 if any was refused',
        )
        .argument('[taskIds...]', 'the tasks to re-drive'),
    )
      .option('--all', 'every dead letter the filters select', false)
      .option('--submit', 'enqueue them for workers on the agent config that ran them', false)
      .option('--dry-run', 'report what would be re-driven; change nothing', false),
  ).action(
    act(async (taskIds: string[], options: DeadLetterRedriveOptions) =>
      (await import('./commands/dead-letter.js')).deadLetterRedriveCommand(io, taskIds, options),
    ),
  );

  const schedule = program
    .command('schedule')
    .description('Cron schedules: each occurrence starts a workflow from a template, run by workers');
  withCommon(
    schedule
      .command('add')
      .description(
        "Register a workflow file's schedule (or --cron) in the store; workers (symphony worker) start its workflow at each occurrence",
      )
      .argument('<file>', 'workflow file (.json, .yaml or .yml)')
      .option('--id <id>', 'the schedule id (default: a new id)')
      .option('--cron <expression>', "cron expression instead of the file's schedule.cron")
      .option('--agents <module>', "agents module (JS or TS) to use instead of the file's agents.module"),
  ).action(
    act(async (file: string, options: ScheduleAddOptions) =>
      (await import('./commands/schedule.js')).scheduleAddCommand(io, file, options),
    ),
  );
  withCommon(schedule.command('list').description('List the schedules of the store, by id')).action(
    act(async (options: CommonOptions) =>
      (await import('./commands/schedule.js')).scheduleListCommand(io, options),
    ),
  );
  const scheduleActions: Record<ScheduleAction, string> = {
    pause: 'Pause a schedule: no occurrence fires until it is resumed',
    resume: 'Resume a schedule from its next occurrence (those that fell while paused are not caught up)',
    remove: 'Remove a schedule and its firing records; the workflows it started stay',
    trigger: 'Start one workflow from the schedule now, outside its cron (workers run it)',
  };
  for (const [action, description] of Object.entries(scheduleActions) as [ScheduleAction, string][]) {
    withCommon(schedule.command(action).description(description).argument('<id>', 'schedule id')).action(
      act(async (id: string, options: CommonOptions) =>
        (await import('./commands/schedule.js')).scheduleActionCommand(io, action, id, options),
      ),
    );
  }

  addWatchCommands(program, io, act);

  return program;
}

/** The exit code for an error, after printing it. */
function report(io: CliIO, error: unknown, json: boolean): number {
  let code: number = ExitCode.ERROR;
  let kind = 'INTERNAL';
  let message = error instanceof Error ? error.message : String(error);
  if (CliUsageError.isInstance(error)) {
    code = ExitCode.USAGE;
    kind = error.code;
  } else if (SymphonyError.isInstance(error)) {
    kind = error.code;
    code = USAGE_CODES.has(error.code) ? ExitCode.USAGE : ExitCode.ERROR;
  } else if (error instanceof Error && io.env.SYMPHONY_DEBUG) {
    message = error.stack ?? message;
  }
  if (json) printJson(io.stdout, { error: { code: kind, message } });
  // A message may span lines (a workflow file's issues); each is printed as a line of its own.
  for (const [i, line] of message.split(/\r?\n/).entries())
    println(io.stderr, i === 0 ? `symphony: ${line}` : line);
  return code;
}

/**
 * Runs the CLI with the given arguments (without `node` and the script) and returns the exit code.
 * @example
 * process.exitCode = await main(process.argv.slice(2));
 */
export async function main(
  argv: readonly string[],
  io: CliIO = { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() },
): Promise<number> {
  const result = { code: ExitCode.OK as number, json: false };
  const program = buildProgram(io, result);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return result.code;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version exit 0; a missing command, unknown option or bad argument is a usage
      // error, which commander has already written to stderr.
      if (error.exitCode === 0) return ExitCode.OK;
      if (argv.includes('--json')) {
        const message = error.message.replace(/^error: /, '');
        printJson(io.stdout, { error: { code: USAGE_ERROR_CODE, message } });
      }
      return ExitCode.USAGE;
    }
    return report(io, error, result.json || argv.includes('--json'));
  }
}
