import { existsSync, readFileSync, writeFileSync } from 'node:fs';
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

const AGENTS = join(FIXTURES, 'worker-agents.mjs');
const FIFTY = join(FIXTURES, 'worker-fifty.yaml');
const ONE = join(FIXTURES, 'worker-one.yaml');

/** The workers started: a failed test may leave them up. */
const running = killedAfterEach<CliProcess>();

function startWorker(db: string, env: Record<string, string>, extra: string[] = []): CliProcess {
  const worker = startCli(
    ['worker', '--db', db, '--agents', AGENTS, '--concurrency', '4', '--poll-ms', '200', ...extra],
    // A long liveness window: a worker slowed down by a busy machine is not taken for dead.
    { env: { SYMPHONY_LIVENESS_MS: '600000', ...env } },
  );
  running.push(worker);
  return worker;
}

interface WorkerEntry {
  engineId: string;
  state: string;
  holds: Record<string, number>;
}

function workerSuite(name: string, newDb: () => { db: string; dir: string; cleanup: () => void }) {
  it(
    `${name}: two workers run what run --submit left, then drain on SIGTERM and show as stopped`,
    async () => {
      const { db, dir, cleanup } = newDb();
      try {
        const log = join(dir, 'executions.log');
        writeFileSync(log, '');
        // Submitted before any worker runs: it waits in the store.
        const first = await cli(['run', FIFTY, '--submit', '--db', db, '--json']);
        expect(first.stderr).toBe('');
        expect(first.code, first.stdout).toBe(0);
        const submitted = JSON.parse(first.stdout) as { workflow: { id: string }; submitted: number };
        expect(submitted.submitted).toBe(50);

        const workers = [
          startWorker(db, { SYMPHONY_TEST_WORKER_LOG: log }),
          startWorker(db, { SYMPHONY_TEST_WORKER_LOG: log }),
        ];
        const ids = await Promise.all(workers.map(async (worker) => (await worker.waitForLine(STARTED))[1]!));
        expect(new Set(ids).size).toBe(2);

        // Submitted while they run, watched to its end.
        const second = await cli(['run', FIFTY, '--submit', '--wait', '--db', db, '--json']);
        expect(second.code, second.stderr).toBe(0);
        const summary = JSON.parse(second.stdout) as {
          workflow: { id: string };
          tasks: { total: number; byStatus: Record<string, number> };
        };
        expect(summary.tasks.total).toBe(50);
        expect(summary.tasks.byStatus.COMPLETED).toBe(50);

        await withStore(db, async (store) => {
          const workflowIds = [submitted.workflow.id, summary.workflow.id];
          const tasks = await eventually('both workflows COMPLETED', async () => {
            const all = (
              await Promise.all(workflowIds.map((workflowId) => store.tasks.find({ where: { workflowId } })))
            ).flat();
            return all.every((task) => task.status === 'COMPLETED') ? all : undefined;
          });
          expect(tasks).toHaveLength(100);
          // Every task completed once: exactly one completion record each.
          const completions = await store.completions();
          for (const task of tasks) {
            expect(
              completions.filter((record) => record.taskId === task.id),
              task.id,
            ).toHaveLength(1);
          }
          // Every task was executed by one of the two workers.
          const executed = readFileSync(log, 'utf8').trim().split('\n');
          const pids = new Set(workers.map((worker) => String(worker.child.pid)));
          for (const line of executed) expect(pids.has(line.split(' ')[1]!), line).toBe(true);
          const executedIds = new Set(executed.map((line) => line.split(' ')[0]));
          for (const task of tasks) expect(executedIds.has(task.id), task.id).toBe(true);
        });

        for (const worker of workers) worker.child.kill('SIGTERM');
        const exits = await Promise.all(workers.map((worker) => worker.exited));
        for (const exit of exits) {
          expect(exit.code, exit.stderr).toBe(0);
          expect(exit.stdout).toMatch(/^Worker \S+ stopped after .*: claimed \d+, completed \d+/m);
          expect(exit.stderr).toContain('Draining worker');
        }

        const list = await cli(['workers', '--db', db, '--json']);
        expect(list.code, list.stderr).toBe(0);
        const entries = JSON.parse(list.stdout) as WorkerEntry[];
        for (const id of ids) {
          expect(entries.find((entry) => entry.engineId === id)).toEqual({
            engineId: id,
            state: 'stopped',
            alive: false,
            beatAt: expect.any(Number),
            expiresAt: expect.any(Number),
            holds: { RUNNING: 0, PENDING: 0, PAUSED: 0 },
            coordinates: [],
          });
        }
      } finally {
        cleanup();
      }
    },
    TEST_MS,
  );

  it(
    `${name}: SIGTERM drains a worker: its running attempt finishes in the grace period and completes`,
    async () => {
      const { db, dir, cleanup } = newDb();
      try {
        const gate = join(dir, 'gate');
        const submitted = await cli(['run', ONE, '--submit', '--db', db, '--json']);
        expect(submitted.code, submitted.stderr).toBe(0);
        const workflowId = (JSON.parse(submitted.stdout) as { workflow: { id: string } }).workflow.id;
        const worker = startWorker(db, { SYMPHONY_TEST_GATE: gate }, ['--grace-ms', '600000']);
        let stderr = '';
        worker.child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        await worker.waitForLine(STARTED);
        // The attempt runs: the agent has reached its gate.
        await eventually('the attempt to start', async () =>
          existsSync(`${gate}.arrivals`) && readFileSync(`${gate}.arrivals`, 'utf8').includes('held echo')
            ? true
            : undefined,
        );
        worker.child.kill('SIGTERM');
        await eventually('the worker to drain', async () =>
          stderr.includes('Draining worker') ? true : undefined,
        );
        // Draining: the attempt is still allowed to finish.
        writeFileSync(gate, '');
        const exit = await worker.exited;
        expect(exit.code, exit.stderr).toBe(0);
        expect(exit.stdout).toMatch(/stopped after .*: claimed 1, completed 1,/);
        await withStore(db, async (store) => {
          const [task] = await store.tasks.find({ where: { workflowId } });
          expect(task).toMatchObject({ status: 'COMPLETED', attempts: 1, leaseOwner: null });
          expect(await store.completions(task!.id)).toHaveLength(1);
        });
      } finally {
        cleanup();
      }
    },
    TEST_MS,
  );
}

