/**
 * `symphony list` tells a workflow that waits for a worker from one that needs `symphony resume`
 * (found by a new-user pass): one submitted with `run --submit` that no worker has claimed yet
 * reads `no worker` in HELD BY, with how to start one; one whose engine died mid-run keeps the
 * resume hint. The CLI runs in this process, on SQLite.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { shellQuote } from '../../src/cli/hints.js';
import type { WorkflowListEntry } from '../../src/cli/overview/workflows.js';
import { ServiceRegistry } from '../../src/index.js';
import { manualAgent } from '../../src/testing/index.js';
import { until } from '../support/wait.js';
import { FIXTURES, readStore, tempDir } from './helpers.js';
import { runMain } from './in-process.js';

const AGENTS = join(FIXTURES, 'worker-agents.mjs');

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A store holding a workflow submitted to workers (none runs) and one whose engine died mid-run. */
async function twoOrphans(): Promise<{ dir: string; db: string; submitted: string; died: string }> {
  const made = tempDir();
  cleanups.push(made.cleanup);
  const file = join(made.dir, 'w.yaml');
  writeFileSync(
    file,
    [
      'name: Submitted',
      'agents:',
      `  module: ${JSON.stringify(AGENTS)}`,
      '  configs: [{ name: Echo, type: echo }]',
      'tasks: [{ name: one }, { name: two }]',
      '',
    ].join('\n'),
  );
  const run = await runMain(['run', file, '--submit', '--db', made.db, '--json'], { cwd: made.dir });
  expect(run.code, run.stderr).toBe(ExitCode.OK);
  const submitted = (JSON.parse(run.stdout) as { workflow: { id: string } }).workflow.id;

  // Another engine starts an attempt, then dies: its last beat is made to have lapsed, as a killed
  // process's does (it beats no more: no control poll).
  const engine = new ServiceRegistry({ store: made.db, engineId: 'died-mid-run', controlPollMs: 0 });
  await engine.start();
  cleanups.push(() => engine.stop({ graceMs: 0 }));
  const workflow = await engine.getWorkflowTracker().createWorkflow({ name: 'Died mid-run' });
  const task = await engine.getTaskManager().createTask({ name: 'long', workflowId: workflow.id });
  const agent = manualAgent('hang');
  void engine
    .getEnhancedExecutor()
    .executeTask(task.id, agent, workflow.id)
    .catch(() => {});
  await until('the attempt to start', () => agent.waiting.length === 1);
  await readStore(made.db, async (store) => {
    await store.commit({ beats: [{ engineId: 'died-mid-run', ttlMs: 0, stopped: false }] });
    const row = await store.tasks.get(task.id);
    expect(row).toMatchObject({ status: 'RUNNING', leaseOwner: 'died-mid-run' });
  });
  return { ...made, submitted, died: workflow.id };
}

describe('symphony list of workflows no live process holds', () => {
  it('suggests a worker for a submitted workflow and resume for one whose engine died', async () => {
    const { dir, db, submitted, died } = await twoOrphans();
    const list = await runMain(['list', '--db', db], { cwd: dir });
    expect(list.code, list.stderr).toBe(ExitCode.OK);
    const row = (id: string) => list.stdout.split('\n').find((line) => line.startsWith(id));
    expect(row(submitted)).toMatch(/\sno worker\s+Submitted$/);
    expect(row(died)).toMatch(/\snobody\s+Died mid-run$/);
    expect(list.stdout).toContain(
      `No worker: submitted to workers (run --submit, or queued for them through the API), and no live worker has claimed its tasks; start one: \`symphony worker --agents <module> --db ${shellQuote(db)}\`.`,
    );
    expect(list.stdout).toContain(
      `Held by nobody: no live process runs its unfinished tasks (interrupted, or never run); \`symphony resume <id> --db ${shellQuote(db)}\` continues it.`,
    );
  });

  it('with only a submitted workflow: the worker hint alone, and `submitted` in --json', async () => {
    const { dir, db, submitted, died } = await twoOrphans();
    const json = await runMain(['list', '--db', db, '--json'], { cwd: dir });
    const entries = JSON.parse(json.stdout) as WorkflowListEntry[];
    expect(entries.find((entry) => entry.id === submitted)).toMatchObject({ heldBy: [], submitted: true });
    expect(entries.find((entry) => entry.id === died)).toMatchObject({ heldBy: [], submitted: false });
    const pending = await runMain(['list', '--db', db, '--status', 'pending'], { cwd: dir });
    expect(pending.stdout).toContain(submitted);
    expect(pending.stdout).not.toContain(died);
    expect(pending.stdout).toContain('start one: `symphony worker --agents <module>');
    expect(pending.stdout).not.toContain('symphony resume');
  });

  // Found by a helper's pass: a plain workflow queued through the API left no mark, so list
  // suggested \`resume\`. Its PENDING tasks with a plan and no holder are what a worker claims.
  it('a plain workflow whose tasks were queued through the API reads `no worker` too', async () => {
    const made = tempDir();
    cleanups.push(made.cleanup);
    const engine = new ServiceRegistry({ store: made.db, controlPollMs: 0 });
    await engine.start();
    const workflow = await engine.getWorkflowTracker().createWorkflow({ name: 'Queued by code' });
    const tasks = await Promise.all(
      ['a', 'b'].map((name) => engine.getTaskManager().createTask({ name, workflowId: workflow.id })),
    );
    const never = await engine.getWorkflowTracker().createWorkflow({ name: 'Never run' });
    await engine.getTaskManager().createTask({ name: 'idle', workflowId: never.id });
    await engine.getEnhancedExecutor().enqueueTasks(tasks.map((task) => [task.id, 'echo'] as const));
    await engine.stop();
    const json = await runMain(['list', '--db', made.db, '--json'], { cwd: made.dir });
    const entries = JSON.parse(json.stdout) as WorkflowListEntry[];
    expect(entries.find((entry) => entry.id === workflow.id)).toMatchObject({ heldBy: [], submitted: true });
    expect(entries.find((entry) => entry.id === never.id)).toMatchObject({ heldBy: [], submitted: false });
    const list = await runMain(['list', '--db', made.db], { cwd: made.dir });
    const row = (id: string) => list.stdout.split('\n').find((line) => line.startsWith(id));
    expect(row(workflow.id)).toMatch(/\sno worker\s+Queued by code$/);
    expect(row(never.id)).toMatch(/\snobody\s+Never run$/);
  });
});
