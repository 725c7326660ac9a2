import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliUsageError } from '../../src/cli/cli-error.js';
import { validateWorkflowFile } from '../../src/cli/workflow-file/load.js';
import { timeLimitOptions } from '../../src/cli/workflow-file/time-limits.js';
import { cli, EXAMPLES, FIXTURES, readStore, refusalOf, tempDir } from './helpers.js';

// The file-wide time limits of a workflow file (issue 14; docs/policies.md "Delays, deadlines and
// timeouts"): validated, turned into execution options, and passed by `symphony run`.

const file = {
  name: 'W',
  tasks: [{ name: 't' }],
  agents: { configs: [{ name: 'A', type: 'a' }] },
};

let dir: { dir: string; db: string; cleanup: () => void };
beforeAll(() => {
  dir = tempDir();
});
afterAll(() => dir.cleanup());

describe('workflow file time limits', () => {
  it('become the execution options of every task; runAt as an ISO date-time or epoch ms', () => {
    const loaded = validateWorkflowFile(
      {
        ...file,
        runAt: '2026-01-01T00:00:01Z',
        scheduleToStartMs: 100,
        scheduleToCloseMs: 200,
        heartbeatTimeoutMs: 300,
      },
      'w.yaml',
    );
    expect(timeLimitOptions(loaded)).toEqual({
      runAt: Date.UTC(2026, 0, 1, 0, 0, 1),
      scheduleToStartMs: 100,
      scheduleToCloseMs: 200,
      heartbeatTimeoutMs: 300,
    });
    expect(timeLimitOptions(validateWorkflowFile({ ...file, runAt: 5, delayMs: undefined }, 'w'))).toEqual({
      runAt: 5,
    });
    expect(timeLimitOptions(validateWorkflowFile({ ...file, delayMs: 7 }, 'w.yaml'))).toEqual({ delayMs: 7 });
    expect(timeLimitOptions(validateWorkflowFile(file, 'w.yaml'))).toEqual({});
  });

  it('are checked: runAt or delayMs, not both; integers >= 0; a date-time with its offset', () => {
    const rejects = (data: unknown, message: string) =>
      expect(() => validateWorkflowFile(data, 'w.yaml')).toThrow(message);
    rejects(
      { ...file, runAt: 5, delayMs: 5 },
      'w.yaml: invalid workflow file: runAt: a delayed start is runAt or delayMs, not both',
    );
    rejects({ ...file, scheduleToStartMs: -1 }, 'scheduleToStartMs: expected an integer >= 0, got -1');
    rejects({ ...file, heartbeatTimeoutMs: 1.5 }, 'heartbeatTimeoutMs: expected an integer');
    rejects({ ...file, runAt: '2026-01-01 10:00' }, 'runAt:');
    expect(() => validateWorkflowFile({ ...file, delayMs: -1 }, 'w.yaml')).toThrow(CliUsageError);
  });

  // Regression (new-user pass): a runAt that was not a date-time was reported with the schema's
  // regular expression, and one of the right shape but no real date (2026-02-30) was taken.
  it('says in words what a point in time is, for runAt, a task runAt and sleep.until, with the path', () => {
    const messageOf = refusalOf;
    const expected =
      'expected an ISO 8601 date-time with its offset (e.g. 2026-12-05T10:00:00Z) or epoch milliseconds (an integer >= 0)';
    const problem = (path: string, got: string) =>
      `w.yaml: invalid workflow file: ${path}: ${expected}, got ${got}`;
    const noSuch = ' (there is no such date or time)';
    expect(messageOf({ ...file, runAt: 'tomorrow' })).toBe(problem('runAt', '"tomorrow"'));
    expect(messageOf({ ...file, runAt: '2026-12-05T10:00:00' })).toBe(
      problem('runAt', '"2026-12-05T10:00:00"'),
    );
    expect(messageOf({ ...file, runAt: '2026-13-45T00:00:00' })).toBe(
      problem('runAt', '"2026-13-45T00:00:00"'),
    );
    expect(messageOf({ ...file, runAt: '2026-13-45T00:00:00Z' })).toBe(
      problem('runAt', `"2026-13-45T00:00:00Z"${noSuch}`),
    );
    expect(messageOf({ ...file, runAt: '2026-02-30T10:00:00Z' })).toBe(
      problem('runAt', `"2026-02-30T10:00:00Z"${noSuch}`),
    );
    expect(messageOf({ ...file, runAt: '2026-12-05T24:00:00+01:00' })).toBe(
      problem('runAt', `"2026-12-05T24:00:00+01:00"${noSuch}`),
    );
    // Before the epoch, as the executor refuses it (once: a date that does not exist is that).
    expect(messageOf({ ...file, runAt: '1960-01-01T00:00:00Z' })).toBe(
      problem('runAt', '"1960-01-01T00:00:00Z" (it is before 1970-01-01T00:00:00Z)'),
    );
    expect(messageOf({ ...file, runAt: '1960-02-30T00:00:00Z' })).toBe(
      problem('runAt', `"1960-02-30T00:00:00Z"${noSuch}`),
    );
    expect(messageOf({ ...file, runAt: -5 })).toBe(problem('runAt', '-5'));
    expect(messageOf({ ...file, runAt: 1.5 })).toBe(problem('runAt', '1.5'));
    expect(messageOf({ ...file, tasks: [{ name: 't', runAt: 'tomorrow' }] })).toBe(
      problem('tasks[0].runAt', '"tomorrow"'),
    );
    expect(messageOf({ ...file, tasks: [{ name: 't', sleep: { until: '2026-02-30T10:00:00Z' } }] })).toBe(
      problem('tasks[0].sleep.until', `"2026-02-30T10:00:00Z"${noSuch}`),
    );
    expect(messageOf({ ...file, tasks: [{ name: 't', sleep: { until: 1.5 } }] })).toBe(
      problem('tasks[0].sleep.until', '1.5'),
    );
    // What is right still loads: a leap day, minutes without seconds, an offset, a fraction.
    for (const runAt of ['2028-02-29T10:00:00Z', '2026-12-05T10:00Z', '2026-12-05T11:00:00.250+01:00']) {
      expect(timeLimitOptions(validateWorkflowFile({ ...file, runAt }, 'w.yaml'))).toEqual({
        runAt: Date.parse(runAt),
      });
    }
  });

  // Regression (file pass 2): a sleep with both ms and until read "expected an object { ms } or an
  // object { until }, got an object", which did not say what was wrong with it.
  it('says that a sleep takes ms or until, not both', () => {
    let message = '';
    try {
      validateWorkflowFile({ ...file, tasks: [{ name: 't', sleep: { ms: 5, until: 0 } }] }, 'w.yaml');
    } catch (error) {
      expect(CliUsageError.isInstance(error)).toBe(true);
      message = (error as Error).message;
    }
    expect(message).toBe(
      'w.yaml: invalid workflow file: tasks[0].sleep: expected an object { ms } or an object { until }, got an object with both ms and until; it takes one of them, not both',
    );
  });

  it('symphony run runs examples/workflows/time-limits.yaml: delayed, heartbeating, completed', async () => {
    const { code, stdout } = await cli(['run', join(EXAMPLES, 'time-limits.yaml'), '--db', dir.db]);
    expect(code).toBe(0);
    expect(stdout).toContain('COMPLETED "Annual report"');
    const tasks = await readStore(dir.db, (store) => store.tasks.find());
    expect(tasks.map((task) => [task.name, task.status, task.outputData]).sort()).toEqual([
      ['Annual report', 'COMPLETED', { read: 3 }],
      ['Quarterly report', 'COMPLETED', { read: 2 }],
    ]);
    for (const task of tasks) expect(task.startedAt!).toBeGreaterThanOrEqual(task.createdAt + 20);
  });

  it('symphony run ends a task still waiting at its deadline DEADLINE_EXCEEDED, unrun', async () => {
    const path = join(dir.dir, 'late.yaml');
    writeFileSync(
      path,
      [
        'name: Too late',
        'delayMs: 600000',
        'scheduleToStartMs: 1',
        'agents:',
        `  module: ${join(EXAMPLES, 'time-limits-agents.ts')}`,
        '  configs: [{ name: Reader, type: pager }]',
        'tasks: [{ name: Read }]',
      ].join('\n'),
    );
    const db = join(dir.dir, 'late.db');
    const { code, stdout } = await cli(['run', path, '--db', db]);
    expect(code).toBe(1);
    expect(stdout).toContain('DEADLINE_EXCEEDED');
    const [task] = await readStore(db, (store) => store.tasks.find({}));
    expect(task).toMatchObject({ status: 'FAILED', attempts: 0 });
    expect(task!.errors[0]).toMatchObject({ code: 'DEADLINE_EXCEEDED' });
  });
});

