import type { Command } from 'commander';
import type { TopOptions } from './commands/top.js';
import type { WatchOptions } from './commands/watch.js';
import type { UiOptions } from './commands/ui.js';
import type { CliIO } from './io.js';
import { withCommon, type Act } from './command-options.js';

/** `symphony watch`, `symphony top` and `symphony ui`: watching the store, in the terminal and in a browser. */
export function addWatchCommands(program: Command, io: CliIO, act: Act): void {
  withCommon(
    program
      .command('watch')
      .description(
        'Print the events the engines on the store wrote (tasks, workflows, breakers, workers), one line each, and follow the store until Ctrl-C',
      )
      .option('--workflow <id>', "only this workflow's events (from the oldest kept, unless --after)")
      .option('--after <cursor>', 'start after this cursor (each --json line has one), to resume')
      .option('--names <a,b>', 'only these events, comma-separated (task.started,task.failed,...)')
      .option(
        '--until-done',
        'with --workflow: stop once it has ended; exit 0 if it completed, 1 if it failed or was cancelled',
        false,
      )
      .option('--poll-ms <ms>', 'milliseconds between two reads of the store once caught up', '250'),
  ).action(
    act(async (options: WatchOptions) => (await import('./commands/watch.js')).watchCommand(io, options)),
  );

  withCommon(
    program
      .command('top')
      .description(
        'Watch the store in the terminal: workflows by status and their task counts, agents with their load and breakers, workers; redrawn until Ctrl-C',
      )
      .option('--once', 'print one frame and exit (plain text)', false)
      .option('--interval <ms>', 'milliseconds between reads of the store', '1000')
      .option('--limit <n>', 'at most this many workflows, newest first', '20')
      .option('--status <status>', 'only workflows with this status'),
  ).action(act(async (options: TopOptions) => (await import('./commands/top.js')).topCommand(io, options)));

  program
    .command('ui')
    .description(
      'Serve a web dashboard of the store on 127.0.0.1: workflows, graphs, tasks, agents, workers and machines, live; pause, resume, cancel, retry and signal from it',
    )
    .option(
      '--db <path|url>',
      'store: a SQLite file or a postgres:// URL (default: $SYMPHONY_DB, else .symphony/symphony.db)',
    )
    .option('--host <address>', 'address to listen on; any but a loopback address needs --token', '127.0.0.1')
    .option('--port <n>', 'port to listen on (0: any free port)', '7700')
    .option(
      '--token <token>',
      'secret every request must carry (default: $SYMPHONY_UI_TOKEN); required off loopback',
    )
    .option('--poll-ms <ms>', 'milliseconds between reads of the store for live updates', '500')
    .option('--json', 'print the start line (and any error) as JSON', false)
    .action(act(async (options: UiOptions) => (await import('./commands/ui.js')).uiCommand(io, options)));
}
