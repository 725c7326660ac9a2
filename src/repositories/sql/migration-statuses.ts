/** Statuses as SQL literals. */
function sqlList(values: readonly string[]): string {
  return values.map((status) => `'${status}'`).join(', ');
}

// The status lists the SQLite and PostgreSQL migrations write into their CHECK constraints, frozen:
// a released step must produce the same SQL forever, whatever TASK_STATUSES becomes.

/** The six statuses of versions 1-4. */
export const STATUSES_V1 = sqlList(['PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'PAUSED', 'CANCELLED']);

/** Task statuses from version 5 on (TASK_STATUSES then). */
export const TASK_STATUSES_V5 = sqlList([
  'PENDING',
  'RUNNING',
  'COMPLETED',
  'FAILED',
  'PAUSED',
  'CANCELLED',
  'SKIPPED',
]);
