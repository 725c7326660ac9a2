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
    // The summary tells the store as the stop left it (the attempt running at Ctrl-C finished).
    expect(stdout).toContain(`Tasks: 20 (${count('PENDING')} PENDING, ${count('COMPLETED')} COMPLETED)`);

    // `symphony list` shows that no live process holds it.
    const list = await cli(['list', '--db', db, '--json']);
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ id: workflowId, heldBy: [] })]);

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

  it('a killed run holds its tasks until its beats lapse; resume says so, then runs the rest', async () => {
    const { db, cleanup } = tempDir();
    temps.push(cleanup);
    const runner = startCli(['run', join(FIXTURES, 'slow.yaml'), '--db', db]);
    running.push(runner);
    const [, workflowId] = await runner.waitForLine(WORKFLOW_LINE);
    await runner.waitForLine(/ task \S+ COMPLETED "nap/);
    runner.child.kill('SIGKILL');
    await runner.exited;
    // The killed engine's last beat still counts for a few seconds: its tasks are left to it.
    const first = await cli(['resume', workflowId!, '--db', db]);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/unfinished task\(s\) run in another process \(engine symphony-cli:/);
    // Once the hold lapses, resume takes the interrupted attempt and the queue over and finishes.
    let again = first;
    for (let i = 0; i < 40 && !again.stdout.includes('Resuming workflow'); i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      again = await cli(['resume', workflowId!, '--db', db]);
    }
    expect(again.stdout).toContain('Resuming workflow');
    expect(again.code).toBe(0);
    const done = await readStore(db, (store) => store.tasks.find({ where: { workflowId: workflowId! } }));
    expect(done.map((task) => task.status)).toEqual(new Array(20).fill('COMPLETED'));
    expect(done.some((task) => task.errors.some((error) => error.code === 'ATTEMPT_INTERRUPTED'))).toBe(true);
  });
});
