/**
 * A task's own policies in a workflow file (issue 14; docs/policies.md): `concurrencyKey`,
 * `keyConcurrency`, `keyRateLimits`, `timeoutMs`, `retry` and the time limits of one task, over
 * the file's. Checked when the file loads; honoured by `symphony run` (plain and graph runs), kept
 * in the run record for `symphony retry`; carried into a schedule's template by `schedule add`.
 * The CLI runs in this process, on SQLite.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { validateWorkflowFile } from '../../src/cli/workflow-file/load.js';
import { runRecordOf } from '../../src/cli/run-record.js';
import type { Schedule } from '../../src/schedules/schedule.js';
import { until, untilOrExit } from '../support/wait.js';
import { FIXTURES, readStore, refusalOf, tempDir, WORKFLOW_LINE } from './helpers.js';
import { runMain } from './in-process.js';

const AGENTS = join(FIXTURES, 'task-policy-agents.mjs');
const STATE = Symbol.for('symphony.test.task-policies');

interface AgentState {
  log: string[];
  plans: Array<{ name: string; execution: Record<string, unknown> | null }>;
  held: Map<string, () => void>;
  failing: boolean;
  letThrough?: boolean;
}

const state = (): AgentState => {
  const global = globalThis as Record<symbol, AgentState | undefined>;
  global[STATE] ??= { log: [], plans: [], held: new Map(), failing: false };
  return global[STATE];
};

const cleanups: Array<() => void> = [];
afterEach(() => {
  delete (globalThis as Record<symbol, unknown>)[STATE];
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** A workflow file of these lines (its agents: task-policy-agents.mjs, one config of `type`). */
function workflowFile(type: 'held' | 'hang' | 'flaky', lines: string[]) {
  const made = tempDir();
  cleanups.push(made.cleanup);
  const file = join(made.dir, 'w.yaml');
  writeFileSync(
    file,
    [
      'name: Own policies',
      'agents:',
      `  module: ${JSON.stringify(AGENTS)}`,
      `  configs: [{ name: Worker, type: ${type}, maxConcurrency: 4 }]`,
      ...lines,
      '',
    ].join('\n'),
  );
  return { ...made, file };
}

const base = { name: 'W', agents: { configs: [{ name: 'A', type: 'a' }] } };
const problemsOf = (data: object): string => refusalOf({ ...base, ...data });

