import { Option, type Command } from 'commander';
import { DB_ENV } from './defaults.js';

/** Wraps a command's action: it records the exit code the action returns (and whether it prints JSON). */
export type Act = <A extends unknown[]>(
  run: (...args: A) => Promise<number>,
) => (...args: A) => Promise<void>;

/** Adds `--db` and `--json`, the options every command with a store takes. */
export function withCommon(command: Command): Command {
  return command
    .addOption(
      new Option(
        '--db <path|url>',
        `store: a SQLite file, :memory: or a postgres:// URL (default: $${DB_ENV}, else .symphony/symphony.db)`,
      ),
    )
    .option('--json', 'print JSON for scripts instead of text', false);
}
