/**
 * Fairness keys and budgets across two worker PROCESSES on one PostgreSQL schema (issue 14): the
 * agents (test/durability/fixtures/chaos-agents.ts) append `start`/`end` of each run to one log
 * shared by both processes, whose order is the order of the runs; the checks read that log and the
 * store, never timings.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { ServiceRegistry, setWorkflowBudget } from '../../src/index.js';
import { createStore } from '../../src/repositories/open-store.js';
import { startCli, tempDir, type CliProcess } from '../cli/helpers.js';
import { compiledFixture } from '../support/fixtures.js';
import { killedAfterEach } from '../support/processes.js';
import { withStore } from '../support/with-store.js';
import { eventually } from '../support/wait.js';
import {
  describePostgres,
  dropTestSchemas,
  nextSchema,
  PG_URL,
  withUser,
} from '../repositories/pg-helpers.js';

const AGENTS = compiledFixture(join(import.meta.dirname, 'fixtures/chaos-agents.ts'));
/** A bound against a hang on a busy machine, not a timing the tests rely on. */
const DEADLINE_MS = 180_000;
const running = killedAfterEach<CliProcess>();

/** Starts `symphony worker` on `db` with 16 slots and waits for its start line. */
async function startWorker(db: string, env: Record<string, string>): Promise<CliProcess> {
  const cli = startCli(['worker', '--db', db, '--agents', AGENTS, '--concurrency', '16', '--poll-ms', '20'], {
    env: { SYMPHONY_LOG_LEVEL: 'warn', ...env },
  });
  running.push(cli);
  await cli.waitForLine(/^Worker (\S+) started: /);
  return cli;
}

/** SIGTERM to each worker: it drains and exits 0. */
async function drain(workers: readonly CliProcess[]): Promise<void> {
  for (const worker of workers) worker.child.kill('SIGTERM');
  for (const exit of await Promise.all(workers.map((worker) => worker.exited)))
    expect(exit.code, exit.stderr).toBe(0);
}

/** The shared log's lines: `[kind, taskId]`, in the order the runs wrote them. */
function readLog(path: string): Array<['start' | 'end', string]> {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => line.split(' ').slice(0, 2) as ['start' | 'end', string]);
}

/** An engine of this process that submits work to `db`, stopped by `use`'s end. */
async function submitter<T>(db: string, use: (registry: ServiceRegistry, configId: string) => Promise<T>) {
  const registry = new ServiceRegistry({ store: createStore(db), engineId: 'submitter' });
  try {
    const config = await registry
      .getAgentFactory()
      .createAgentConfig({ name: 'Chaos', type: 'chaos', maxConcurrency: 64 });
    return await use(registry, config.id);
  } finally {
    await registry.stop();
  }
}