describe("a task's own policies in a workflow file", () => {
  it('are checked when the file loads: each problem names the task and the field', () => {
    expect(problemsOf({ tasks: [{ name: 't' }, { name: 'u', timeoutMs: -5 }] })).toBe(
      'w.yaml: invalid workflow file: tasks[1].timeoutMs: expected a number >= 0, got -5',
    );
    expect(problemsOf({ tasks: [{ name: 't', retry: { maxAttempts: 0 } }] })).toContain(
      'tasks[0].retry.maxAttempts: expected an integer >= 1, got 0',
    );
    expect(problemsOf({ tasks: [{ name: 't', keyConcurrency: 2 }] })).toContain(
      "tasks[0].keyConcurrency: only allowed with a concurrencyKey, the task's or the file's",
    );
    expect(problemsOf({ tasks: [{ name: 't', runAt: 5, delayMs: 5 }] })).toContain(
      'tasks[0].runAt: a delayed start is runAt or delayMs, not both',
    );
    expect(problemsOf({ tasks: [{ name: 't', keyRateLimits: [{ requests: 0, per: 10 }] }] })).toContain(
      'tasks[0].keyRateLimits[0]',
    );
    expect(problemsOf({ tasks: [{ name: 't', sleep: { ms: 5 }, timeoutMs: 5 }] })).toContain(
      'tasks[0].timeoutMs: a sleep runs no agent; its own policies would apply to nothing',
    );
    // The file's key serves a task's limit; a task's own runAt with the file's delayMs is fine.
    const loaded = validateWorkflowFile(
      { ...base, concurrencyKey: 'acme', delayMs: 5, tasks: [{ name: 't', keyConcurrency: 1, runAt: 7 }] },
      'w.yaml',
    );
    expect(loaded.tasks[0]).toMatchObject({ keyConcurrency: 1, runAt: 7 });
  });

  it('a limit of 1 on one key holds for its tasks while the tasks of another key run together', async () => {
    const { dir, db, file } = workflowFile('held', [
      'concurrencyKey: shared',
      'tasks:',
      '  - { name: a1, concurrencyKey: acme, keyConcurrency: 1 }',
      '  - { name: a2, concurrencyKey: acme, keyConcurrency: 1 }',
      '  - { name: b1, concurrencyKey: globex }',
      '  - { name: b2, concurrencyKey: globex }',
    ]);
    const s = state();
    const run = runMain(['run', file, '--db', db], { cwd: dir });
    // Waits for three starts, or for the run to end first (it would fail the test).
    const threeStarted = await untilOrExit(run, () => Promise.resolve(s.log.length >= 3));
    expect(threeStarted, (await Promise.race([run, Promise.resolve(null)]))?.stderr).toBe(true);
    const started = () => s.log.filter((line) => line.startsWith('start ')).map((line) => line.slice(6));
    // One of acme's (its limit), both of globex's.
    const first = started().filter((name) => name.startsWith('a'));
    expect(first).toHaveLength(1);
    expect(
      started()
        .filter((name) => name.startsWith('b'))
        .sort(),
    ).toEqual(['b1', 'b2']);
    s.held.get(first[0]!)!();
    await until('the other acme task to start', () => started().length === 4);
    for (const name of ['a1', 'a2', 'b1', 'b2']) s.held.get(name)!();
    const result = await run;
    expect(result.code, result.stderr).toBe(ExitCode.OK);
    // From the agents' own log: acme's second task started after its first had ended.
    const second = first[0] === 'a1' ? 'a2' : 'a1';
    expect(s.log.indexOf(`start ${second}`)).toBeGreaterThan(s.log.indexOf(`end ${first[0]}`));
    expect(
      s.plans
        .map(({ name, execution }) => [name, execution?.concurrencyKey, execution?.keyConcurrency])
        .sort(),
    ).toEqual([
      ['a1', 'acme', 1],
      ['a2', 'acme', 1],
      ['b1', 'globex', undefined],
      ['b2', 'globex', undefined],
    ]);
  });

  it("a task's own timeoutMs aborts its attempt only (EXECUTION_TIMEOUT) while the other runs on, in a graph", async () => {
    const { dir, db, file } = workflowFile('hang', [
      'timeoutMs: 600000',
      'retry: { maxAttempts: 3, initialDelayMs: 1 }',
      'tasks:',
      '  - { key: slow, name: slow, timeoutMs: 20, retry: { maxAttempts: 1 }, inputData: { hang: true } }',
      '  - { key: other, name: other }',
      '  - { key: after, name: after, dependsOn: [other] }',
    ]);
    const result = await runMain(['run', file, '--db', db], { cwd: dir });
    expect(result.code).toBe(ExitCode.WORKFLOW_FAILED);
    const tasks = await readStore(db, (store) => store.tasks.find());
    const byName = Object.fromEntries(tasks.map((task) => [task.name, task]));
    // One attempt (its own retry policy), aborted by its own timeout; the file's would be 10 minutes.
    expect(byName.slow).toMatchObject({ status: 'FAILED', attempts: 1 });
    expect(byName.slow!.errors[0]).toMatchObject({ code: 'EXECUTION_TIMEOUT' });
    expect(byName.other).toMatchObject({ status: 'COMPLETED' });
    expect(byName.after).toMatchObject({ status: 'COMPLETED' });
    const planOf = (name: string) => state().plans.find((plan) => plan.name === name)!.execution;
    expect(planOf('other')).toMatchObject({ timeoutMs: 600_000, maxAttempts: 3 });
  });

  it('symphony retry runs a failed task again under its own policies, read from the run record', async () => {
    const { dir, db, file } = workflowFile('flaky', [
      'timeoutMs: 600000',
      'retry: { maxAttempts: 4, initialDelayMs: 1 }',
      'tasks:',
      '  - { name: flaky, timeoutMs: 30000, concurrencyKey: acme, retry: { maxAttempts: 1 } }',
      '  - { name: steady }',
    ]);
    const s = state();
    s.failing = true;
    const run = await runMain(['run', file, '--db', db], { cwd: dir });
    expect(run.code).toBe(ExitCode.WORKFLOW_FAILED);
    const workflowId = WORKFLOW_LINE.exec(run.stdout)![1]!;
    const [workflow] = await readStore(db, (store) => store.workflows.find());
    const flakyId = (await readStore(db, (store) => store.tasks.find())).find((t) => t.name === 'flaky')!.id;
    expect(runRecordOf(workflow!)?.taskPolicies).toEqual({
      [flakyId]: { concurrencyKey: 'acme', timeoutMs: 30_000, retry: { maxAttempts: 1 } },
    });
    // Its own retry policy: one attempt; the other task the file's four.
    expect(s.log.filter((line) => line === 'start flaky')).toHaveLength(1);
    expect(s.log.filter((line) => line === 'start steady')).toHaveLength(4);
    s.failing = false;
    s.plans.length = 0;
    const retried = await runMain(['retry', workflowId, '--db', db], { cwd: dir });
    expect(retried.code, retried.stdout + retried.stderr).toBe(ExitCode.OK);
    // Both failed tasks are retried: each under its policies, as in the run.
    const planOf = (name: string) => s.plans.find((plan) => plan.name === name)!.execution;
    expect(s.plans).toHaveLength(2);
    expect(planOf('flaky')).toMatchObject({
      concurrencyKey: 'acme',
      timeoutMs: 30_000,
      maxAttempts: 1,
      initialDelayMs: 1,
    });
    expect(planOf('steady')).toMatchObject({ timeoutMs: 600_000, maxAttempts: 4 });
    expect(planOf('steady')).not.toHaveProperty('concurrencyKey');
  });
});

