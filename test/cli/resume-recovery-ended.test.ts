/**
 * `symphony resume` counts the tasks its own recovery ended (found by a new-user pass): a task past
 * its `scheduleToCloseMs` when the resume takes it over ends FAILED at once, and the workflow with
 * it, so the resume exits 1 and its summary names the task and why, in text and with `--json`; it
 * exited 0 when the rest of the workflow completed here, and its summary left the task out. The CLI
 * runs in this process, on SQLite; the agents hold each attempt until the test releases it.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/cli/exit-codes.js';
import type { RunSummary } from '../../src/cli/summary.js';
import { until } from '../support/wait.js';
import { FIXTURES, readStore, tempDir } from './helpers.js';
import { runMain } from './in-process.js';

const AGENTS = join(FIXTURES, 'task-policy-agents.mjs');
const STATE = Symbol.for('symphony.test.task-policies');

interface AgentState {
  held: Map<string, () => void>;
}

const state = (): AgentState => {
  const global = globalThis as Record<symbol, AgentState | undefined>;
  global[STATE] ??= { log: [], plans: [], held: new Map(), failing: false } as AgentState;
  return global[STATE];
};

const cleanups: Array<() => void> = [];
afterEach(() => {
  delete (globalThis as Record<symbol, unknown>)[STATE];
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/**
 * A workflow of `late` (100 ms to close) and `fine`, submitted to workers that never come; returns
 * once `late`'s close limit has passed, so that the resume's recovery ends it.
 */
async function submittedPastCloseLimit(): Promise<{ dir: string; db: string; workflowId: string }> {
  const made = tempDir();
  cleanups.push(made.cleanup);
  const file = join(made.dir, 'w.yaml');
  writeFileSync(
    file,
    [
      'name: Close limit',
      'agents:',
      `  module: ${JSON.stringify(AGENTS)}`,
      '  configs: [{ name: Worker, type: held, maxConcurrency: 2 }]',
      'tasks:',
      '  - { name: late, scheduleToCloseMs: 100 }',
      '  - { name: fine }',
      '',
    ].join('\n'),
  );
  const submitted = await runMain(['run', file, '--submit', '--db', made.db, '--json'], { cwd: made.dir });
  expect(submitted.code, submitted.stderr).toBe(ExitCode.OK);
  const workflowId = (JSON.parse(submitted.stdout) as { workflow: { id: string } }).workflow.id;
  const late = await readStore(made.db, async (store) =>
    (await store.tasks.find({ where: { workflowId } })).find((task) => task.name === 'late'),
  );
  const closeBy = late!.execution!.closeBy!;
  expect(closeBy).toEqual(expect.any(Number));
  await until('the close limit of late to pass', () => Date.now() > closeBy);
  return { ...made, workflowId };
}

/** Runs `symphony resume <id> ...extra`, releasing `fine` once it runs here. */
async function resume(dir: string, db: string, workflowId: string, extra: string[] = []) {
  const result = runMain(['resume', workflowId, '--db', db, ...extra], { cwd: dir });
  await until('fine to run here', () => state().held.has('fine'));
  state().held.get('fine')!();
  return result;
}

describe('symphony resume whose recovery ends a task (close limit passed)', () => {
  it('exits 1 and names the failed task and why, though the rest completed here', async () => {
    const { dir, db, workflowId } = await submittedPastCloseLimit();
    const resumed = await resume(dir, db, workflowId);
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(ExitCode.WORKFLOW_FAILED);
    const tasks = await readStore(db, (store) => store.tasks.find({ where: { workflowId } }));
    expect(Object.fromEntries(tasks.map((task) => [task.name, task.status]))).toEqual({
      late: 'FAILED',
      fine: 'COMPLETED',
    });
    const late = tasks.find((task) => task.name === 'late')!;
    expect(late.errors.at(-1)).toMatchObject({ code: 'SCHEDULE_TO_CLOSE_TIMEOUT' });
    expect(resumed.stdout).toContain(`Workflow "Close limit" FAILED`);
    expect(resumed.stdout).toMatch(/^Tasks: 2 \(1 COMPLETED, 1 FAILED\)/m);
    expect(resumed.stdout).toContain(
      `Failed tasks:\n  ${late.id} "late": SCHEDULE_TO_CLOSE_TIMEOUT: The task did not finish by its close limit`,
    );
  });

  it('with --json: the summary counts the failed task with its error, exit 1', async () => {
    const { dir, db, workflowId } = await submittedPastCloseLimit();
    const resumed = await resume(dir, db, workflowId, ['--json']);
    expect(resumed.code, resumed.stderr).toBe(ExitCode.WORKFLOW_FAILED);
    const summary = JSON.parse(resumed.stdout) as RunSummary;
    expect(summary.workflow.status).toBe('FAILED');
    expect(summary.tasks).toMatchObject({ total: 2, byStatus: { COMPLETED: 1, FAILED: 1 } });
    expect(summary.results.find((result) => result.name === 'late')).toMatchObject({
      status: 'FAILED',
      attempts: 0,
      error: expect.stringContaining('close limit') as string,
    });
  });
});
