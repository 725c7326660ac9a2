import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Schedule, ScheduleFiring } from '../../src/schedules/schedule.js';
import { killedAfterEach } from '../support/processes.js';
import { FIXTURES, ROOT, readStore, startCli, tempDir, type CliProcess } from './helpers.js';
import { runMain } from './in-process.js';
import { eventually, STARTED, TEST_MS } from './worker-kit.js';

// Issue 14, "Schedules": `symphony schedule add|list|pause|resume|remove|trigger`, and a workflow
// file's `schedule` field.

const REPORT = join(FIXTURES, 'schedule-report.yaml');
const AGENTS = join(FIXTURES, 'worker-agents.mjs');
const running = killedAfterEach<CliProcess>();

describe('symphony schedule', () => {
  let cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const cleanup of cleanups) cleanup();
    cleanups = [];
  });
  const store = () => {
    const made = tempDir();
    cleanups.push(made.cleanup);
    return made;
  };
  const symphony = (args: string[], cwd: string) => runMain(args, { cwd });

  it(
    "registers a file's schedule; pause, resume, trigger (a worker runs the workflow) and remove it",
    async () => {
      const { db, dir } = store();
      const added = await symphony(['schedule', 'add', REPORT, '--id', 'nightly', '--db', db, '--json'], dir);
      expect(added.stderr).toBe('');
      expect(added.code).toBe(0);
      const schedule = JSON.parse(added.stdout) as Schedule;
      expect(schedule).toMatchObject({
        id: 'nightly',
        cron: '0 3 * * *',
        timezone: 'Europe/Paris',
        catchUp: 'none',
        overlap: 'skip',
        paused: false,
      });
      // 03:00 in Paris is 01:00 or 02:00 UTC.
      expect([1, 2]).toContain(new Date(schedule.nextRunAt!).getUTCHours());
      // The file's tasks by key (a task without one gets task-<index>), each on the routed config.
      expect(schedule.template.workflow.tasks.map((t) => [t.key, t.dependsOn])).toEqual([
        ['fetch', []],
        ['task-1', ['fetch']],
      ]);
      const configIds = Object.values(schedule.template.agentKey as Record<string, string>);
      expect(new Set(configIds).size).toBe(1);

      const again = await symphony(['schedule', 'add', REPORT, '--id', 'nightly', '--db', db], dir);
      expect(again.code).toBe(2);
      expect(again.stderr).toMatch(/nightly/);

      const listed = await symphony(['schedule', 'list', '--db', db], dir);
      expect(listed.code).toBe(0);
      expect(listed.stdout).toMatch(/^ID\s+CRON\s+TIME ZONE/m);
      expect(listed.stdout).toMatch(
        /^nightly\s+0 3 \* \* \*\s+Europe\/Paris\s+\d{4}-\d\d-\d\d \d\d:00:00\s+Nightly report/m,
      );

      const paused = await symphony(['schedule', 'pause', 'nightly', '--db', db, '--json'], dir);
      expect((JSON.parse(paused.stdout) as Schedule).paused).toBe(true);
      const resumed = await symphony(['schedule', 'resume', 'nightly', '--db', db], dir);
      expect(resumed.stdout).toMatch(/^Schedule nightly: 0 3 \* \* \* \(Europe\/Paris\), next \d{4}-/m);

      const triggered = await symphony(['schedule', 'trigger', 'nightly', '--db', db, '--json'], dir);
      expect(triggered.code).toBe(0);
      const firing = JSON.parse(triggered.stdout) as ScheduleFiring;
      expect(firing.workflowId).toMatch(/^nightly-at-\d+$/);

      const worker = startCli(['worker', '--db', db, '--agents', AGENTS, '--poll-ms', '200'], {
        env: { SYMPHONY_LIVENESS_MS: '600000' },
      });
      running.push(worker);
      await worker.waitForLine(STARTED);
      await eventually('the triggered workflow completed', () =>
        readStore(db, async (s) => {
          const workflow = await s.workflows.get(firing.workflowId);
          return workflow?.status === 'COMPLETED' ? workflow : undefined;
        }),
      );
      worker.child.kill('SIGTERM');
      expect((await worker.exited).code).toBe(0);
      const tasks = await readStore(db, (s) => s.tasks.find({ where: { workflowId: firing.workflowId } }));
      expect(tasks.map((t) => [t.id, t.status]).sort()).toEqual([
        [`${firing.workflowId}-fetch`, 'COMPLETED'],
        [`${firing.workflowId}-task-1`, 'COMPLETED'],
      ]);

      const removed = await symphony(['schedule', 'remove', 'nightly', '--db', db], dir);
      expect(removed.stdout).toMatch(/Schedule nightly removed/);
      const empty = await symphony(['schedule', 'list', '--db', db, '--json'], dir);
      expect(JSON.parse(empty.stdout)).toEqual([]);
      const missing = await symphony(['schedule', 'pause', 'nightly', '--db', db, '--json'], dir);
      expect(missing.code).toBe(2);
      expect(JSON.parse(missing.stdout)).toMatchObject({ error: { code: 'SCHEDULE_NOT_FOUND' } });
    },
    TEST_MS,
  );

  it("takes --cron instead of the file's, and refuses a file without a schedule or with a bad cron", async () => {
    const { db, dir } = store();
    const other = await symphony(
      ['schedule', 'add', REPORT, '--cron', '*/5 * * * *', '--db', db, '--json'],
      dir,
    );
    expect(other.code).toBe(0);
    expect(JSON.parse(other.stdout)).toMatchObject({ cron: '*/5 * * * *', timezone: 'Europe/Paris' });

    const plain = join(dir, 'plain.yaml');
    writeFileSync(
      plain,
      `name: Plain\nagents:\n  module: ${AGENTS}\n  configs: [{ name: Echo, type: echo }]\ntasks: [{ name: one }]\n`,
    );
    const none = await symphony(['schedule', 'add', plain, '--db', db], dir);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/schedule: expected a schedule \{ cron, \.\.\. \} in the file, or --cron/);

    const bad = join(dir, 'bad.yaml');
    writeFileSync(
      bad,
      `name: Bad\nagents:\n  module: ${AGENTS}\n  configs: [{ name: Echo, type: echo }]\ntasks: [{ name: one }]\nschedule: { cron: 'every day', overlap: never }\n`,
    );
    const refused = await symphony(['schedule', 'add', bad, '--db', db], dir);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/schedule\.overlap: expected one of skip, allow, got "never"/);
    writeFileSync(
      bad,
      `name: Bad\nagents:\n  module: ${AGENTS}\n  configs: [{ name: Echo, type: echo }]\ntasks: [{ name: one }]\nschedule: { cron: 'every day' }\n`,
    );
    const badCron = await symphony(['schedule', 'add', bad, '--db', db], dir);
    expect(badCron.code).toBe(2);
    expect(badCron.stderr).toMatch(/schedule\.cron: Expected `cron` to be a cron expression croner reads/);
  });

  it('run <file> of a file with a schedule runs the workflow once and registers nothing', async () => {
    const { db, dir } = store();
    const ran = await symphony(['run', REPORT, '--db', db, '--json'], dir);
    expect(ran.stderr).toBe('');
    expect(ran.code).toBe(0);
    const listed = await symphony(['schedule', 'list', '--db', db, '--json'], dir);
    expect(JSON.parse(listed.stdout)).toEqual([]);
  });

  it('the workflow file of docs/policies.md, "In workflow files and on the command line", registers and triggers', async () => {
    const { db, dir } = store();
    const doc = readFileSync(join(ROOT, 'docs/policies.md'), 'utf8');
    const section = doc.slice(doc.indexOf('### In workflow files and on the command line'));
    const yaml = /```yaml\n([\s\S]*?)```/.exec(section)![1]!;
    writeFileSync(join(dir, 'nightly.yaml'), yaml);
    copyFileSync(AGENTS, join(dir, 'agents.mjs'));
    const added = await symphony(
      ['schedule', 'add', 'nightly.yaml', '--id', 'nightly-report', '--db', db],
      dir,
    );
    expect(added.stderr).toBe('');
    expect(added.stdout).toMatch(/^Schedule nightly-report: 0 3 \* \* \* \(Europe\/Paris\), next /);
    const triggered = await symphony(['schedule', 'trigger', 'nightly-report', '--db', db, '--json'], dir);
    const { workflowId } = JSON.parse(triggered.stdout) as ScheduleFiring;
    const tasks = await readStore(db, (s) => s.tasks.find({ where: { workflowId }, orderBy: 'id' }));
    expect(tasks.map((t) => [t.id, t.status])).toEqual([
      [`${workflowId}-fetch`, 'PENDING'],
      [`${workflowId}-write`, 'PENDING'],
    ]);
  });
});