describe("symphony resume and a task's own policies", () => {
  it('runs the nodes an interrupted run never started under their own policies, read from the run record', async () => {
    const { dir, db, file } = workflowFile('held', [
      'timeoutMs: 600000',
      'tasks:',
      '  - { key: first, name: first }',
      '  - { key: second, name: second, dependsOn: [first], timeoutMs: 30000, concurrencyKey: acme }',
    ]);
    const s = state();
    const env = { SYMPHONY_STOP_GRACE_MS: '0' };
    const run = runMain(['run', file, '--db', db], { cwd: dir, env });
    expect(await untilOrExit(run, () => Promise.resolve(s.log.includes('start first')))).toBe(true);
    // Ctrl-C: the run stops at once (no grace), `first` back to PENDING, `second` never started.
    process.emit('SIGINT');
    const interrupted = await run;
    expect(interrupted.code, interrupted.stderr).toBe(ExitCode.INTERRUPTED);
    const workflowId = WORKFLOW_LINE.exec(interrupted.stdout)![1]!;
    s.letThrough = true;
    s.plans.length = 0;
    const resumed = await runMain(['resume', workflowId, '--db', db], { cwd: dir, env });
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(ExitCode.OK);
    const planOf = (name: string) => s.plans.find((plan) => plan.name === name)!.execution;
    expect(planOf('second')).toMatchObject({ timeoutMs: 30_000, concurrencyKey: 'acme' });
    expect(planOf('first')).toMatchObject({ timeoutMs: 600_000 });
    expect(planOf('first')).not.toHaveProperty('concurrencyKey');
  });
});

describe("a task's own policies where they cannot apply", () => {
  it('symphony run --submit refuses a graph whose task has its own time limit, before storing anything', async () => {
    const { dir, db, file } = workflowFile('flaky', [
      'tasks:',
      '  - { key: fetch, name: fetch }',
      '  - { key: write, name: write, dependsOn: [fetch], scheduleToCloseMs: 1000 }',
    ]);
    const result = await runMain(['run', file, '--submit', '--db', db], { cwd: dir });
    expect(result.code).toBe(ExitCode.USAGE);
    expect(result.stderr).toContain('--submit: workers take a workflow with graph parts without time limits');
    expect(result.stderr).toContain('(tasks[1] has its own)');
    expect(existsSync(db)).toBe(false);
  });

  it("a child workflow file's tasks may not set their own: the file naming it is refused", async () => {
    const child = workflowFile('flaky', ['tasks: [{ name: inner, timeoutMs: 5 }]']);
    const parent = join(child.dir, 'parent.yaml');
    writeFileSync(
      parent,
      [
        'name: Parent',
        'agents:',
        `  module: ${JSON.stringify(AGENTS)}`,
        '  configs: [{ name: Worker, type: flaky }]',
        'tasks: [{ key: group, name: group, workflow: ./w.yaml }]',
      ].join('\n'),
    );
    const result = await runMain(['run', parent, '--db', child.db], { cwd: child.dir });
    expect(result.code).toBe(ExitCode.USAGE);
    expect(result.stderr).toContain(
      "tasks[0].workflow: ./w.yaml: tasks[0].timeoutMs: a child workflow's tasks run under the policies of the task that runs the child",
    );
  });
});

