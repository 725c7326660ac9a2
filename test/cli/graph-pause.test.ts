/**
 * A graph `symphony run` paused from another process waits while its workflow is paused and goes
 * on when it is resumed (exit 0), or ends with exit 1 when it is cancelled; `symphony resume` of a
 * graph run routes the file's tasks among the file's own agent configs, not its child files'.
 * The runs wait for a signal, so nothing waits for time to pass: the tests wait on lines and the store.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Task } from '../../src/index.js';
import { cli, FIXTURES, readStore, startCli, tempDir, WORKFLOW_LINE, type CliProcess } from './helpers.js';

const temps: Array<() => void> = [];
const running: CliProcess[] = [];
afterEach(() => {
  for (const run of running.splice(0)) run.child.kill('SIGKILL');
  temps.splice(0).forEach((cleanup) => cleanup());
});

const MODULE = join(FIXTURES, 'retry-graph-agents.mjs');
const FAST = { SYMPHONY_CONTROL_POLL_MS: '20' };

/** Writes `<name>.yaml` with these lines (YAML); returns its path. */
function write(dir: string, name: string, lines: readonly string[]): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, lines.join('\n'));
  return file;
}

function temp() {
  const made = tempDir();
  temps.push(made.cleanup);
  return made;
}

const tasksOf = (db: string, workflowId: string): Promise<Task[]> =>
  readStore(db, (store) => store.tasks.find({ where: { workflowId } }));

/** Starts a run of a file that waits for `approval`, then ships; resolves once the wait has begun. */
async function waitingRun(): Promise<{ db: string; runner: CliProcess; workflowId: string }> {
  const { dir, db } = temp();
  const file = write(dir, 'Approval', [
    'name: Approval',
    'agents:',
    `  module: ${MODULE}`,
    '  configs:',
    '    - { name: Writer, type: writer }',
    'tasks:',
    '  - { key: draft, name: Draft }',
    '  - { key: approval, name: Approval, dependsOn: [draft], waitFor: approval }',
    '  - { key: ship, name: Ship, dependsOn: [approval] }',
  ]);
  const runner = startCli(['run', file, '--db', db], { env: FAST });
  running.push(runner);
  const [, workflowId] = await runner.waitForLine(WORKFLOW_LINE);
  await runner.waitForLine(/ WAITING "Approval" for signal approval/);
  return { db, runner, workflowId: workflowId! };
}

describe('a graph symphony run paused from another process', () => {
  it('waits while paused and goes on once resumed: the resume is answered by the run, exit 0', async () => {
    const { db, runner, workflowId } = await waitingRun();
    const pause = await cli(['pause', workflowId, '--db', db, '--json'], { env: FAST });
    expect(pause.stderr).toBe('');
    expect(pause.code).toBe(0);
    expect((JSON.parse(pause.stdout) as { status: string }).status).toBe('PAUSED');
    await runner.waitForLine(new RegExp(` workflow ${workflowId} PAUSED "Approval"`));
    // The paused run does not end.
    expect(runner.child.exitCode).toBeNull();

    // Started as a process of the test's own, so that a resume that runs the graph itself (and so
    // waits for the signal) is ended with the test.
    const resuming = startCli(['resume', workflowId, '--db', db], { env: FAST });
    running.push(resuming);
    const resume = await resuming.exited;
    expect(resume.stderr).toBe('');
    expect(resume.code, resume.stdout).toBe(0);
    // Applied by the running process, which runs the rest; the resume ran nothing itself.
    expect(resume.stdout).toContain(`Workflow ${workflowId} resumed`);
    expect(resume.stdout).not.toContain('Resuming workflow');
    const sent = await cli(['signal', workflowId, 'approval', '--db', db]);
    expect(sent.code, sent.stderr).toBe(0);
    const done = await runner.exited;
    expect(done.stderr).toBe('');
    expect(done.code, done.stdout).toBe(0);
    expect(done.stdout).toContain('Workflow "Approval" COMPLETED');
    expect(done.stdout).not.toContain('Paused with');
    const tasks = await tasksOf(db, workflowId);
    expect(tasks.map((task) => [task.name, task.status])).toEqual([
      ['Draft', 'COMPLETED'],
      ['Approval', 'COMPLETED'],
      ['Ship', 'COMPLETED'],
    ]);
  });

  it('ends with exit 1 when the paused workflow is cancelled', async () => {
    const { db, runner, workflowId } = await waitingRun();
    const pause = await cli(['pause', workflowId, '--db', db], { env: FAST });
    expect(pause.code, pause.stderr).toBe(0);
    await runner.waitForLine(new RegExp(` workflow ${workflowId} PAUSED "Approval"`));
    const cancel = await cli(['cancel', workflowId, '--db', db], { env: FAST });
    expect(cancel.code, cancel.stderr).toBe(0);
    const done = await runner.exited;
    expect(done.code, done.stdout + done.stderr).toBe(1);
    expect(done.stdout).toContain('Workflow "Approval" CANCELLED');
  });
});

describe('symphony resume of a graph run with a child workflow file', () => {
  it("routes the file's tasks that never started among the file's own agent configs only", async () => {
    const { dir, db } = temp();
    write(dir, 'child', [
      'name: Check',
      'agents:',
      '  configs:',
      '    - { name: Checker, type: checker }',
      'tasks:',
      '  - { key: check, name: Check }',
    ]);
    const file = write(dir, 'Parent', [
      'name: Parent',
      'agents:',
      `  module: ${MODULE}`,
      '  configs:',
      '    - { name: Writer, type: writer }',
      'routing: { strategy: ROUND_ROBIN }',
      'tasks:',
      '  - { key: approval, name: Approval, waitFor: approval }',
      ...[1, 2, 3, 4].map((i) => `  - { key: x${i}, name: X${i}, dependsOn: [approval] }`),
      '  - { key: sub, name: Sub, dependsOn: [approval], workflow: ./child.yaml }',
    ]);
    const runner = startCli(['run', file, '--db', db], { env: { ...FAST, SYMPHONY_STOP_GRACE_MS: '0' } });
    running.push(runner);
    const [, workflowId] = await runner.waitForLine(WORKFLOW_LINE);
    await runner.waitForLine(/ WAITING "Approval"/);
    // Ctrl-C: the wait stays in the store, the tasks after it never started.
    runner.child.kill('SIGINT');
    expect((await runner.exited).code).toBe(130);
    const sent = await cli(['signal', workflowId!, 'approval', '--db', db]);
    expect(sent.code, sent.stderr).toBe(0);

    const resumed = await cli(['resume', workflowId!, '--db', db], { env: FAST });
    expect(resumed.stderr).toBe('');
    expect(resumed.code, resumed.stdout).toBe(0);
    const names = await readStore(
      db,
      async (store) => new Map((await store.agentConfigs.find()).map((config) => [config.id, config.name])),
    );
    const tasks = await tasksOf(db, workflowId!);
    const xs = tasks.filter((task) => /^X\d$/.test(task.name));
    expect(xs.map((task) => [task.status, names.get(task.agentId!)])).toEqual(
      [1, 2, 3, 4].map(() => ['COMPLETED', 'Writer']),
    );
    // The child file's task runs on the child file's agent.
    const sub = tasks.find((task) => task.name === 'Sub')!;
    const child = await tasksOf(db, `${sub.id}-wf`);
    expect(child.map((task) => [task.status, names.get(task.agentId!)])).toEqual([['COMPLETED', 'Checker']]);
  });
});
