const marker = Symbol.for('symphony.cli-error');

/**
 * A mistake of the person running the command (exit code 2): the message says what was expected
 * and what came, and names the file and field when there is one.
 */
export class CliUsageError extends Error {
  override readonly name = 'CliUsageError' as const;
  readonly code = 'CLI_USAGE' as const;
  private readonly [marker] = true;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }

  /** True for a CliUsageError, even one from another copy of the module. */
  static isInstance(error: unknown): error is CliUsageError {
    return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[marker] === true;
  }
}