describe('workflow file time limits in a graph', () => {
  const graphFile = (name: string) => {
    const path = join(dir.dir, name);
    writeFileSync(
      path,
      [
        'name: Two steps',
        'delayMs: 10',
        'scheduleToCloseMs: 60000',
        'agents:',
        `  module: ${join(EXAMPLES, 'time-limits-agents.ts')}`,
        '  configs: [{ name: Reader, type: pager }]',
        'tasks:',
        '  - { key: first, name: First, inputData: { pages: 2 } }',
        '  - { key: second, name: Second, dependsOn: [first] }',
      ].join('\n'),
    );
    return path;
  };

  it('symphony run applies them to each task as it is released', async () => {
    const db = join(dir.dir, 'graph.db');
    const { code } = await cli(['run', graphFile('graph.yaml'), '--db', db]);
    expect(code).toBe(0);
    const tasks = await readStore(db, (store) => store.tasks.find());
    expect(tasks.map((task) => task.status)).toEqual(['COMPLETED', 'COMPLETED']);
    const first = tasks.find((task) => task.name === 'First');
    const second = tasks.find((task) => task.name === 'Second');
    // The second is released when the first completes, and waits its own delay from then.
    expect(second!.startedAt!).toBeGreaterThanOrEqual(first!.finishedAt! + 10);
  });

  it('symphony run --submit refuses them: workers take a graph workflow without time limits', async () => {
    const db = join(dir.dir, 'graph-submit.db');
    const { code, stderr } = await cli(['run', graphFile('graph-submit.yaml'), '--db', db, '--submit']);
    expect(code).not.toBe(0);
    expect(code).toBe(2);
    expect(stderr).toContain('--submit: workers take a workflow with graph parts without time limits');
    expect(await readStore(db, (store) => store.workflows.find())).toEqual([]);
  });
});

