import type { CompletionColumns } from '../sql/control-statements.js';
import type { PgClient } from './driver.js';
import type { StatementTail } from './events.js';
import { statementName } from './unnest.js';

/**
 * The completion records of a commit as a CTE of the statement of its state writes (`written`: the
 * rows the UPDATE wrote, with their new status), so that a commit of state writes, completion
 * records and events (most commits of a busy engine) is one statement: atomic without BEGIN and
 * COMMIT, three round trips fewer. The rule is the one of the separate insert (control-statements.ts):
 * a record goes in only for a task that is COMPLETED, here as this statement leaves it (the
 * UPDATE's new status for a row it wrote, else the stored one), and a task's first record stays.
 */
export function completionsTail(schema: string): StatementTail {
  return {
    key: 'completions',
    cte: (first) =>
      `recorded AS (INSERT INTO ${schema}.task_completions ("task_id", "execution_id", "attempt", "completed_at")` +
      ' SELECT u.task_id, u.execution_id, u.attempt, u.completed_at' +
      ` FROM unnest($${first}::text[], $${first + 1}::text[], $${first + 2}::int4[], $${first + 3}::float8[])` +
      ' WITH ORDINALITY AS u(task_id, execution_id, attempt, completed_at, n)' +
      ' LEFT JOIN written AS w ON w."id" = u.task_id' +
      ` WHERE CASE WHEN w."id" IS NOT NULL THEN w."status" = 'COMPLETED'` +
      ` ELSE EXISTS (SELECT 1 FROM ${schema}.tasks AS t WHERE t."id" = u.task_id AND t."status" = 'COMPLETED') END` +
      ' ORDER BY u.n ON CONFLICT ("task_id") DO NOTHING)',
  };
}

/** The values `completionsTail` binds, in order. */
export function completionValues(columns: CompletionColumns): unknown[] {
  return [columns.taskId, columns.executionId, columns.attempt, columns.completedAt];
}

/** The statement of state writes (`update`, `params` parameters) followed by `tail` alone (no events). */
export function withTail(
  update: string,
  params: number,
  tail: StatementTail,
): { name: string; text: string } {
  const text = `WITH written AS (${update}), ${tail.cte(params + 1)} SELECT "id" FROM written`;
  return { name: statementName(`symphony_states_${tail.key}`, text), text };
}

/**
 * Runs `work` in a transaction on a client that is not in one (BEGIN, then COMMIT, or ROLLBACK
 * when it throws): the rare follow-up of a one-statement commit that must commit together.
 */
export async function inTransaction<R>(client: PgClient, work: () => Promise<R>): Promise<R> {
  await client.query('BEGIN');
  try {
    const result = await work();
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}