describePostgres('fairness keys and budgets across worker processes (issue 14)', () => {
  afterAll(() => dropTestSchemas());

  it(
    'a key limited to 2 never runs more than 2 at once across two workers, and a key with 1 task among 200 of another starts early',
    async () => {
      const { dir, cleanup } = tempDir();
      const db = withUser(PG_URL, { schema: nextSchema() });
      const log = join(dir, 'runs.log');
      try {
        const keyOf = new Map<string, string>();
        await submitter(db, async (registry, configId) => {
          const manager = registry.getTaskManager();
          const executor = registry.getEnhancedExecutor();
          for (const [key, count] of [
            ['big', 200],
            ['small', 1],
          ] as const) {
            const ids: string[] = [];
            for (let i = 0; i < count; i += 1)
              ids.push((await manager.createTask({ name: `${key} ${i}` })).id);
            for (const id of ids) keyOf.set(id, key);
            await executor.enqueueTasks(
              ids.map((id) => [id, configId] as const),
              { concurrencyKey: key, keyConcurrency: 2 },
            );
          }
        });
        const env = { CHAOS_SHARED_LOG: log, CHAOS_AGENT_MS: '5' };
        const workers = [await startWorker(db, env), await startWorker(db, env)];
        await eventually(
          '201 tasks COMPLETED',
          () =>
            withStore(db, async (store) =>
              (await store.tasks.count({ status: 'COMPLETED' })) === 201 ? true : undefined,
            ),
          { timeoutMs: DEADLINE_MS, everyMs: 50 },
        );
        await drain(workers);

        const lines = readLog(log);
        const runningOf = new Map<string, number>();
        const most = new Map<string, number>();
        for (const [kind, taskId] of lines) {
          const key = keyOf.get(taskId)!;
          const now = (runningOf.get(key) ?? 0) + (kind === 'start' ? 1 : -1);
          runningOf.set(key, now);
          most.set(key, Math.max(most.get(key) ?? 0, now));
        }
        expect(most.get('big')).toBe(2);
        expect(most.get('small')).toBe(1);
        const starts = lines.filter(([kind]) => kind === 'start').map(([, taskId]) => keyOf.get(taskId));
        expect(starts).toHaveLength(201);
        // Turns: `small` has none running, so it goes at the first free slot, whatever `big` queued.
        expect(starts.indexOf('small')).toBeLessThan(4);
      } finally {
        cleanup();
      }
    },
    DEADLINE_MS + 30_000,
  );

  it(
    'a budget shared by two workers stops the starts once spent, overshooting by at most the runs in flight',
    async () => {
      const { dir, cleanup } = tempDir();
      const db = withUser(PG_URL, { schema: nextSchema() });
      const log = join(dir, 'runs.log');
      const TASKS = 40;
      const LIMIT = 1_000; // 100 tokens a run: 10 runs spend it
      const AGENT_SLOTS = 4;
      try {
        const workflowId = await submitter(db, async (registry) => {
          const config = await registry
            .getAgentFactory()
            .createAgentConfig({ name: 'Metered', type: 'chaos', maxConcurrency: AGENT_SLOTS });
          const workflow = await registry.getWorkflowTracker().createWorkflow({ name: 'metered' });
          await setWorkflowBudget(registry, workflow.id, { tokens: LIMIT });
          const manager = registry.getTaskManager();
          const ids: string[] = [];
          for (let i = 0; i < TASKS; i += 1)
            ids.push((await manager.createTask({ name: `m ${i}`, workflowId: workflow.id })).id);
          await registry.getEnhancedExecutor().enqueueTasks(ids.map((id) => [id, config.id] as const));
          return workflow.id;
        });
        const env = { CHAOS_SHARED_LOG: log, CHAOS_AGENT_MS: '20', CHAOS_USAGE_TOKENS: '100' };
        const workers = [await startWorker(db, env), await startWorker(db, env)];
        const tasks = await eventually(
          `${TASKS} tasks ended`,
          () =>
            withStore(db, async (store) => {
              const all = await store.tasks.find({ where: { workflowId } });
              return all.every((task) => task.status === 'COMPLETED' || task.status === 'FAILED')
                ? all
                : undefined;
            }),
          { timeoutMs: DEADLINE_MS, everyMs: 50 },
        );
        await drain(workers);

        const completed = tasks.filter((task) => task.status === 'COMPLETED');
        const refused = tasks.filter((task) => task.status === 'FAILED');
        for (const task of refused) expect(task.errors.at(-1)?.code).toBe('BUDGET_EXCEEDED');
        // Every run that started spent 100: the limit is reached, and passed by at most the
        // runs of the agent's slots in flight when it was.
        expect(completed.length * 100).toBeGreaterThanOrEqual(LIMIT);
        expect(completed.length).toBeLessThanOrEqual(LIMIT / 100 + AGENT_SLOTS);
        expect(refused.length).toBe(TASKS - completed.length);
        // Refused tasks never reached the agent.
        const started = new Set(
          readLog(log)
            .filter(([kind]) => kind === 'start')
            .map(([, id]) => id),
        );
        expect([...started].sort()).toEqual(completed.map((task) => task.id).sort());
      } finally {
        cleanup();
      }
    },
    DEADLINE_MS + 30_000,
  );
});
