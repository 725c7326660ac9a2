/** Characters a POSIX shell reads as part of a plain word. */
const PLAIN_WORD = /^[\w@%+=:,./-]+$/;

/**
 * A word as a POSIX shell reads it back unchanged: as it is when it has nothing the shell would
 * interpret, else in single quotes (a quote inside becomes `'\''`).
 * @example
 * shellQuote('/tmp/my runs.db'); // "'/tmp/my runs.db'"
 */
export function shellQuote(word: string): string {
  if (word !== '' && PLAIN_WORD.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * Writes the commands the CLI suggests ("Details: symphony show <id>") so that they name the store
 * the command used: `--db <store>` unless it was the default one, and no command at all for a store
 * that is gone when the command ends (`:memory:`).
 */
export class CommandHints {
  /**
   * @param store the `--db` value to repeat (password masked), `null` for the default store, or
   *   `false` for a store nothing can read after the command (`:memory:`).
   */
  constructor(private readonly store: string | null | false) {}

  /** `symphony <args> [--db <store>]`, or null when the store does not outlive the command. */
  command(args: string): string | null {
    if (this.store === false) return null;
    return `symphony ${args}${this.store === null ? '' : ` --db ${shellQuote(this.store)}`}`;
  }

  /** Whether the commands name a store of their own (`--db`), not the default one. */
  get namesStore(): boolean {
    return typeof this.store === 'string';
  }

  /** `command(args)` in backquotes for a sentence, or `fallback` when there is none. */
  quoted(args: string, fallback = ''): string {
    const command = this.command(args);
    return command === null ? fallback : `\`${command}\``;
  }
}