describe("symphony schedule add and a task's own policies", () => {
  it("carries the file's and each task's own retry, timeoutMs, fairness key and time limits into the template", async () => {
    const { dir, db, file } = workflowFile('flaky', [
      "schedule: { cron: '0 3 * * *' }",
      'concurrencyKey: acme',
      'keyConcurrency: 1',
      'heartbeatTimeoutMs: 10000',
      'tasks:',
      '  - { key: fetch, name: fetch, timeoutMs: 500, retry: { maxAttempts: 2 }, scheduleToCloseMs: 60000 }',
      '  - { name: write, concurrencyKey: globex, keyRateLimits: [{ requests: 1, per: 1000 }] }',
    ]);
    const added = await runMain(['schedule', 'add', file, '--id', 'nightly', '--db', db, '--json'], {
      cwd: dir,
    });
    expect(added.code, added.stderr).toBe(ExitCode.OK);
    const listed = await runMain(['schedule', 'list', '--db', db, '--json'], { cwd: dir });
    const [stored] = JSON.parse(listed.stdout) as Schedule[];
    expect(stored!.id).toBe('nightly');
    expect(stored!.template).toMatchObject({
      concurrencyKey: 'acme',
      keyConcurrency: 1,
      heartbeatTimeoutMs: 10_000,
      taskOptions: {
        fetch: { timeoutMs: 500, retry: { maxAttempts: 2 }, scheduleToCloseMs: 60_000 },
        'task-1': { concurrencyKey: 'globex', keyRateLimits: [{ requests: 1, per: 1000 }] },
      },
    });
  });

  it("carries the file's fallback among its agent configs, and its concurrency with it", async () => {
    // It was dropped: the scheduled workflows ran without fallback agents.
    const { dir, db, file } = workflowFile('flaky', [
      "schedule: { cron: '0 3 * * *' }",
      'concurrency: 2',
      'fallback: { maxAgents: 1 }',
      'tasks: [{ name: fetch }]',
    ]);
    const added = await runMain(['schedule', 'add', file, '--db', db, '--json'], { cwd: dir });
    expect(added.code, added.stderr).toBe(ExitCode.OK);
    const [stored] = JSON.parse(
      (await runMain(['schedule', 'list', '--db', db, '--json'], { cwd: dir })).stdout,
    ) as Schedule[];
    const configId = (stored!.template.agentKey as Record<string, string>)['task-0']!;
    expect(stored!.template).toMatchObject({
      maxConcurrent: 2,
      fallback: { maxAgents: 1, candidates: [configId] },
    });
  });

  it('refuses a delayed start (a schedule decides when) and time limits on a workflow with graph parts', async () => {
    const refusal = async (lines: string[]) => {
      const made = workflowFile('flaky', ["schedule: { cron: '0 3 * * *' }", ...lines]);
      const result = await runMain(['schedule', 'add', made.file, '--db', made.db], { cwd: made.dir });
      expect(result.code).toBe(ExitCode.USAGE);
      expect(existsSync(made.db)).toBe(false);
      return result.stderr;
    };
    expect(await refusal(['delayMs: 5000', 'tasks: [{ name: fetch }]'])).toContain(
      'delayMs: a schedule decides when its workflows start (at each occurrence)',
    );
    expect(await refusal(['tasks: [{ name: fetch, runAt: 1000 }]'])).toContain(
      'tasks[0].runAt: a schedule decides when its workflows start (at each occurrence)',
    );
    expect(
      await refusal([
        'tasks:',
        '  - { key: fetch, name: fetch }',
        '  - { key: write, name: write, dependsOn: [fetch], scheduleToCloseMs: 1000 }',
      ]),
    ).toContain('tasks[1].scheduleToCloseMs: workers take a workflow with graph parts without time limits');
  });
});