describe('workflow file time limits on a retry', () => {
  // retry-agents.mjs: the task named `flaky` fails while $SYMPHONY_TEST_FAIL_WHILE exists.
  const retryFile = (name: string, extra: string[]) => {
    const path = join(dir.dir, name);
    writeFileSync(
      path,
      [
        'name: Flaky',
        'heartbeatTimeoutMs: 60000',
        'scheduleToCloseMs: 600000',
        'retry: { maxAttempts: 1 }',
        ...extra,
        'agents:',
        `  module: ${join(FIXTURES, 'retry-agents.mjs')}`,
        '  configs:',
        '    - { name: Primary, type: flaky }',
        '    - { name: Backup, type: flaky }',
        'tasks: [{ name: flaky }]',
      ].join('\n'),
    );
    return path;
  };

  it.each([
    ['a plain run', 'plain', [] as string[]],
    ['a run with fallback agents (retried as a graph is)', 'fallback', ['fallback: { maxAgents: 1 }']],
  ])("symphony retry runs the task again under the file's time limits: %s", async (_, name, extra) => {
    const db = join(dir.dir, `retry-${name}.db`);
    const failWhile = join(dir.dir, `fail-${name}`);
    writeFileSync(failWhile, '');
    const plans = join(dir.dir, `plans-${name}.jsonl`);
    const env = { SYMPHONY_TEST_FAIL_WHILE: failWhile, SYMPHONY_TEST_PLAN_LOG: plans };
    const run = await cli(['run', retryFile(`retry-${name}.yaml`, extra), '--db', db], { env });
    expect(run.code, run.stderr).toBe(1);
    const [failed] = await readStore(db, (store) => store.tasks.find());
    expect(failed!.status).toBe('FAILED');
    rmSync(failWhile);
    const retry = await cli(['retry', failed!.workflowId!, '--db', db], { env });
    expect(retry.code, retry.stdout + retry.stderr).toBe(0);
    const [task] = await readStore(db, (store) => store.tasks.find());
    expect(task!.status).toBe('COMPLETED');
    // Every attempt's plan, the retried one's last: each under the file's time limits.
    const attempts = readFileSync(plans, 'utf8').trim().split('\n');
    expect(attempts.length).toBeGreaterThan(1);
    for (const plan of attempts) {
      // scheduleToCloseMs is kept as the time the task must end by (`closeBy`).
      expect(JSON.parse(plan)).toMatchObject({ heartbeatTimeoutMs: 60_000, closeBy: expect.any(Number) });
    }
  });
});
