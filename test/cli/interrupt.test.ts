import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cli, FIXTURES, readStore, startCli, tempDir, WORKFLOW_LINE, type CliProcess } from './helpers.js';

const temps: Array<() => void> = [];
const running: CliProcess[] = [];
afterEach(() => {
  for (const run of running.splice(0)) run.child.kill('SIGKILL');
  temps.splice(0).forEach((cleanup) => cleanup());
});

describe('Ctrl-C during symphony run', () => {
  it('stops gracefully: the running attempt finishes, the rest stays in the store, exit 130', async () => {
    const { db, cleanup } = tempDir();
    temps.push(cleanup);
    const runner = startCli(['run', join(FIXTURES, 'slow.yaml'), '--db', db]);
    running.push(runner);
    const [, workflowId] = await runner.waitForLine(WORKFLOW_LINE);
    await runner.waitForLine(/ task \S+ COMPLETED "nap/);
    runner.child.kill('SIGINT');
    const { code, stdout, stderr } = await runner.exited;
    expect(code).toBe(130);
    expect(stderr).toContain('Stopping: running attempts get 5 s; unfinished tasks stay in the store.');
    expect(stdout).toContain('Workflow "Slow workflow" interrupted in ');
    expect(stdout).toContain('Interrupted: unfinished tasks stay in the store');
    const tasks = await readStore(db, (store) => store.tasks.find({ where: { workflowId: workflowId! } }));
    const count = (status: string) => tasks.filter((task) => task.status === status).length;
    expect(count('RUNNING')).toBe(0);
    expect(count('COMPLETED')).toBeGreaterThan(0);
    expect(count('PENDING')).toBeGreaterThan(0);
    expect(count('COMPLETED') + count('PENDING')).toBe(20);

    // `symphony resume` runs the rest here: no live engine holds it any more.
    const resume = await cli(['resume', workflowId!, '--db', db]);
    expect(resume.stderr).toBe('');
    expect(resume.code).toBe(0);
    expect(resume.stdout).toContain(
      `Resuming workflow ${workflowId}: running its ${count('PENDING')} unfinished task(s) here`,
    );
    expect(resume.stdout).toContain('Workflow "Slow workflow" COMPLETED');
    const after = await readStore(db, async (store) => ({
      tasks: await store.tasks.find({ where: { workflowId: workflowId! } }),
      completions: await store.completions(),
    }));
    expect(after.tasks.map((task) => task.status)).toEqual(new Array(20).fill('COMPLETED'));
    expect(after.completions).toHaveLength(20);
    // Nothing left to resume.
    const again = await cli(['resume', workflowId!, '--db', db]);
    expect(again.code).toBe(2);
  });
});
