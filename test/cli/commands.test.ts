import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Task, Workflow } from '../../src/index.js';
import { cli, FIXTURES, readStore, tempDir, WORKFLOW_LINE } from './helpers.js';

let db: string;
let cleanup: () => void;
let failingId: string;

beforeAll(async () => {
  ({ db, cleanup } = tempDir());
  const run = await cli(['run', join(FIXTURES, 'failing.yaml'), '--db', db]);
  expect(run.code).toBe(1);
  failingId = run.stdout.split('\n')[0]!.match(WORKFLOW_LINE)![1]!;
});
afterAll(() => cleanup());

interface ListEntry {
  id: string;
  name: string;
  status: string;
  tasks: number;
  counts: Record<string, number>;
}

describe('symphony list and show', () => {
  it('lists workflows with status and counts, as a table and as JSON', async () => {
    const json = await cli(['list', '--db', db, '--json']);
    expect(json.code).toBe(0);
    const entries = JSON.parse(json.stdout) as ListEntry[];
    expect(entries.find((entry) => entry.id === failingId)).toMatchObject({
      name: 'Partly failing workflow',
      status: 'FAILED',
      tasks: 3,
      counts: { COMPLETED: 1, FAILED: 2, PENDING: 0, RUNNING: 0, PAUSED: 0, CANCELLED: 0 },
    });
    const text = await cli(['list', '--db', db]);
    expect(text.code).toBe(0);
    const [header, ...rows] = text.stdout.trimEnd().split('\n');
    expect(header).toMatch(
      /^ID\s+STATUS\s+TASKS\s+DONE\s+RUNNING\s+WAITING\s+FAILED\s+CANCELLED\s+SKIPPED\s+CREATED\s+HELD BY\s+NAME$/,
    );
    expect(rows.find((row) => row.startsWith(failingId))).toMatch(
      /FAILED\s+3\s+1\s+0\s+0\s+2\s+0\s+0\s+\S+ \S+\s+-\s+Partly failing workflow$/,
    );
    const filtered = await cli(['list', '--db', db, '--status', 'completed', '--json']);
    expect((JSON.parse(filtered.stdout) as ListEntry[]).every((entry) => entry.status === 'COMPLETED')).toBe(
      true,
    );
    const bad = await cli(['list', '--db', db, '--status', 'SLEEPING']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(
      '--status: expected one of PENDING, RUNNING, COMPLETED, FAILED, PAUSED, CANCELLED',
    );
  });

  it('shows tasks, agents, attempts, durations and errors', async () => {
    const text = await cli(['show', failingId, '--db', db]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`Workflow "Partly failing workflow" (${failingId})`);
    expect(text.stdout).toMatch(/status\s+FAILED/);
    expect(text.stdout).toMatch(/Agents\n\s+ID\s+NAME\s+TYPE\s+MAX\s+TASKS\s+CAPABILITIES/);
    expect(text.stdout).toMatch(/Tasks\n\s+ID\s+STATUS\s+AGENT\s+ATTEMPTS\s+DURATION\s+NAME\s+NOTE/);
    expect(text.stdout).toMatch(/COMPLETED\s+Sleeper\s+1\s+\d+ ms\s+quick nap/);
    expect(text.stdout).toMatch(
      /FAILED\s+Picky\s+1\s+\d+ ms\s+picky one\s+refusing picky one on the first try/,
    );
    expect(text.stdout).toMatch(/Errors\n/);
    expect(text.stdout).toMatch(
      /attempt 1 at \d\d:\d\d:\d\d\.\d{3} UTC {2}PICKY: refusing picky one on the first try \(not retried\)/,
    );

    const json = await cli(['show', failingId, '--db', db, '--json']);
    const details = JSON.parse(json.stdout) as {
      workflow: Workflow;
      tasks: Task[];
      agents: Array<{ name: string }>;
    };
    expect(details.workflow.id).toBe(failingId);
    expect(details.tasks.map((task) => [task.name, task.status, task.attempts])).toEqual([
      ['quick nap', 'COMPLETED', 1],
      ['picky one', 'FAILED', 1],
      ['picky two', 'FAILED', 1],
    ]);
    expect(details.tasks[1]!.errors[0]).toMatchObject({ code: 'PICKY', attempt: 1, retryable: false });
    expect(details.agents.map((agent) => agent.name)).toEqual(['Sleeper', 'Picky']);

    // A task id shows the task's workflow.
    const byTask = await cli(['show', details.tasks[1]!.id, '--db', db]);
    expect(byTask.code).toBe(0);
    expect(byTask.stdout).toContain(`Task ${details.tasks[1]!.id} "picky one" is in workflow ${failingId}:`);
    expect(byTask.stdout).toContain(`(${failingId})`);
  });

  it('leaves no engine behind for the commands that only read: workers lists the run that wrote', async () => {
    const { db: own, cleanup: done } = tempDir();
    try {
      const run = await cli(['run', join(FIXTURES, 'failing.yaml'), '--db', own]);
      const id = run.stdout.split('\n')[0]!.match(WORKFLOW_LINE)![1]!;
      for (const args of [
        ['list'],
        ['show', id],
        ['graph', id],
        ['dead-letter', 'list'],
        ['top', '--once'],
      ]) {
        expect((await cli([...args, '--db', own])).code, args.join(' ')).toBe(0);
      }
      const workers = await cli(['workers', '--db', own, '--json']);
      // Each command beat under an engine of its own before, and `workers` listed itself alive.
      expect((JSON.parse(workers.stdout) as Array<{ state: string }>).map((e) => e.state)).toEqual([
        'stopped',
      ]);
    } finally {
      done();
    }
  });

  it('exits 2 for an unknown workflow id or a store that does not exist', async () => {
    const unknown = await cli(['show', 'no-such-id', '--db', db, '--json']);
    expect(unknown.code).toBe(2);
    expect(JSON.parse(unknown.stdout)).toEqual({
      error: { code: 'WORKFLOW_NOT_FOUND', message: expect.stringContaining('no-such-id') },
    });
    const { dir, cleanup: done } = tempDir();
    try {
      const missing = await cli(['list', '--db', join(dir, 'absent.db')]);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain(`No Symphony store at ${join(dir, 'absent.db')}`);
      // --db was given: the hint is to check it, not to pass one.
      expect(missing.stderr).toMatch(/or check the --db path\n$/);
    } finally {
      done();
    }
  });
});

describe('symphony pause, resume and cancel', () => {
  it('refuses to pause or cancel a workflow with nothing unfinished, and to resume one not paused (exit 2)', async () => {
    const pause = await cli(['pause', failingId, '--db', db]);
    expect(pause.code).toBe(2);
    expect(pause.stderr).toContain(
      `Workflow ${failingId} is FAILED and has no unfinished task; there is nothing to pause`,
    );
    const cancel = await cli(['cancel', failingId, '--db', db]);
    expect(cancel.code).toBe(2);
    const resume = await cli(['resume', failingId, '--db', db]);
    expect(resume.code).toBe(2);
    expect(resume.stderr).toContain('not paused, with no unfinished task; there is nothing to resume');
  });
});

describe('symphony retry', () => {
  it('refuses a task that did not fail', async () => {
    const tasks = await readStore(db, (store) => store.tasks.find({ where: { workflowId: failingId } }));
    const completed = tasks.find((task) => task.status === 'COMPLETED')!;
    const result = await cli(['retry', completed.id, '--db', db]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`Task ${completed.id} is COMPLETED; only FAILED tasks can be retried`);
  });

  it('runs each failed task again, keeping its history, until the workflow is COMPLETED', async () => {
    const before = await readStore(db, (store) => store.tasks.find({ where: { workflowId: failingId } }));
    const failed = before.filter((task) => task.status === 'FAILED');
    const first = await cli(['retry', failed[0]!.id, '--db', db, '--json']);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const summary = JSON.parse(first.stdout) as { results: Array<{ taskId: string; status: string }> };
    expect(summary.results).toEqual([
      expect.objectContaining({ taskId: failed[0]!.id, status: 'COMPLETED' }),
    ]);

    const rest = await cli(['retry', failingId, '--db', db]);
    expect(rest.code).toBe(0);
    expect(rest.stdout).toContain(`Retrying 1 failed task(s) of workflow ${failingId}`);
    expect(rest.stdout).toContain('Tasks: 1 (1 COMPLETED)');
    // The progress lines tell what happens now, not the attempts that failed before the retry.
    expect(rest.stdout).not.toContain('ATTEMPT_FAILED');

    const after = await readStore(db, (store) => store.tasks.find({ where: { workflowId: failingId } }));
    expect(after).toHaveLength(before.length);
    for (const old of failed) {
      const now = after.find((task) => task.id === old.id)!;
      expect(now).toMatchObject({ name: old.name, status: 'COMPLETED', agentId: old.agentId });
      expect(now.attempts).toBeGreaterThan(old.attempts);
      // The failed attempts stay in the history.
      expect(now.errors.slice(0, old.errors.length)).toEqual(old.errors);
    }
    const workflow = await readStore(db, (store) => store.workflows.get(failingId));
    expect(workflow?.status).toBe('COMPLETED');
    const again = await cli(['retry', failingId, '--db', db]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('Nothing to retry');
    const twice = await cli(['retry', failed[0]!.id, '--db', db]);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toContain('only FAILED tasks can be retried');
  });
});

describe('symphony --help', () => {
  it.each(['demo', 'run', 'list', 'show', 'pause', 'resume', 'cancel', 'retry'])(
    'documents %s with --db and --json',
    async (command) => {
      const { code, stdout } = await cli([command, '--help']);
      expect(code).toBe(0);
      expect(stdout).toMatch(new RegExp(`^Usage: symphony ${command} `));
      expect(stdout).toContain('--db <path|url>');
      expect(stdout).toContain('--json');
    },
  );

  it('lists the commands and the exit codes, and exits 2 on an unknown command', async () => {
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Exit codes:');
    const bare = await cli([]);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain('Usage: symphony [options] [command]');
    const unknown = await cli(['juggle']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'juggle'");
  });
});
