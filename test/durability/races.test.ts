/**
 * Races between recovery, cancel and completion, and counted attempts (issue 10, items 1-3), on
 * every store: memory, SQLite and PostgreSQL.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { MemoryStore, ServiceRegistry, type Agent, type Store, type Task } from '../../src/index.js';
import { PostgresStore } from '../../src/repositories/postgres/postgres-store.js';
import { SqliteStore } from '../../src/repositories/sqlite/sqlite-store.js';
import {
  PG_URL,
  describePostgres,
  dropTestSchemas,
  nextSchema,
  withUser,
} from '../repositories/pg-helpers.js';

/** Makes store objects over one set of data: each engine of a test gets its own. */
type StoreMaker = () => () => Store;

const makers: Array<[string, StoreMaker, typeof describe]> = [
  [
    'memory',
    () => {
      const store = new MemoryStore();
      return () => store;
    },
    describe,
  ],
  [
    'sqlite',
    () => {
      const path = join(mkdtempSync(join(tmpdir(), 'symphony-races-')), 'races.db');
      return () => new SqliteStore({ path });
    },
    describe,
  ],
  [
    'postgres',
    () => {
      const schema = nextSchema();
      const connectionString = withUser(PG_URL);
      return () => new PostgresStore({ connectionString, schema });
    },
    describePostgres as typeof describe,
  ],
];

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
}

