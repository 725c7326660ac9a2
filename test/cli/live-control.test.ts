/**
 * Live control across processes (issue #4): `symphony pause|resume|cancel` in one process steers a
 * workflow that `symphony run` executes in another, through the store's command channel that
 * running engines poll (every 500 ms by default); the runner applies the command and acknowledges
 * it, and the command returns once it has.
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cli, FIXTURES, readStore, startCli, tempDir, WORKFLOW_LINE, type CliProcess } from './helpers.js';

const SLOW = join(FIXTURES, 'slow.yaml');
const temps: Array<() => void> = [];
const running: CliProcess[] = [];
afterEach(() => {
  for (const run of running.splice(0)) run.child.kill('SIGKILL');
  temps.splice(0).forEach((cleanup) => cleanup());
});

/** Starts `symphony run slow.yaml` and waits until its first attempt is running. */
async function startSlowRun(db: string): Promise<{ runner: CliProcess; workflowId: string }> {
  const runner = startCli(['run', SLOW, '--db', db]);
  running.push(runner);
  const [, workflowId] = await runner.waitForLine(WORKFLOW_LINE);
  await runner.waitForLine(/ task \S+ RUNNING "nap/);
  return { runner, workflowId: workflowId! };
}

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('live control from a second process', () => {
  it('pauses a workflow another symphony run is executing within a second, and resume lets it finish', async () => {
    const { db, cleanup } = tempDir();
    temps.push(cleanup);
    const { runner, workflowId } = await startSlowRun(db);

    // `symphony list` names the engine of the run as holding it.
    const list = await cli(['list', '--db', db, '--json']);
    expect(JSON.parse(list.stdout)).toEqual([
      expect.objectContaining({ id: workflowId, heldBy: [`symphony-cli:${hostname()}:${runner.child.pid}`] }),
    ]);

    const pause = await cli(['pause', workflowId, '--db', db, '--json']);
    expect(pause.stderr).toBe('');
    expect(pause.code).toBe(0);
    expect((JSON.parse(pause.stdout) as { status: string }).status).toBe('PAUSED');
    const pausedAt = Date.now();

    // The runner polls the command channel: within a second no new attempt starts. Watch a while.
    await wait(2500);
    const held = await readStore(db, (store) => store.tasks.find({ where: { workflowId } }));
    const lastStart = Math.max(...held.flatMap((task) => (task.startedAt === null ? [] : [task.startedAt])));
    expect(lastStart).toBeLessThanOrEqual(pausedAt + 1000);
    expect(held.filter((task) => task.status === 'RUNNING')).toEqual([]);
    const waiting = held.filter((task) => task.status === 'PENDING' || task.status === 'PAUSED');
    expect(waiting.length).toBeGreaterThan(0);
    expect(runner.child.exitCode).toBeNull();
    expect(runner.stdout()).toMatch(new RegExp(` workflow ${workflowId} PAUSED "Slow workflow"`));

    const resume = await cli(['resume', workflowId, '--db', db]);
    expect(resume.code).toBe(0);
    expect(resume.stdout).toContain(`Workflow ${workflowId} resumed`);
    const { code, stdout } = await runner.exited;
    expect(code).toBe(0);
    expect(stdout).toContain('Workflow "Slow workflow" COMPLETED');
    const done = await readStore(db, (store) => store.tasks.find({ where: { workflowId } }));
    expect(done.map((task) => task.status)).toEqual(new Array(20).fill('COMPLETED'));
  });

  it('cancels a workflow another symphony run is executing: the runner stops and exits 1', async () => {
    const { db, cleanup } = tempDir();
    temps.push(cleanup);
    const { runner, workflowId } = await startSlowRun(db);

    const cancel = await cli(['cancel', workflowId, '--db', db]);
    expect(cancel.code).toBe(0);
    expect(cancel.stdout).toContain(`Workflow ${workflowId} cancelled: now CANCELLED`);
    const { code, stdout } = await runner.exited;
    expect(code).toBe(1);
    expect(stdout).toContain('Workflow "Slow workflow" CANCELLED');
    // Only the runner changed the rows: once cancelled, the workflow never shows as running again.
    const states = [...stdout.matchAll(new RegExp(` workflow ${workflowId} (\\w+) `, 'g'))].map((m) => m[1]);
    expect(states).toContain('CANCELLED');
    expect(states.slice(states.indexOf('CANCELLED'))).toEqual(['CANCELLED']);
    const tasks = await readStore(db, (store) => store.tasks.find({ where: { workflowId } }));
    expect(tasks.filter((task) => task.status === 'CANCELLED').length).toBeGreaterThan(0);
    expect(tasks.every((task) => task.status === 'COMPLETED' || task.status === 'CANCELLED')).toBe(true);
    const workflow = await readStore(db, (store) => store.workflows.get(workflowId));
    expect(workflow?.status).toBe('CANCELLED');
  });
});
