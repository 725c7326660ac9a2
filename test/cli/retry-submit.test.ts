/**
 * `symphony retry --submit [--wait]` (issue 13, Control): the retry of a workflow left to workers
 * goes back to the workers; the retrying process runs no agent. A workflow run with `--submit` is
 * retried on workers by default. On SQLite and PostgreSQL.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  describePostgres,
  dropTestSchemas,
  nextSchema,
  PG_URL,
  withUser,
} from '../repositories/pg-helpers.js';
import { killedAfterEach } from '../support/processes.js';
import { withStore } from '../support/with-store.js';
import { cli, FIXTURES, startCli, tempDir, type CliProcess } from './helpers.js';
import { eventually, STARTED, TEST_MS } from './worker-kit.js';

const FLAKY = join(FIXTURES, 'retry-submit.yaml');
const AGENTS = join(FIXTURES, 'retry-agents.mjs');

const running = killedAfterEach<CliProcess>();

function start(args: string[], env: Record<string, string>): CliProcess {
  const child = startCli(args, { env: { SYMPHONY_LIVENESS_MS: '600000', ...env } });
  running.push(child);
  return child;
}

interface Summary {
  workflow: { id: string; status: string };
  tasks: { total: number; byStatus: Record<string, number> };
}

/**
 * A workflow submitted to a worker whose flaky task fails (its flag file exists), then the flag
 * removed: a retry now succeeds wherever it runs. The agents' environment is returned, for a retry
 * process to have it too (were it to run the agent, the log would show its pid).
 */
async function failedOnWorker(db: string, dir: string) {
  const log = join(dir, 'executions.log');
  const flag = join(dir, 'fail');
  writeFileSync(log, '');
  writeFileSync(flag, '');
  const env = { SYMPHONY_TEST_WORKER_LOG: log, SYMPHONY_TEST_FAIL_WHILE: flag };
  const submitted = await cli(['run', FLAKY, '--submit', '--db', db, '--json']);
  expect(submitted.code, submitted.stderr).toBe(0);
  const workflowId = (JSON.parse(submitted.stdout) as { workflow: { id: string } }).workflow.id;
  const worker = start(['worker', '--db', db, '--agents', AGENTS, '--poll-ms', '100'], env);
  await worker.waitForLine(STARTED);
  const flakyId = await withStore(db, async (store) =>
    eventually('the workflow to fail', async () => {
      if ((await store.workflows.get(workflowId))?.status !== 'FAILED') return undefined;
      const tasks = await store.tasks.find({ where: { workflowId } });
      return tasks.find((task) => task.name === 'flaky' && task.status === 'FAILED')?.id;
    }),
  );
  rmSync(flag);
  return { workflowId, flakyId, worker, env, log };
}

/** The flaky task completed on its second attempt, both run by the worker; the worker then drains. */
async function expectRetriedOnWorker(
  db: string,
  run: Awaited<ReturnType<typeof failedOnWorker>>,
  retry: CliProcess,
) {
  const { workflowId, flakyId, worker, log } = run;
  await withStore(db, async (store) => {
    expect((await store.workflows.get(workflowId))?.status).toBe('COMPLETED');
    expect(await store.tasks.get(flakyId)).toMatchObject({ status: 'COMPLETED', attempts: 2 });
    expect(await store.completions(flakyId)).toHaveLength(1);
  });
  const executed = readFileSync(log, 'utf8').trim().split('\n');
  // Both attempts of the flaky task ran in the worker; nothing ran in the retrying process.
  expect(executed.filter((line) => line.startsWith(`${flakyId} `))).toEqual([
    `${flakyId} ${worker.child.pid}`,
    `${flakyId} ${worker.child.pid}`,
  ]);
  for (const line of executed) expect(line.endsWith(` ${retry.child.pid}`), line).toBe(false);
  worker.child.kill('SIGTERM');
  const exit = await worker.exited;
  expect(exit.code, exit.stderr).toBe(0);
}

/** The retry of a workflow left to a worker: the worker runs the retried task, never the retrying process. */
function retrySuite(name: string, newDb: () => { db: string; dir: string; cleanup: () => void }) {
  it(
    `${name}: retry --submit --wait hands the failed task back to the worker and waits for it: COMPLETED, exit 0`,
    async () => {
      const { db, dir, cleanup } = newDb();
      try {
        const run = await failedOnWorker(db, dir);
        const retry = start(['retry', run.workflowId, '--submit', '--wait', '--db', db, '--json'], run.env);
        const result = await retry.exited;
        expect(result.code, result.stderr).toBe(0);
        const summary = JSON.parse(result.stdout) as Summary;
        expect(summary.workflow).toMatchObject({ id: run.workflowId, status: 'COMPLETED' });
        // The summary covers the retried task only.
        expect(summary.tasks).toMatchObject({ total: 1, byStatus: { COMPLETED: 1 } });
        await expectRetriedOnWorker(db, run, retry);
      } finally {
        cleanup();
      }
    },
    TEST_MS,
  );

  it(
    `${name}: a workflow run with --submit is retried on workers by default; without --wait retry returns at once`,
    async () => {
      const { db, dir, cleanup } = newDb();
      try {
        const run = await failedOnWorker(db, dir);
        const retry = start(['retry', run.workflowId, '--db', db, '--json'], run.env);
        const result = await retry.exited;
        expect(result.code, result.stderr).toBe(0);
        expect(JSON.parse(result.stdout)).toEqual({
          workflowId: run.workflowId,
          retried: [run.flakyId],
          submitted: 1,
          store: expect.any(String),
        });
        await withStore(db, (store) =>
          eventually('the workflow to complete', async () =>
            (await store.workflows.get(run.workflowId))?.status === 'COMPLETED' ? true : undefined,
          ),
        );
        await expectRetriedOnWorker(db, run, retry);
      } finally {
        cleanup();
      }
    },
    TEST_MS,
  );
}

