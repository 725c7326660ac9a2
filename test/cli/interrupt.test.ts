import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FIXTURES, readStore, startCli, tempDir, WORKFLOW_LINE, type CliProcess } from './helpers.js';

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
  });
});
