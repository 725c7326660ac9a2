import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { killedAfterEach } from '../support/processes.js';
import { cli, EXAMPLES, FIXTURES, startCli, tempDir, WORKFLOW_LINE, type CliProcess } from './helpers.js';
import { STARTED, TEST_MS } from './worker-kit.js';

// `symphony watch` (issue 15): the events the engines on a store wrote, one line each, followed.

const temps: Array<() => void> = [];
afterEach(() => temps.splice(0).forEach((cleanup) => cleanup()));
function temp() {
  const made = tempDir();
  temps.push(made.cleanup);
  return made;
}
const running = killedAfterEach<CliProcess>();

/** A line of `watch`: time, event name, then what it says. */
const EVENT_LINE = /^\d\d:\d\d:\d\d\.\d{3} (task|workflow|agent|worker)\.\w+ \S/;

interface JsonLine {
  cursor: string;
  name: string;
  engineId: string;
  workflowId: string | null;
  taskId: string | null;
  at: number;
  payload: Record<string, unknown>;
}

const jsonLines = (stdout: string) =>
  stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as JsonLine);

async function ranWorkflow(db: string, file = join(EXAMPLES, 'my-workflow.yaml')) {
  const run = await cli(['run', file, '--db', db]);
  const id = run.stdout.split('\n')[0]!.match(WORKFLOW_LINE)?.[1];
  if (!id) throw new Error(`No workflow line in:\n${run.stdout}\n${run.stderr}`);
  return { id, code: run.code };
}

