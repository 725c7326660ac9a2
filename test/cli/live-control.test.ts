/**
 * Live control across processes (issue #4): `symphony pause|resume|cancel` in one process steers a
 * workflow that `symphony run` executes in another, through the store's command channel that
 * running engines poll (every 500 ms by default); the runner applies the command and acknowledges
 * it, and the command returns once it has. Nothing here bets on time (issue 9): the runner's
 * attempts wait at a gate file the test opens, and the test reads what the processes recorded.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cli, FIXTURES, readStore, startCli, tempDir, WORKFLOW_LINE, type CliProcess } from './helpers.js';

const GATED = join(FIXTURES, 'gated.yaml');
const SETTLE = { timeout: 60_000, interval: 10 };
const temps: Array<() => void> = [];
const running: CliProcess[] = [];
afterEach(() => {
  for (const run of running.splice(0)) run.child.kill('SIGKILL');
  temps.splice(0).forEach((cleanup) => cleanup());
});

/** Starts `symphony run gated.yaml` and waits until its first attempt waits at the (closed) gate. */
async function startGatedRun() {
  const { dir, db, cleanup } = tempDir();
  temps.push(cleanup);
  const gate = join(dir, 'gate');
  const runner = startCli(['run', GATED, '--db', db], { env: { SYMPHONY_TEST_GATE: gate } });
  running.push(runner);
  const [, workflowId] = await runner.waitForLine(WORKFLOW_LINE);
  await vi.waitFor(() => expect(existsSync(`${gate}.arrivals`)).toBe(true), SETTLE);
  return {
    runner,
    db,
    workflowId: workflowId!,
    open: () => writeFileSync(gate, ''),
    arrivals: () => readFileSync(`${gate}.arrivals`, 'utf8').split('\n').filter(Boolean),
  };
}

const tasksOf = (db: string, workflowId: string) =>
  readStore(db, (store) => store.tasks.find({ where: { workflowId } }));

describe('live control from a second process', () => {
  it('pauses a workflow another symphony run is executing: once pause returns no attempt starts until resume', async () => {
    const { runner, db, workflowId, open, arrivals } = await startGatedRun();

    // `symphony list` names the engine of the run as holding it.
    const list = await cli(['list', '--db', db, '--json']);
    expect(JSON.parse(list.stdout)).toEqual([
      expect.objectContaining({ id: workflowId, heldBy: [`symphony-cli:${hostname()}:${runner.child.pid}`] }),
    ]);

    // pause returns once the runner has applied it: the attempt under way goes on, nothing else runs.
    const pause = await cli(['pause', workflowId, '--db', db, '--json']);
    expect(pause.stderr).toBe('');
    expect(pause.code).toBe(0);
    expect((JSON.parse(pause.stdout) as { status: string }).status).toBe('PAUSED');
    const paused = await tasksOf(db, workflowId);
    expect(paused.filter((task) => task.status === 'RUNNING').map((task) => task.name)).toEqual(['step 1']);

    // The attempt at the gate finishes; the paused runner starts no other and says PAUSED.
    open();
    await vi.waitFor(async () => {
      const tasks = await tasksOf(db, workflowId);
      expect(tasks.filter((task) => task.status === 'COMPLETED')).toHaveLength(1);
    }, SETTLE);
    await runner.waitForLine(new RegExp(` workflow ${workflowId} PAUSED "Gated workflow"`));
    const held = await tasksOf(db, workflowId);
    expect(held.filter((task) => task.status === 'RUNNING')).toEqual([]);
    expect(held.filter((task) => task.status === 'PENDING' || task.status === 'PAUSED')).toHaveLength(4);
    expect(runner.child.exitCode).toBeNull();

    const resumedAt = Date.now();
    const resume = await cli(['resume', workflowId, '--db', db]);
    expect(resume.code).toBe(0);
    expect(resume.stdout).toContain(`Workflow ${workflowId} resumed`);
    const { code, stdout } = await runner.exited;
    expect(code).toBe(0);
    expect(stdout).toContain('Workflow "Gated workflow" COMPLETED');
    const done = await tasksOf(db, workflowId);
    expect(done.map((task) => task.status)).toEqual(new Array(5).fill('COMPLETED'));
    // The record shows it: one attempt reached the gate before the resume, the four others after it.
    expect(arrivals()).toEqual(['step 1', 'step 2', 'step 3', 'step 4', 'step 5']);
    const startedBeforeResume = done.filter((task) => task.startedAt !== null && task.startedAt < resumedAt);
    expect(startedBeforeResume.map((task) => task.name)).toEqual(['step 1']);
  });

  it('cancels a workflow another symphony run is executing: the runner stops and exits 1', async () => {
    const { runner, db, workflowId } = await startGatedRun();

    const cancel = await cli(['cancel', workflowId, '--db', db]);
    expect(cancel.code).toBe(0);
    expect(cancel.stdout).toContain(`Workflow ${workflowId} cancelled: now CANCELLED`);
    const { code, stdout } = await runner.exited;
    expect(code).toBe(1);
    expect(stdout).toContain('Workflow "Gated workflow" CANCELLED');
    // Only the runner changed the rows: once cancelled, the workflow never shows as running again.
    const states = [...stdout.matchAll(new RegExp(` workflow ${workflowId} (\\w+) `, 'g'))].map((m) => m[1]);
    expect(states).toContain('CANCELLED');
    expect(states.slice(states.indexOf('CANCELLED'))).toEqual(['CANCELLED']);
    // The attempt at the gate was aborted: every task is cancelled, none ran to its end.
    const tasks = await tasksOf(db, workflowId);
    expect(tasks.map((task) => task.status)).toEqual(new Array(5).fill('CANCELLED'));
    const workflow = await readStore(db, (store) => store.workflows.get(workflowId));
    expect(workflow?.status).toBe('CANCELLED');
  });
});
