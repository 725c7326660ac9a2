/** The exit codes of the `symphony` command, as documented in docs/cli.md. */
export const ExitCode = {
  /** The command did what it was asked; a workflow it ran is COMPLETED. */
  OK: 0,
  /** A workflow the command ran (or the retried tasks) did not complete: FAILED or CANCELLED. */
  WORKFLOW_FAILED: 1,
  /** Bad arguments, an invalid workflow file or agents module, an unknown id, a forbidden state. */
  USAGE: 2,
  /** The store could not be opened or used, or something unexpected broke. */
  ERROR: 3,
  /** Stopped by SIGINT or SIGTERM; unfinished tasks stay in the store. */
  INTERRUPTED: 130,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
