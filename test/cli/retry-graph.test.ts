/**
 * `symphony retry` of a workflow graph: the failed tasks are retried and the graph runs on to its
 * end (what they release runs too), for a wait that timed out, a loop that reached its limit, a
 * failed task with a dependent and a child workflow that failed. Failures come from a closed gate
 * file the test opens before the retry; nothing waits for time to pass but a wait's own timeout.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Task } from '../../src/index.js';
import { cli, FIXTURES, readStore, startCli, tempDir, type CliProcess } from './helpers.js';

const temps: Array<() => void> = [];
const running: CliProcess[] = [];
afterEach(() => {
  for (const run of running.splice(0)) run.child.kill('SIGKILL');
  temps.splice(0).forEach((cleanup) => cleanup());
});

function temp() {
  const made = tempDir();
  temps.push(made.cleanup);
  return { ...made, gate: join(made.dir, 'gate') };
}

/** Writes a workflow file of these task lines (YAML) run by retry-graph-agents.mjs, one attempt a task. */
function workflowFile(dir: string, name: string, tasks: readonly string[]): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    [
      `name: ${name}`,
      'agents:',
      `  module: ${join(FIXTURES, 'retry-graph-agents.mjs')}`,
      '  configs:',
      '    - { name: Writer, type: writer }',
      'retry: { maxAttempts: 1 }',
      'tasks:',
      ...tasks.map((task) => `  - ${task}`),
    ].join('\n'),
  );
  return file;
}

const tasksOf = (db: string, workflowId: string): Promise<Task[]> =>
  readStore(db, (store) => store.tasks.find({ where: { workflowId } }));
const byName = (tasks: readonly Task[]) => new Map(tasks.map((task) => [task.name, task]));

/** Runs the file to its end (exit 1); returns the workflow id. */
async function failedRun(file: string, db: string, env: Record<string, string> = {}): Promise<string> {
  const run = await cli(['run', file, '--db', db, '--json'], { env });
  expect(run.code, run.stdout + run.stderr).toBe(1);
  return (JSON.parse(run.stdout) as { workflow: { id: string } }).workflow.id;
}