describe('symphony retry --submit on SQLite', () => {
  retrySuite('SQLite', () => tempDir());

  it(
    '--no-submit runs the retry here, even for a workflow run with --submit',
    async () => {
      const { db, dir, cleanup } = tempDir();
      try {
        const run = await failedOnWorker(db, dir);
        run.worker.child.kill('SIGTERM');
        expect((await run.worker.exited).code).toBe(0);
        const retry = start(['retry', run.workflowId, '--no-submit', '--db', db, '--json'], run.env);
        const result = await retry.exited;
        expect(result.code, result.stderr).toBe(0);
        expect((JSON.parse(result.stdout) as Summary).workflow.status).toBe('COMPLETED');
        const executed = readFileSync(run.log, 'utf8').trim().split('\n');
        expect(executed.filter((line) => line.startsWith(`${run.flakyId} `))).toEqual([
          `${run.flakyId} ${run.worker.child.pid}`,
          `${run.flakyId} ${retry.child.pid}`,
        ]);
      } finally {
        cleanup();
      }
    },
    TEST_MS,
  );

  it(
    'retry --submit of a graph hands the whole workflow back to the workers: the failed node and those after it run there',
    async () => {
      const { db, dir, cleanup } = tempDir();
      try {
        const log = join(dir, 'executions.log');
        const flag = join(dir, 'fail');
        writeFileSync(log, '');
        writeFileSync(flag, '');
        const env = { SYMPHONY_TEST_WORKER_LOG: log, SYMPHONY_TEST_FAIL_WHILE: flag };
        const submitted = await cli([
          'run',
          join(FIXTURES, 'retry-graph.yaml'),
          '--submit',
          '--db',
          db,
          '--json',
        ]);
        expect(submitted.code, submitted.stderr).toBe(0);
        const workflowId = (JSON.parse(submitted.stdout) as { workflow: { id: string } }).workflow.id;
        const worker = start(['worker', '--db', db, '--agents', AGENTS, '--poll-ms', '100'], env);
        await worker.waitForLine(STARTED);
        await withStore(db, (store) =>
          eventually('the graph to fail', async () =>
            (await store.workflows.get(workflowId))?.status === 'FAILED' ? true : undefined,
          ),
        );
        rmSync(flag);
        const retry = start(['retry', workflowId, '--submit', '--db', db], env);
        expect((await retry.exited).code).toBe(0);
        await withStore(db, async (store) => {
          await eventually('the graph COMPLETED', async () =>
            (await store.workflows.get(workflowId))?.status === 'COMPLETED' ? true : undefined,
          );
          const tasks = await store.tasks.find({ where: { workflowId } });
          expect(tasks.map((task) => [task.name, task.status, task.attempts]).sort()).toEqual([
            ['after', 'COMPLETED', 1],
            ['flaky', 'COMPLETED', 2],
            ['steady', 'COMPLETED', 1],
          ]);
        });
        const executed = readFileSync(log, 'utf8').trim().split('\n');
        expect(executed).toHaveLength(4);
        for (const line of executed) expect(line.endsWith(` ${worker.child.pid}`), line).toBe(true);
      } finally {
        cleanup();
      }
    },
    TEST_MS,
  );

  it('refuses --wait without --submit, --agents with --submit, --submit on :memory: (exit 2)', async () => {
    const { db, cleanup } = tempDir();
    try {
      const graph = await cli(['run', join(FIXTURES, 'worker-graph.yaml'), '--db', db, '--json']);
      expect(graph.code, graph.stderr).toBe(0);
      const graphId = (JSON.parse(graph.stdout) as Summary).workflow.id;
      const wait = await cli(['retry', graphId, '--wait', '--db', db]);
      expect(wait.code).toBe(2);
      expect(wait.stderr).toContain('--wait: expected with --submit');

      const plain = await cli(['run', FLAKY, '--submit', '--db', db, '--json']);
      const plainId = (JSON.parse(plain.stdout) as { workflow: { id: string } }).workflow.id;
      const agents = await cli(['retry', plainId, '--agents', AGENTS, '--db', db]);
      expect(agents.code).toBe(2);
      expect(agents.stderr).toContain('--agents: the workers run the retried tasks on their own agents');
      const noSubmitWait = await cli(['retry', plainId, '--no-submit', '--wait', '--db', db]);
      expect(noSubmitWait.code).toBe(2);
      expect(noSubmitWait.stderr).toContain('--wait: expected with --submit');

      const memory = await cli(['retry', 'some-id', '--submit', '--db', ':memory:']);
      expect(memory.code).toBe(2);
      expect(memory.stderr).toContain(
        "--submit: workers take the tasks from a store they open too; :memory: is this process's own",
      );
    } finally {
      cleanup();
    }
  });
});

describePostgres('symphony retry --submit on PostgreSQL', () => {
  afterAll(() => dropTestSchemas());
  retrySuite('PostgreSQL', () => {
    const { dir, cleanup } = tempDir();
    return { db: withUser(PG_URL, { schema: nextSchema() }), dir, cleanup };
  });
});
