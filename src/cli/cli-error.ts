import { ErrorCode } from '../errors/codes.js';
import { SymphonyError } from '../errors/symphony-error.js';

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

/** `show` or `retry` was given an id that is neither a workflow's nor a task's (exit code 2). */
export class UnknownIdError extends SymphonyError {
  override readonly name = 'UnknownIdError';

  constructor(
    readonly id: string,
    store: string,
  ) {
    super(ErrorCode.WORKFLOW_NOT_FOUND, `No workflow or task has the id ${JSON.stringify(id)} in ${store}`, {
      details: { id },
    });
  }
}