describe('symphony retry of a workflow graph', () => {
  it('retries a failed task and runs its dependent: exit 0, workflow COMPLETED', async () => {
    const { dir, db, gate } = temp();
    const file = workflowFile(dir, 'Chain', [
      '{ key: a, name: A, inputData: { needsGate: true } }',
      '{ key: b, name: B, dependsOn: [a] }',
    ]);
    const env = { SYMPHONY_TEST_GATE: gate };
    const workflowId = await failedRun(file, db, env);
    expect(byName(await tasksOf(db, workflowId)).get('B')!.status).toBe('PENDING');
    writeFileSync(gate, '');
    const retry = await cli(['retry', workflowId, '--db', db], { env });
    expect(retry.stderr).toBe('');
    expect(retry.code, retry.stdout).toBe(0);
    expect(retry.stdout).toContain('Workflow "Chain" COMPLETED');
    const tasks = byName(await tasksOf(db, workflowId));
    expect(tasks.get('A')).toMatchObject({ status: 'COMPLETED', attempts: 2 });
    expect(tasks.get('B')).toMatchObject({
      status: 'COMPLETED',
      outputData: { by: 'writer', name: 'B', dependencies: { a: { by: 'writer', name: 'A' } } },
    });
  });

  it('retries a loop that failed LOOP_LIMIT_EXCEEDED: a new round approves, its dependent runs', async () => {
    const { dir, db } = temp();
    const file = workflowFile(dir, 'Review', [
      '{ key: review, name: Review, loop: { until: outputs.review.approved == true, maxIterations: 2 } }',
      '{ key: publish, name: Publish, dependsOn: [review] }',
    ]);
    const workflowId = await failedRun(file, db);
    const failed = byName(await tasksOf(db, workflowId)).get('Review')!;
    expect(failed.errors.at(-1)?.code).toBe('LOOP_LIMIT_EXCEEDED');
    const retry = await cli(['retry', workflowId, '--db', db, '--json']);
    expect(retry.stderr).toBe('');
    expect(retry.code, retry.stdout).toBe(0);
    expect(JSON.parse(retry.stdout)).toMatchObject({ workflow: { id: workflowId, status: 'COMPLETED' } });
    const tasks = byName(await tasksOf(db, workflowId));
    expect(tasks.get('Review')).toMatchObject({
      status: 'COMPLETED',
      outputData: { draft: 3, approved: true },
    });
    expect(tasks.get('Review')!.graph?.children).toHaveLength(3);
    expect(tasks.get('Publish')!.status).toBe('COMPLETED');
  });

  it('retries a child-workflow node that failed CHILD_WORKFLOW_FAILED: the child runs again and completes', async () => {
    const { dir, db, gate } = temp();
    const file = workflowFile(dir, 'Parent', [
      '{ key: article, name: Article, inputData: { needsGate: true }, workflow: { definition: { name: Child, tasks: [{ key: draft, name: Draft }] } } }',
      '{ key: publish, name: Publish, dependsOn: [article] }',
    ]);
    const env = { SYMPHONY_TEST_GATE: gate };
    const workflowId = await failedRun(file, db, env);
    const node = byName(await tasksOf(db, workflowId)).get('Article')!;
    expect(node.errors.at(-1)?.code).toBe('CHILD_WORKFLOW_FAILED');
    writeFileSync(gate, '');
    const retry = await cli(['retry', workflowId, '--db', db], { env });
    expect(retry.stderr).toBe('');
    expect(retry.code, retry.stdout).toBe(0);
    const tasks = byName(await tasksOf(db, workflowId));
    expect(tasks.get('Article')!.status).toBe('COMPLETED');
    expect(tasks.get('Publish')!.status).toBe('COMPLETED');
    const child = await tasksOf(db, `${node.id}-wf`);
    expect(child.map((task) => [task.name, task.status, task.attempts])).toEqual([['Draft', 'COMPLETED', 2]]);
  });

  it('retries a wait that failed WAIT_TIMED_OUT: it waits again, says so, and a signal answers it', async () => {
    const { dir, db } = temp();
    const file = workflowFile(dir, 'Approval', [
      '{ key: approval, name: Approval, waitFor: { signals: [approval], timeoutMs: 4000 } }',
      '{ key: ship, name: Ship, dependsOn: [approval] }',
    ]);
    const workflowId = await failedRun(file, db);
    expect(
      byName(await tasksOf(db, workflowId))
        .get('Approval')!
        .errors.at(-1)?.code,
    ).toBe('WAIT_TIMED_OUT');
    const retry = startCli(['retry', workflowId, '--db', db], { env: { SYMPHONY_CONTROL_POLL_MS: '20' } });
    running.push(retry);
    // The retried wait has begun: the run says which signal it waits for and how to send it.
    const [line] = await retry.waitForLine(/ WAITING "Approval" for signal approval.*/);
    expect(line).toContain(`(symphony signal ${workflowId} approval [json] --db ${db})`);
    const sent = await cli(['signal', workflowId, 'approval', '{"ok": true}', '--db', db]);
    expect(sent.code, sent.stderr).toBe(0);
    const done = await retry.exited;
    expect(done.stderr).toBe('');
    expect(done.code, done.stdout).toBe(0);
    // Told once per wait.
    expect(done.stdout.match(/ WAITING "Approval"/g)).toHaveLength(1);
    const tasks = byName(await tasksOf(db, workflowId));
    expect(tasks.get('Approval')).toMatchObject({ status: 'COMPLETED', outputData: { signal: 'approval' } });
    expect(tasks.get('Ship')!.status).toBe('COMPLETED');
  });
});
