/**
 * Debounce and singleton keys in workflow files (issue 14; docs/policies.md "Debounce and
 * singleton", "In a workflow"): validated, turned into the options of `executeWorkflow` and
 * `enqueueWorkflow`, and honoured by `symphony run` and `symphony run --submit`. The CLI runs in
 * this process, on SQLite. (The timing of a debounce, on the simulated clock, is tested at the
 * library: test/policies/workflow-keys.test.ts.)
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { keyOptions } from '../../src/cli/workflow-file/keys.js';
import { validateWorkflowFile } from '../../src/cli/workflow-file/load.js';
import { EXAMPLES, readStore, tempDir } from './helpers.js';
import { runMain } from './in-process.js';

const made = tempDir();
afterAll(() => made.cleanup());

const file = { name: 'W', tasks: [{ name: 't' }], agents: { configs: [{ name: 'A', type: 'a' }] } };

/** A file of two tasks on the pager agent of examples/workflows, with `extra` lines at the top. */
function keyedFile(name: string, extra: string[]): string {
  const path = join(made.dir, name);
  writeFileSync(
    path,
    [
      `name: ${name}`,
      ...extra,
      'agents:',
      `  module: ${JSON.stringify(join(EXAMPLES, 'time-limits-agents.ts'))}`,
      '  configs: [{ name: Reader, type: pager }]',
      'tasks: [{ name: one }, { name: two }]',
      '',
    ].join('\n'),
  );
  return path;
}

const workflowIdOf = (stdout: string) => /^Workflow (\S+): /m.exec(stdout)![1]!;
const run = (args: string[]) => runMain(args, { cwd: made.dir });

/** The workflow's status, then its tasks'. */
async function statuses(db: string, workflowId: string): Promise<string[]> {
  return readStore(db, async (store) => [
    (await store.workflows.get(workflowId))!.status,
    ...(await store.tasks.find({ where: { workflowId } })).map((task) => task.status),
  ]);
}

describe('debounce and singleton in a workflow file', () => {
  it('become the options of the run; checked: one of them, no delay with a debounce, no schedule', () => {
    const debounce = { key: 'k', delayMs: 500, maxWaitMs: 900 };
    expect(keyOptions(validateWorkflowFile({ ...file, debounce }, 'w.yaml'))).toEqual({ debounce });
    const singleton = { key: 'k', mode: 'skip' };
    expect(keyOptions(validateWorkflowFile({ ...file, singleton }, 'w.yaml'))).toEqual({ singleton });
    expect(keyOptions(validateWorkflowFile(file, 'w.yaml'))).toEqual({});
    const rejects = (data: unknown, message: string) =>
      expect(() => validateWorkflowFile(data, 'w.yaml')).toThrow(message);
    rejects(
      { ...file, debounce, singleton },
      'singleton: a workflow has a debounce or a singleton key, not both',
    );
    rejects({ ...file, debounce, delayMs: 5 }, 'debounce: not with delayMs');
    rejects(
      { ...file, debounce, tasks: [{ name: 'late', runAt: 5 }] },
      "tasks[0].runAt: not with the file's debounce",
    );
    rejects({ ...file, singleton, schedule: { cron: '* * * * *' } }, 'singleton: not with schedule');
    rejects({ ...file, singleton: { key: 'k', mode: 'later' } }, 'singleton.mode');
    rejects({ ...file, debounce: { key: 'k' } }, 'debounce.delayMs');
    rejects(
      { ...file, singleton: { key: 'k'.repeat(256), mode: 'skip' } },
      'singleton.key: expected at most 255',
    );
  });

  it('run --submit of examples/workflows/reindex.yaml three times: the last waits its delay, the others end CANCELLED', async () => {
    const db = join(made.dir, 'reindex.db');
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      const submitted = await run(['run', join(EXAMPLES, 'reindex.yaml'), '--submit', '--db', db]);
      expect(submitted.code, submitted.stderr).toBe(ExitCode.OK);
      ids.push(workflowIdOf(submitted.stdout));
    }
    expect(await statuses(db, ids[0]!)).toEqual(['CANCELLED', 'CANCELLED', 'CANCELLED']);
    expect(await statuses(db, ids[1]!)).toEqual(['CANCELLED', 'CANCELLED', 'CANCELLED']);
    const last = await readStore(db, (store) => store.tasks.find({ where: { workflowId: ids[2]! } }));
    for (const task of last) {
      expect(task.status).toBe('PENDING');
      expect(task.execution).not.toBeNull();
      expect(task.runAfter! - task.createdAt).toBeGreaterThanOrEqual(500);
    }
  });

  it('a singleton that skips: run and run --submit refused (SINGLETON_ACTIVE, exit 2) while one is unfinished, not after', async () => {
    const db = join(made.dir, 'skip.db');
    const path = keyedFile('sync.yaml', ['singleton: { key: sync, mode: skip }']);
    const first = await run(['run', path, '--submit', '--db', db]);
    expect(first.code, first.stderr).toBe(ExitCode.OK);
    const holder = workflowIdOf(first.stdout);
    const refused = await run(['run', path, '--submit', '--db', db, '--json']);
    expect(refused.code).toBe(ExitCode.USAGE);
    expect(JSON.parse(refused.stdout)).toMatchObject({ error: { code: 'SINGLETON_ACTIVE' } });
    expect(refused.stderr).toContain(`is held by unfinished workflow ${holder}`);
    const here = await run(['run', path, '--db', db]);
    expect(here.code).toBe(ExitCode.USAGE);
    expect(here.stderr).toContain(`is held by unfinished workflow ${holder}`);
    // The refused workflows were cancelled; the holder is untouched.
    const refusedId = /\(workflow (\S+) was cancelled\)/.exec(here.stderr)![1]!;
    expect(await statuses(db, refusedId)).toEqual(['CANCELLED', 'CANCELLED', 'CANCELLED']);
    expect(await statuses(db, holder)).toEqual(['PENDING', 'PENDING', 'PENDING']);
    expect((await run(['cancel', holder, '--db', db])).code).toBe(ExitCode.OK);
    const after = await run(['run', path, '--db', db]);
    expect(after.code, after.stderr).toBe(ExitCode.OK);
    expect(await statuses(db, workflowIdOf(after.stdout))).toEqual(['COMPLETED', 'COMPLETED', 'COMPLETED']);
    const submitted = await run(['run', path, '--submit', '--db', db]);
    expect(submitted.code, submitted.stderr).toBe(ExitCode.OK);
  });

  it('a singleton that cancels: the unfinished workflow ends CANCELLED and the new one runs', async () => {
    const db = join(made.dir, 'cancel.db');
    const path = keyedFile('sync-cancel.yaml', ['singleton: { key: sync, mode: cancel }']);
    const first = await run(['run', path, '--submit', '--db', db]);
    expect(first.code, first.stderr).toBe(ExitCode.OK);
    const second = await run(['run', path, '--db', db]);
    expect(second.code, second.stderr).toBe(ExitCode.OK);
    expect(await statuses(db, workflowIdOf(first.stdout))).toEqual(['CANCELLED', 'CANCELLED', 'CANCELLED']);
    expect(await statuses(db, workflowIdOf(second.stdout))).toEqual(['COMPLETED', 'COMPLETED', 'COMPLETED']);
  });
});