describe('symphony watch', () => {
  it('prints a finished workflow’s events with --until-done, as text or JSON lines that resume from a cursor', async () => {
    const { db } = temp();
    const { id } = await ranWorkflow(db);
    const text = await cli(['watch', '--db', db, '--workflow', id, '--until-done']);
    expect(text.stderr).toBe('');
    expect(text.code).toBe(0);
    const lines = text.stdout.trim().split('\n');
    for (const line of lines) expect(line).toMatch(EVENT_LINE);
    expect(lines.map((line) => line.split(' ')[1])).toEqual([
      'task.created',
      'task.created',
      'task.created',
      ...lines.slice(3, -1).map((line) => line.split(' ')[1]),
      'workflow.status',
    ]);
    expect(lines.at(-1)).toContain(`workflow ${id} "My first workflow" RUNNING -> COMPLETED`);
    expect(lines.filter((line) => line.includes(' task.completed '))).toHaveLength(3);

    const json = await cli(['watch', '--db', db, '--workflow', id, '--until-done', '--json']);
    expect(json.code).toBe(0);
    const events = jsonLines(json.stdout);
    expect(events).toHaveLength(lines.length);
    for (const event of events) {
      expect(event).toMatchObject({
        workflowId: id,
        cursor: expect.any(String),
        engineId: expect.any(String),
      });
      expect(event.at).toBe(event.payload['at']);
    }
    // From the third event's cursor: the rest, nothing twice.
    const rest = await cli([
      'watch',
      '--db',
      db,
      '--workflow',
      id,
      '--until-done',
      '--json',
      '--after',
      events[2]!.cursor,
    ]);
    expect(jsonLines(rest.stdout)).toEqual(events.slice(3));
    // Only the names asked for; the end is still found.
    const some = await cli([
      'watch',
      '--db',
      db,
      '--workflow',
      id,
      '--until-done',
      '--names',
      'task.completed',
    ]);
    expect(some.code).toBe(0);
    expect(
      some.stdout
        .trim()
        .split('\n')
        .map((line) => line.split(' ')[1]),
    ).toEqual(['task.completed', 'task.completed', 'task.completed']);
  });

  it('exits 1 with --until-done for a workflow that failed', async () => {
    const { db } = temp();
    const { id, code } = await ranWorkflow(db, join(FIXTURES, 'failing.yaml'));
    expect(code).toBe(1);
    const watched = await cli(['watch', '--db', db, '--workflow', id, '--until-done']);
    expect(watched.code).toBe(1);
    expect(watched.stdout).toMatch(
      / task\.attemptFailed task \S+ "picky one" attempt 1 failed: .*\(no retry\)/,
    );
    // The workflow is FAILED as soon as a task failed for good (its other task runs on).
    expect(watched.stdout).toMatch(
      / workflow\.status workflow \S+ "Partly failing workflow" RUNNING -> FAILED/,
    );
  });

  it(
    'follows work as workers do it, and ends when the workflow has ended',
    async () => {
      const { db } = temp();
      const submitted = await cli([
        'run',
        join(FIXTURES, 'worker-fifty.yaml'),
        '--submit',
        '--db',
        db,
        '--json',
      ]);
      expect(submitted.code, submitted.stderr).toBe(0);
      const { workflow } = JSON.parse(submitted.stdout) as { workflow: { id: string } };
      const watch = startCli([
        'watch',
        '--db',
        db,
        '--workflow',
        workflow.id,
        '--until-done',
        '--json',
        '--poll-ms',
        '20',
      ]);
      running.push(watch);
      // It has printed what is stored (50 tasks created) and waits for more.
      await watch.waitForLine(/"name":"task\.created".*"echo 50"/);
      const worker = startCli(
        [
          'worker',
          '--db',
          db,
          '--agents',
          join(FIXTURES, 'worker-agents.mjs'),
          '--concurrency',
          '8',
          '--poll-ms',
          '100',
        ],
        { env: { SYMPHONY_LIVENESS_MS: '600000' } },
      );
      running.push(worker);
      await worker.waitForLine(STARTED);
      const { code, stdout } = await watch.exited;
      expect(code).toBe(0);
      const events = jsonLines(stdout);
      expect(new Set(events.map((event) => event.cursor)).size).toBe(events.length);
      expect(events.filter((event) => event.name === 'task.completed')).toHaveLength(50);
      expect(events.at(-1)).toMatchObject({ name: 'workflow.status', payload: { to: 'COMPLETED' } });
      worker.child.kill('SIGTERM');
      await worker.exited;
    },
    TEST_MS,
  );

  it('follows the whole store from now until Ctrl-C (exit 130)', async () => {
    const { db } = temp();
    await ranWorkflow(db);
    const watch = startCli(['watch', '--db', db, '--poll-ms', '20']);
    running.push(watch);
    // Started from now: the first run's events are not printed, the second run's are.
    const { id } = await ranWorkflow(db);
    await watch.waitForLine(new RegExp(`workflow ${id} "My first workflow" RUNNING -> COMPLETED`));
    watch.child.kill('SIGINT');
    const { code, stdout } = await watch.exited;
    expect(code).toBe(130);
    const lines = stdout.trim().split('\n');
    expect(lines.every((line) => line.includes(id) || !line.includes('workflow '))).toBe(true);
    expect(lines.filter((line) => line.includes(' task.created '))).toHaveLength(3);
    // Agent loads (no workflow of their own) are printed one line each, load against limit.
    const loads = lines.filter((line) => line.includes(' agent.load '));
    expect(loads.length).toBeGreaterThan(0);
    for (const line of loads)
      expect(line).toMatch(
        /^\d\d:\d\d:\d\d\.\d{3} agent\.load agent \S+ \d+\/(\d+|-) running, (idle|busy|full) \(engine \S+\)$/,
      );
  });

  it('refuses a bad cursor, event name, store or option with a clear message (exit 2)', async () => {
    const { db, dir } = temp();
    const { id } = await ranWorkflow(db);
    const cases: Array<[string[], RegExp]> = [
      [['--after', 'nope'], /Expected `after` to be a cursor this store handed out/],
      // Well formed, past the end of the store's stream: it would print nothing, ever.
      [['--after', '99999999'], /got "99999999": past the end of its stream/],
      [['--names', 'task.exploded'], /--names: unknown event "task.exploded"/],
      [['--until-done'], /--until-done: expected --workflow <id>/],
      [['--workflow', 'no-such-workflow', '--until-done'], /No workflow with id "no-such-workflow"/],
      [['--poll-ms', '0'], /--poll-ms: expected an integer from 1 to 60000/],
    ];
    for (const [args, message] of cases) {
      const { code, stderr } = await cli(['watch', '--db', db, ...args]);
      expect(code, args.join(' ')).toBe(2);
      expect(stderr, args.join(' ')).toMatch(message);
    }
    const missing = await cli(['watch', '--db', join(dir, 'missing.db'), '--workflow', id]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/No Symphony store at /);
    const json = await cli(['watch', '--db', db, '--after', 'nope', '--json']);
    expect(JSON.parse(json.stdout)).toEqual({
      error: { code: 'INVALID_ARGUMENT', message: expect.any(String) },
    });
  });
});