function deferred<T = void>(): Deferred<T> {
  let resolve: (value: T) => void = () => {};
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** What the agents return: which execution and attempt produced the output. */
interface Output {
  n: number;
  executionId: string;
  attempt: number;
}

const TASKS = 300;

for (const [name, makeStores, describeStore] of makers) {
  describeStore(`races and counted attempts (${name} store)`, () => {
    if (name === 'postgres') afterAll(() => dropTestSchemas());
    const registries: ServiceRegistry[] = [];
    afterEach(async () => {
      for (const registry of registries.splice(0).reverse()) await registry.stop({ graceMs: 0 });
    });

    function engine(store: Store, options: ConstructorParameters<typeof ServiceRegistry>[0] = {}) {
      const registry = new ServiceRegistry({ store, controlPollMs: 0, engineId: 'racer', ...options });
      registries.push(registry);
      return registry;
    }

    async function createTasks(
      registry: ServiceRegistry,
      count: number,
      workflowId: string,
    ): Promise<Task[]> {
      const tasks = registry.getTaskManager();
      return Promise.all(
        Array.from({ length: count }, (_, n) =>
          tasks.createTask({ name: `t${n}`, inputData: { n }, workflowId }),
        ),
      );
    }

    /** Every completion record belongs to a COMPLETED task whose output came from the run it names. */
    async function expectCompletionsMatch(store: Store, tasks: readonly Task[]): Promise<Map<string, Task>> {
      const rows = new Map(
        (await store.tasks.getMany(tasks.map((task) => task.id))).map((row) => [row.id, row]),
      );
      const wrong: string[] = [];
      for (const record of await store.completions()) {
        const row = rows.get(record.taskId);
        const output = row?.outputData as Output | null | undefined;
        if (
          row?.status !== 'COMPLETED' ||
          output?.executionId !== record.executionId ||
          output.attempt !== record.attempt ||
          row.attempts !== record.attempt
        ) {
          wrong.push(
            `${record.taskId}: ${row?.status} ${JSON.stringify(output)} vs ${JSON.stringify(record)}`,
          );
        }
      }
      expect(wrong).toEqual([]);
      const recorded = new Set((await store.completions()).map((record) => record.taskId));
      const unrecorded = [...rows.values()].filter(
        (row) => row.status === 'COMPLETED' && !recorded.has(row.id),
      );
      expect(unrecorded.map((row) => row.name)).toEqual([]);
      return rows;
    }

    // https://github.com/ (issue 10, item 1): recover() took over executions its own engine held
    // and had just finished, ran them again and overwrote their COMPLETED rows.
    it('recover() called again and again during a batch runs nothing twice and overwrites no completion', async () => {
      const store = makeStores()();
      const registry = engine(store);
      const workflow = await registry.getWorkflowTracker().createWorkflow({ name: 'recover-loop' });
      const tasks = await createTasks(registry, TASKS, workflow.id);
      const runs = new Map<string, number>();
      // Settles without a timer: results come back in the same turn as the start.
      const agent: Agent = {
        id: 'instant',
        execute: async (task, context) => {
          runs.set(task.id, (runs.get(task.id) ?? 0) + 1);
          return { n: task.inputData.n, executionId: context.executionId, attempt: context.attempt };
        },
      };
      let done = false;
      const batch = registry
        .getEnhancedExecutor()
        .batchExecute(
          tasks.map((task) => [task.id, agent] as const),
          { workflowId: workflow.id, maxConcurrent: 20 },
        )
        .finally(() => (done = true));
      let recoveries = 0;
      while (!done) {
        // From the event loop's check phase, as a timer or an I/O callback would call it: between an
        // attempt's settle batch (which ends its execution) and the commit of its final row.
        await new Promise((resolve) => setImmediate(resolve));
        const report = await registry.recover({ workflowId: workflow.id, resolveAgent: () => agent });
        await report.results;
        recoveries += 1;
      }
      const results = await batch;
      expect(recoveries).toBeGreaterThan(1);
      expect(results.map((result) => result.status)).toEqual(tasks.map(() => 'COMPLETED'));
      expect([...runs.values()].filter((count) => count !== 1)).toEqual([]);
      const rows = await expectCompletionsMatch(store, tasks);
      const interrupted = [...rows.values()].filter((row) => row.errors.length > 0);
      expect(interrupted.map((row) => `${row.name}: ${row.errors.map((e) => e.code).join(',')}`)).toEqual([]);
    });

    // Issue 10, item 2: cancelling a workflow while its attempts complete threw a TypeError in
    // flushSettled, overwrote finished tasks to CANCELLED with their completion records kept, and
    // let attempts start after the cancel.
    it('cancelWorkflow while attempts complete: a completion applied first stands, the rest are cancelled, nothing starts after', async () => {
      const store = makeStores()();
      const registry = engine(store);
      const workflows = registry.getWorkflowTracker();
      const workflow = await workflows.createWorkflow({ name: 'cancel-race' });
      const tasks = await createTasks(registry, TASKS, workflow.id);
      let cancelled: Promise<unknown> | null = null;
      let cancelIssued = false;
      let startedAfterCancel = 0;
      let calls = 0;
      const agent: Agent = {
        id: 'instant',
        execute: async (task, context) => {
          calls += 1;
          if (cancelIssued) startedAfterCancel += 1;
          // A third of the way in, while other attempts' results wait to be applied.
          if (calls === TASKS / 3) {
            cancelled = workflows.cancelWorkflow(workflow.id).then(() => (cancelIssued = true));
          }
          return { n: task.inputData.n, executionId: context.executionId, attempt: context.attempt };
        },
      };
      const results = await registry.getEnhancedExecutor().batchExecute(
        tasks.map((task) => [task.id, agent] as const),
        { workflowId: workflow.id, maxConcurrent: 40 },
      );
      await cancelled;
      expect(startedAfterCancel).toBe(0);
      const rows = await expectCompletionsMatch(store, tasks);
      const statuses = new Set([...rows.values()].map((row) => row.status));
      expect([...statuses].sort()).toEqual(['CANCELLED', 'COMPLETED']);
      for (const result of results) {
        const row = rows.get(result.taskId)!;
        expect(result.status).toBe(row.status);
        if (row.status === 'COMPLETED') expect(result.output).toEqual(row.outputData);
      }
      expect((await workflows.getWorkflow(workflow.id)).status).toBe('CANCELLED');
    });

    // Issue 10, item 3: the agent ran before its RUNNING row (and attempt count) was committed, so a
    // crash re-ran the same attempt number, and a task that kills its engine every time ran forever.
    it('an attempt is on record before its agent runs; interruptions count, and one too many fails the task', async () => {
      const open = makeStores();
      const retry = { maxAttempts: 5, maxInterruptions: 1, initialDelayMs: 0, jitter: 0 };
      const seen: Array<{ attempt: number; status: string | undefined; attempts: number | undefined }> = [];
      let started = deferred();
      const reader = open();
      // Never settles: every engine running it "dies" (is abandoned) with the attempt running.
      const poison: Agent = {
        id: 'poison',
        execute: async (task, context) => {
          const row = await reader.tasks.get(task.id);
          seen.push({ attempt: context.attempt, status: row?.status, attempts: row?.attempts });
          started.resolve();
          return new Promise(() => {});
        },
      };
      const first = engine(open(), { retry });
      if (name !== 'memory') await reader.open();
      const task = await first.getTaskManager().createTask({ name: 'poison' });
      void first
        .getEnhancedExecutor()
        .executeTask(task.id, poison)
        .catch(() => {});
      await started.promise;

      // A new engine takes it over: the interrupted attempt counts, the task runs again.
      started = deferred();
      const second = engine(open(), { retry });
      const again = await second.recover({ resolveAgent: () => poison });
      expect(again.recovered).toEqual([task.id]);
      await started.promise;

      // And once more: a second interruption is one more than the policy allows.
      const third = engine(open(), { retry });
      const last = await third.recover({ resolveAgent: () => poison });
      const [result] = await last.results;
      expect(result!.status).toBe('FAILED');
      expect(result!.error?.code).toBe('TOO_MANY_INTERRUPTIONS');
      expect(seen).toEqual([
        { attempt: 1, status: 'RUNNING', attempts: 1 },
        { attempt: 2, status: 'RUNNING', attempts: 2 },
      ]);
      const row = await reader.tasks.get(task.id);
      expect(row).toMatchObject({ status: 'FAILED', attempts: 2 });
      expect(row!.errors.map((error) => [error.code, error.retryable])).toEqual([
        ['ATTEMPT_INTERRUPTED', true],
        ['TOO_MANY_INTERRUPTIONS', false],
      ]);
      if (name !== 'memory') await reader.close();
    });

    it('an interrupted attempt counts against maxAttempts', async () => {
      const open = makeStores();
      const retry = { maxAttempts: 1, maxInterruptions: 5, initialDelayMs: 0, jitter: 0 };
      const started = deferred();
      const hang: Agent = {
        id: 'hang',
        execute: () => {
          started.resolve();
          return new Promise(() => {});
        },
      };
      const first = engine(open(), { retry });
      const task = await first.getTaskManager().createTask({ name: 'once' });
      void first
        .getEnhancedExecutor()
        .executeTask(task.id, hang)
        .catch(() => {});
      await started.promise;
      const second = engine(open(), { retry });
      const report = await second.recover({ resolveAgent: () => hang });
      const [result] = await report.results;
      expect(result).toMatchObject({ status: 'FAILED', attempts: 1 });
      expect(result!.error).toMatchObject({ code: 'ATTEMPT_INTERRUPTED', retryable: false });
    });
  });
}
