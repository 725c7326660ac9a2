/**
 * `symphony resume` runs a task given a new run outside the process that ran its workflow (found by
 * the adversarial tester's task-control probe): `retryTask` leaves it PENDING with no execution plan,
 * which no recovery takes up, so resume said "Nothing can run ... no execution plan" (exit 5) and
 * `symphony retry` "Nothing to retry" (it is not FAILED): stranded. Resume now runs it on the agent
 * config that ran it last, as `symphony retry` would have.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { ServiceRegistry } from '../../src/index.js';
import { cli, FIXTURES, readStore, tempDir, WORKFLOW_LINE } from './helpers.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

describe('symphony resume of a task retried elsewhere (no execution plan)', () => {
  it('runs it on the agent config that ran it last', async () => {
    const { db, cleanup } = tempDir();
    cleanups.push(cleanup);
    const run = await cli(['run', join(FIXTURES, 'failing.yaml'), '--db', db]);
    expect(run.code, run.stdout + run.stderr).toBe(ExitCode.WORKFLOW_FAILED);
    const workflowId = run.stdout.split('\n')[0]!.match(WORKFLOW_LINE)![1]!;
    const picky = await readStore(db, async (store) =>
      (await store.tasks.find({ where: { workflowId } })).find((task) => task.name === 'picky one'),
    );
    // Retried from a program, as another process would: PENDING, no plan, not run.
    const other = new ServiceRegistry({ store: db });
    expect((await other.getTaskManager().retryTask(picky!.id)).execution).toBeNull();
    await other.stop();

    const resumed = await cli(['resume', workflowId, '--db', db]);
    const after = await readStore(db, (store) => store.tasks.get(picky!.id));
    expect(after, resumed.stdout + resumed.stderr).toMatchObject({
      status: 'COMPLETED',
      attempts: 2,
      agentId: picky!.agentId,
    });
    // The task it ran completed; the workflow's other failed task is left to `symphony retry`.
    expect(resumed.code).toBe(ExitCode.OK);
    expect(await readStore(db, async (store) => (await store.workflows.get(workflowId))?.status)).toBe(
      'FAILED',
    );
  });
});