describe('symphony worker, run --submit and workers on SQLite', () => {
  workerSuite('SQLite', () => tempDir());

  it(
    'run --submit hands a workflow file with a graph to the workers as a whole; --wait sees it COMPLETED',
    async () => {
      const { db, dir, cleanup } = tempDir();
      try {
        const log = join(dir, 'executions.log');
        writeFileSync(log, '');
        const worker = startWorker(db, { SYMPHONY_TEST_WORKER_LOG: log });
        await worker.waitForLine(STARTED);
        const result = await cli([
          'run',
          join(FIXTURES, 'worker-graph.yaml'),
          '--submit',
          '--wait',
          '--db',
          db,
          '--json',
        ]);
        expect(result.code, result.stderr).toBe(0);
        const summary = JSON.parse(result.stdout) as {
          workflow: { id: string; status: string };
          tasks: { total: number; byStatus: Record<string, number> };
        };
        expect(summary.tasks.byStatus.COMPLETED).toBe(2);
        await withStore(db, async (store) => {
          const tasks = await store.tasks.find({ where: { workflowId: summary.workflow.id } });
          const first = tasks.find((task) => task.name === 'first echo')!;
          const second = tasks.find((task) => task.name === 'second echo')!;
          // The dependency held: the second started after the first finished.
          expect(second.startedAt!).toBeGreaterThanOrEqual(first.finishedAt!);
          const [run] = await store.submittedWorkflows!();
          expect(run).toMatchObject({ workflowId: summary.workflow.id, coordinator: null });
          expect(run!.endedAt).not.toBeNull();
        });
        expect(readFileSync(log, 'utf8').trim().split('\n')).toHaveLength(2);
        // Its stop line names the graph it ran (its tasks ran in the graph's run, not as claims).
        worker.child.kill('SIGTERM');
        const exit = await worker.exited;
        expect(exit.code, exit.stderr).toBe(0);
        expect(exit.stdout).toMatch(/stopped after .*: claimed \d+, .*, graph workflows coordinated 1$/m);
      } finally {
        cleanup();
      }
    },
    TEST_MS,
  );

  it(
    'a graph waiting for a signal stays with its coordinator (symphony workers shows it) until symphony signal',
    async () => {
      const { db, cleanup } = tempDir();
      try {
        const worker = startWorker(db, {});
        const [, engineId] = await worker.waitForLine(STARTED);
        const submitted = await cli([
          'run',
          join(FIXTURES, 'worker-approval.yaml'),
          '--submit',
          '--db',
          db,
          '--json',
        ]);
        expect(submitted.code, submitted.stderr).toBe(0);
        const workflowId = (JSON.parse(submitted.stdout) as { workflow: { id: string } }).workflow.id;
        await eventually('the worker to show as the coordinator', async () => {
          const list = await cli(['workers', '--db', db, '--json']);
          const entries = JSON.parse(list.stdout) as Array<WorkerEntry & { coordinates: string[] }>;
          const entry = entries.find((one) => one.engineId === engineId);
          return entry?.coordinates.includes(workflowId) ? entry : undefined;
        });
        // resume leaves it to its coordinator: running the graph here too would make two.
        const resume = await cli(['resume', workflowId, '--db', db]);
        expect(resume.code, resume.stderr).toBe(0);
        expect(resume.stdout).toContain(
          `It was submitted to workers: its graph is run by worker ${engineId}, not here.`,
        );
        const signal = await cli(['signal', workflowId, 'approval', '{"approved":true}', '--db', db]);
        expect(signal.code, signal.stderr).toBe(0);
        await withStore(db, async (store) => {
          await eventually('the workflow COMPLETED', async () =>
            (await store.workflows.get(workflowId))?.status === 'COMPLETED' ? true : undefined,
          );
          const tasks = await store.tasks.find({ where: { workflowId } });
          expect(tasks.map((task) => task.status)).toEqual(['COMPLETED', 'COMPLETED', 'COMPLETED']);
          const approval = tasks.find((task) => task.name === 'approval')!;
          expect(approval.outputData).toMatchObject({ signal: 'approval', payload: { approved: true } });
        });
      } finally {
        cleanup();
      }
    },
    TEST_MS,
  );

  it("submits a plain file that sets `concurrency`: its tasks spread over the workers, each bounded by the worker's --concurrency", async () => {
    // It was refused (INVALID_ARGUMENT, "Expected no `maxConcurrent`"), leaving a PENDING workflow no one held.
    const { dir, cleanup } = tempDir();
    try {
      const file = join(dir, 'bounded.yaml');
      writeFileSync(
        file,
        readFileSync(ONE, 'utf8')
          .replace('module: ./worker-agents.mjs', `module: ${JSON.stringify(AGENTS)}`)
          .replace('tasks:', 'concurrency: 2\ntasks:'),
      );
      const db = join(dir, 'bounded.db');
      const submitted = await cli(['run', file, '--submit', '--db', db, '--json']);
      expect(submitted.code, submitted.stderr).toBe(0);
      expect(JSON.parse(submitted.stdout)).toMatchObject({ submitted: 1 });
      await withStore(db, async (store) => {
        const [task] = await store.tasks.find({});
        expect(task).toMatchObject({ status: 'PENDING', leaseOwner: null, execution: expect.any(Object) });
      });
    } finally {
      cleanup();
    }
  });

  it('refuses --wait without --submit, and a worker without --agents (exit 2)', async () => {
    const wait = await cli(['run', FIFTY, '--wait', '--db', ':memory:']);
    expect(wait.code).toBe(2);
    expect(wait.stderr).toContain('--wait: expected with --submit');
    const worker = await cli(['worker', '--db', ':memory:']);
    expect(worker.code).toBe(2);
    expect(worker.stderr).toContain('--agents: expected');
  });
});

describePostgres('symphony worker, run --submit and workers on PostgreSQL', () => {
  afterAll(() => dropTestSchemas());
  workerSuite('PostgreSQL', () => {
    const { dir, cleanup } = tempDir();
    return { db: withUser(PG_URL, { schema: nextSchema() }), dir, cleanup };
  });
});
