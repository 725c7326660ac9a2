import { describe, expect, it } from 'vitest';
import type { Agent, ServiceRegistry, Store, Task } from '../../src/index.js';
import { PostgresStore } from '../../src/repositories/postgres/postgres-store.js';
import {
  describePostgres,
  dropTestSchemas,
  nextSchema,
  PG_URL,
  withUser,
} from '../repositories/pg-helpers.js';
import { describeEveryStore, useEngines } from './backends.js';
import { afterAll } from 'vitest';

// Issue 13: workers take runnable tasks from a shared store (registry.startWorker, executor.enqueueTask).

/** Polls `check` until it holds; fails after `ms` (generous: the suite runs alongside other work). */
async function until(check: () => Promise<boolean>, what: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** An agent that records which worker ran which task. */
function recordingAgent(worker: string, runs: Array<{ worker: string; taskId: string }>): Agent {
  return {
    id: `agent-${worker}`,
    async execute(task) {
      runs.push({ worker, taskId: task.id });
      await new Promise((resolve) => setImmediate(resolve));
      return { by: worker };
    },
  };
}

/** An agent whose attempts run until they are aborted. */
function hangingAgent(started: string[]): Agent {
  return {
    id: 'hanging',
    execute(task, context) {
      started.push(task.id);
      return new Promise((_, reject) => {
        context.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
      });
    },
  };
}

async function createTasks(registry: ServiceRegistry, count: number): Promise<string[]> {
  const manager = registry.getTaskManager();
  const ids: string[] = [];
  for (let i = 0; i < count; i += 1) ids.push((await manager.createTask({ name: `job ${i}` })).id);
  return ids;
}

const countStatus = async (store: Store, status: Task['status']) => store.tasks.count({ status });

describeEveryStore('workers', (backend) => {
  const engine = useEngines();

  it('two workers on one store run 500 enqueued tasks, each once', async () => {
    const b = backend();
    const submitter = engine(b.store);
    const ids = await createTasks(submitter, 500);
    await submitter.getEnhancedExecutor().enqueueTasks(ids.map((id) => [id, 'worker-agent'] as const));
    const stored = await submitter.getRepository('tasks').getMany(ids);
    expect(stored.every((t) => t.status === 'PENDING' && t.leaseOwner === null && t.execution !== null)).toBe(
      true,
    );

    const runs: Array<{ worker: string; taskId: string }> = [];
    const workers = await Promise.all(
      ['w1', 'w2'].map(async (name) => {
        const registry = engine(b.reopen(), { maxConcurrency: 16, engineId: `engine-${name}` });
        return registry.startWorker({ resolveAgent: () => recordingAgent(name, runs), pollMs: 20 });
      }),
    );
    await until(async () => (await countStatus(b.store, 'COMPLETED')) === 500, '500 tasks COMPLETED');

    const records = await b.store.completions();
    expect(records).toHaveLength(500);
    expect(new Set(records.map((r) => r.taskId)).size).toBe(500);
    expect(runs).toHaveLength(500);
    expect(new Set(runs.map((r) => r.taskId))).toEqual(new Set(ids));
    const stats = workers.map((w) => w.stats());
    expect(stats[0]!.completed + stats[1]!.completed).toBe(500);
    expect(stats.every((s) => s.running === 0 && s.unresolved === 0)).toBe(true);
    for (const w of workers) await w.stop();
  });

  it('a worker stopped with graceMs leaves nothing RUNNING that it held; another worker finishes it', async () => {
    const b = backend();
    const submitter = engine(b.store);
    const ids = await createTasks(submitter, 5);
    await submitter.getEnhancedExecutor().enqueueTasks(
      ids.map((id) => [id, 'worker-agent'] as const),
      {
        retry: { maxAttempts: 3 },
      },
    );
    const started: string[] = [];
    const first = await engine(b.reopen(), { maxConcurrency: 3, engineId: 'engine-first' }).startWorker({
      resolveAgent: () => hangingAgent(started),
      pollMs: 20,
    });
    await until(async () => (await countStatus(b.store, 'RUNNING')) === 3, '3 attempts RUNNING');
    await first.stop({ graceMs: 0 });

    const rows = await b.store.tasks.getMany(ids);
    expect(rows.filter((t) => t.status === 'RUNNING')).toEqual([]);
    expect(rows.filter((t) => t.leaseOwner === 'engine-first')).toEqual([]);
    expect(rows.filter((t) => t.attempts === 1)).toHaveLength(3);

    const runs: Array<{ worker: string; taskId: string }> = [];
    const second = await engine(b.reopen(), { engineId: 'engine-second' }).startWorker({
      resolveAgent: () => recordingAgent('second', runs),
      pollMs: 20,
    });
    await until(async () => (await countStatus(b.store, 'COMPLETED')) === 5, 'all 5 COMPLETED');
    expect(runs.map((r) => r.taskId).sort()).toEqual([...ids].sort());
    await second.stop();
  });

  it('a worker with prefetch holds maxConcurrency + prefetch tasks and runs maxConcurrency of them', async () => {
    const b = backend();
    const submitter = engine(b.store);
    const ids = await createTasks(submitter, 10);
    await submitter.getEnhancedExecutor().enqueueTasks(ids.map((id) => [id, 'worker-agent'] as const));
    const started: string[] = [];
    const worker = await engine(b.reopen(), { maxConcurrency: 2, engineId: 'engine-prefetch' }).startWorker({
      resolveAgent: () => hangingAgent(started),
      prefetch: 3,
      pollMs: 20,
    });
    await until(async () => worker.stats().claimed === 5 && started.length === 2, '5 claimed, 2 started');
    const held = (await b.store.tasks.getMany(ids)).filter((t) => t.leaseOwner === 'engine-prefetch');
    expect(held).toHaveLength(5);
    expect(held.filter((t) => t.status === 'RUNNING')).toHaveLength(2);
    expect(worker.stats()).toMatchObject({ claimed: 5, adopted: 5, running: 5 });
    expect(started).toHaveLength(2);
    await worker.stop({ graceMs: 0 });
    const rows = await b.store.tasks.getMany(ids);
    expect(rows.filter((t) => t.leaseOwner !== null)).toEqual([]);
  });

  it('workers with different agents share a store: a task a worker has no agent for goes to one that has', async () => {
    const b = backend();
    const submitter = engine(b.store);
    const alpha = await createTasks(submitter, 20);
    const beta = await createTasks(submitter, 20);
    const executor = submitter.getEnhancedExecutor();
    await executor.enqueueTasks(alpha.map((id) => [id, 'alpha'] as const));
    await executor.enqueueTasks(beta.map((id) => [id, 'beta'] as const));
    const runs: Array<{ worker: string; taskId: string }> = [];
    const only = (key: string) => (task: Task) =>
      task.execution?.agentKey === key ? recordingAgent(key, runs) : undefined;
    // The beta worker starts first and claims alpha tasks too: it lets them go and skips alpha.
    const betaWorker = await engine(b.reopen(), { maxConcurrency: 8, engineId: 'engine-beta' }).startWorker({
      resolveAgent: only('beta'),
      pollMs: 20,
    });
    const alphaWorker = await engine(b.reopen(), { maxConcurrency: 8, engineId: 'engine-alpha' }).startWorker(
      {
        resolveAgent: only('alpha'),
        pollMs: 20,
      },
    );
    await until(async () => (await countStatus(b.store, 'COMPLETED')) === 40, '40 tasks COMPLETED');
    const ranBy = new Map(runs.map((run) => [run.taskId, run.worker]));
    expect(alpha.every((id) => ranBy.get(id) === 'alpha')).toBe(true);
    expect(beta.every((id) => ranBy.get(id) === 'beta')).toBe(true);
    expect(runs).toHaveLength(40);
    // Each worker let go of at most one claim's worth of the other's tasks before skipping their key.
    expect(betaWorker.stats().unresolved).toBeLessThanOrEqual(20);
    expect(alphaWorker.stats().unresolved).toBeLessThanOrEqual(8);
    await betaWorker.stop();
    await alphaWorker.stop();
  });

  it('enqueueWorkflow leaves a plain workflow to workers task by task', async () => {
    const b = backend();
    const submitter = engine(b.store);
    const tracker = submitter.getWorkflowTracker();
    const manager = submitter.getTaskManager();
    const plain = await tracker.createWorkflow({ name: 'plain' });
    for (let i = 0; i < 3; i += 1)
      await tracker.addTaskToWorkflow(plain.id, (await manager.createTask({ name: `p${i}` })).id);
    const executor = submitter.getEnhancedExecutor();
    const enqueued = await executor.enqueueWorkflow(plain.id, { agentKey: (task) => `agent-${task.name}` });
    expect(enqueued).toHaveLength(3);
    const runs: Array<{ worker: string; taskId: string }> = [];
    const worker = await engine(b.reopen()).startWorker({
      resolveAgent: (task) =>
        task.execution?.agentKey.startsWith('agent-p') ? recordingAgent('w', runs) : undefined,
      pollMs: 20,
    });
    await until(
      async () => (await b.store.workflows.get(plain.id))?.status === 'COMPLETED',
      'the plain workflow COMPLETED',
    );
    expect(runs.map((r) => r.taskId).sort()).toEqual([...enqueued].sort());
    // Task by task: not handed over as a whole.
    expect((await b.store.submittedWorkflows?.()) ?? []).toEqual([]);
    await worker.stop();
  });
});

describePostgres('workers: PostgreSQL wake-ups', () => {
  afterAll(() => dropTestSchemas());
  const engine = useEngines();

  it('a NOTIFY wakes an idle worker long before its poll interval', async () => {
    const schema = nextSchema();
    const open = () => new PostgresStore({ connectionString: withUser(PG_URL), schema });
    const submitter = engine(open());
    const [id] = await createTasks(submitter, 1);
    const runs: Array<{ worker: string; taskId: string }> = [];
    const worker = await engine(open()).startWorker({
      resolveAgent: () => recordingAgent('idle', runs),
      pollMs: 3_600_000,
    });
    // Its first claim found nothing: from now on only a wake-up (or an hour) brings a claim.
    await until(async () => worker.stats().claims >= 1, 'the first claim');
    await submitter.getEnhancedExecutor().enqueueTask(id!, 'worker-agent');
    await until(async () => runs.length === 1, 'the task run after the NOTIFY', 30_000);
    expect(worker.stats().claims).toBeGreaterThanOrEqual(2);
    await worker.stop();
  });
});

describe('workers: misuse', () => {
  const engine = useEngines();
  it('refuses bad options and a second worker per registry', async () => {
    const { MemoryStore } = await import('../../src/index.js');
    const registry = engine(new MemoryStore());
    await expect(registry.startWorker({ batchSize: 0 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(registry.startWorker({ pollMs: -1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(registry.startWorker({ prefetch: -1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(registry.startWorker({ prefetch: 1.5 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const worker = await registry.startWorker();
    await expect(registry.startWorker()).rejects.toMatchObject({ code: 'INVALID_STATE' });
    await worker.stop();
  });
});
