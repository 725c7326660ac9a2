/** The exit codes of the `symphony` command, as documented in docs/cli.md. */
export const ExitCode = {
  /**
   * The command did what it was asked; every task it ran completed (the workflow is COMPLETED, or
   * PAUSED when it was paused during its last task).
   */
  OK: 0,
  /** A workflow the command ran (or the retried tasks) did not complete: FAILED or CANCELLED. */
  WORKFLOW_FAILED: 1,
  /** Bad arguments, an invalid workflow file or agents module, an unknown id, a forbidden state. */
  USAGE: 2,
  /** The store could not be opened or used, or something unexpected broke. */
  ERROR: 3,
  /** The run ended with the workflow PAUSED and tasks unfinished (or none at all); `resume` continues it. */
  PAUSED: 4,
  /**
   * `resume` ran nothing: the unfinished tasks are held by another engine that has not been seen to
   * answer (it may have just died), or no engine can run them (no execution plan, no agent).
   */
  NOTHING_RAN: 5,
  /** Stopped by SIGINT or SIGTERM; unfinished tasks stay in the store. */
  INTERRUPTED: 130,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** The exit codes as `symphony --help` lists them. */
export const EXIT_CODES_HELP = `
Exit codes:
  0    done: every task the command ran completed
  1    a workflow that was run failed or was cancelled
  2    usage error: bad arguments, invalid workflow file, unknown id, forbidden state
  3    the store could not be opened or used, or an unexpected error
  4    the run ended PAUSED with unfinished tasks (or none); symphony resume continues it
  5    resume ran nothing: the unfinished tasks are held by another process, or cannot run
  130  interrupted (Ctrl-C); unfinished tasks stay in the store`;
