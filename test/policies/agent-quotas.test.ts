/**
 * Agent config quotas (issue 14, Resource management; docs/policies.md "Budgets"): a config's
 * `quota` is stored with it, and every engine of the store applies it to each attempt on that
 * config, a worker that did not create the config too (it reads the config from the store as it
 * builds the agent). A task about to start once the config's spend reached a limit ends
 * BUDGET_EXCEEDED, not retried. The engine option `quotas` still applies: both do, limit by limit
 * the smaller. On every store; time is simulated.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Agent, Quota, Store, Task } from '../../src/index.js';
import { strictestQuota } from '../../src/engine/budgets.js';
import { PostgresStore } from '../../src/repositories/postgres/postgres-store.js';
import { SqliteStore } from '../../src/repositories/sqlite/sqlite-store.js';
import {
  createTestClock,
  createTestRegistry,
  sequentialIds,
  type TestRegistry,
} from '../../src/testing/index.js';
import { describeEveryStore } from '../durability/backends.js';
import { describePostgres, dropTestSchemas, nextSchema, PG_URL } from '../repositories/pg-helpers.js';
import { StoreIo, useStoreKit } from '../support/store-kit.js';

/** Every attempt reports 17 tokens, as the AI SDK agent reports its usage in `outputData`. */
const llm = (): Pick<Agent, 'execute'> => ({
  execute: async (task) => ({
    text: task.name,
    usage: { inputTokens: 12, outputTokens: 5, totalTokens: 17 },
  }),
});

const outcomes = (tasks: readonly Task[]) =>
  tasks.map((task) => ({
    status: task.status,
    attempts: task.attempts,
    code: task.errors.at(-1)?.code ?? null,
  }));

const tasksOf = (kit: TestRegistry, ids: readonly string[]) =>
  Promise.all(ids.map((id) => kit.taskManager.getTask(id)));

const completed = { status: 'COMPLETED', attempts: 1, code: null };
const refused = { status: 'FAILED', attempts: 1, code: 'BUDGET_EXCEEDED' };

describe('strictestQuota', () => {
  it('takes the smaller limit of each kind, and a limit only one quota has', () => {
    expect(strictestQuota({ tokens: 20 }, { tokens: 40, costUsd: 1 })).toEqual({ tokens: 20, costUsd: 1 });
    expect(strictestQuota({ tokens: 100 }, { tokens: 40 })).toEqual({ tokens: 40 });
    expect(strictestQuota(undefined, { costUsd: 2 })).toEqual({ costUsd: 2 });
    expect(strictestQuota({}, undefined)).toBeUndefined();
  });
});

describeEveryStore('agent config quotas', (backend) => {
  const { setup, flush } = useStoreKit(backend, { retry: { maxAttempts: 3, initialDelayMs: 0 } });

  /** Runs `count` new tasks one at a time on the agent of config `configId`; their outcomes in order. */
  async function runOn(kit: TestRegistry, configId: string, count: number) {
    const agent = await kit.agentFactory.createAgent(configId);
    const ids: string[] = [];
    for (let i = 0; i < count; i += 1) ids.push((await kit.taskManager.createTask({ name: `t${i}` })).id);
    for (const id of ids) await kit.executor.executeTask(id, agent);
    await flush();
    return outcomes(await tasksOf(kit, ids));
  }

  /** A config of the `llm` type with `quota`. */
  async function configWith(kit: TestRegistry, name: string, quota: Quota) {
    if (!kit.agentFactory.hasAgentType('llm')) kit.agentFactory.registerAgentType('llm', llm);
    return kit.agentFactory.createAgentConfig({ name, type: 'llm', quota });
  }

  it('keeps the quota with the config, and its agent carries it', async () => {
    const kit = setup();
    const config = await kit.agentFactory.createAgentConfig({
      name: 'Writer',
      type: 'llm',
      quota: { tokens: 40, costUsd: 0.5 },
    });
    expect((await kit.agentFactory.getAgentConfig(config.id)).quota).toEqual({ tokens: 40, costUsd: 0.5 });
    kit.agentFactory.registerAgentType('llm', llm);
    expect((await kit.agentFactory.createAgent(config.id)).quota).toEqual({ tokens: 40, costUsd: 0.5 });
    // A quota without a limit is none; the agent of such a config says so (null).
    const free = await kit.agentFactory.createAgentConfig({ name: 'Free', type: 'llm', quota: {} });
    expect((await kit.agentFactory.getAgentConfig(free.id)).quota).toBeUndefined();
    expect((await kit.agentFactory.createAgent(free.id)).quota).toBeNull();
  });

  it('refuses a malformed quota with INVALID_ARGUMENT', async () => {
    const kit = setup();
    const create = (quota: unknown) =>
      kit.agentFactory.createAgentConfig({ name: 'W', type: 'llm', quota: quota as Quota });
    await expect(create({ tokens: -1 })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: 'Expected `quota.tokens` to be a number >= 0, got -1',
    });
    await expect(create({ tokens: 5, onExceeded: 'pause' })).rejects.toThrow(
      'Expected `quota` to have only tokens and costUsd, got onExceeded (a spent quota fails the task)',
    );
    await expect(create(7)).rejects.toThrow('Expected `quota` to be an object, got 7');
  });

  it("ends the tasks that would start once the config's quota is spent BUDGET_EXCEEDED, not retried", async () => {
    const kit = setup();
    const config = await configWith(kit, 'Writer', { tokens: 40 });
    // 0, 17 and 34 tokens spent are below 40: three run; at 51 the others are refused once each.
    expect(await runOn(kit, config.id, 5)).toEqual([completed, completed, completed, refused, refused]);
  });

  // Found in an earlier session's notes: an agent built by hand (a custom resolveAgent) that names
  // its config but not the quota escaped the config's quota.
  it("holds an agent built by hand that names its config to the config's stored quota", async () => {
    const kit = setup();
    const config = await configWith(kit, 'Writer', { tokens: 40 });
    const byHand: Agent = { id: 'hand-built', configId: config.id, ...llm() };
    const ids: string[] = [];
    for (let i = 0; i < 5; i += 1) ids.push((await kit.taskManager.createTask({ name: `h${i}` })).id);
    for (const id of ids) await kit.executor.executeTask(id, byHand);
    await flush();
    expect(outcomes(await tasksOf(kit, ids))).toEqual([completed, completed, completed, refused, refused]);
    // Saying it has none (as the factory's agents of a config without a quota do) is taken at its word.
    const free: Agent = { id: 'hand-built-free', configId: config.id, quota: null, ...llm() };
    const more = (await kit.taskManager.createTask({ name: 'free' })).id;
    await kit.executor.executeTask(more, free);
    await flush();
    expect(outcomes(await tasksOf(kit, [more]))).toEqual([completed]);
  });

  it('applies the engine option and the config quota both: limit by limit the smaller', async () => {
    const kit = setup({ quotas: { 'id-1': { tokens: 20 }, 'id-2': { tokens: 100 } } });
    const tight = await configWith(kit, 'Tight', { tokens: 40 });
    const loose = await configWith(kit, 'Loose', { tokens: 40 });
    expect([tight.id, loose.id]).toEqual(['id-1', 'id-2']);
    // The option's 20 tokens is below the config's 40: two run.
    expect(await runOn(kit, tight.id, 4)).toEqual([completed, completed, refused, refused]);
    // The option's 100 tokens is above the config's 40: the config's holds, three run.
    expect(await runOn(kit, loose.id, 4)).toEqual([completed, completed, completed, refused]);
  });
});

/** A second store object over the same data as `make()`'s (a new file handle, a new pool). */
type Pair = () => [Store, Store];

const sqlitePair: Pair = () => {
  const path = join(mkdtempSync(join(tmpdir(), 'symphony-quota-')), 'q.db');
  return [new SqliteStore({ path }), new SqliteStore({ path })];
};

const postgresPair: Pair = () => {
  const schema = nextSchema();
  const open = () => new PostgresStore({ connectionString: PG_URL, schema, poolSize: 2 });
  return [open(), open()];
};

/**
 * One engine creates a config with a quota and submits its tasks (`enqueueTasks`); another, a
 * worker that never saw the config, runs them with its default agents (from the stored configs).
 */
function workerSuite(pair: Pair): void {
  it('a worker that did not create the config enforces its stored quota', async () => {
    const [submitterStore, workerStore] = pair();
    const clock = createTestClock();
    const io = new StoreIo();
    const submitter = createTestRegistry({
      clock,
      idGenerator: sequentialIds('s-'),
      controlPollMs: 0,
      store: io.track(submitterStore),
    });
    const worker = createTestRegistry({
      clock,
      idGenerator: sequentialIds('w-'),
      controlPollMs: 0,
      maxConcurrency: 1,
      retry: { maxAttempts: 3, initialDelayMs: 0 },
      store: io.track(workerStore),
    });
    try {
      const config = await submitter.agentFactory.createAgentConfig({
        name: 'Writer',
        type: 'llm',
        quota: { tokens: 40 },
      });
      const ids: string[] = [];
      for (let i = 0; i < 5; i += 1) ids.push((await submitter.taskManager.createTask({ name: `t${i}` })).id);
      await submitter.executor.enqueueTasks(ids.map((id) => [id, config.id] as const));
      worker.agentFactory.registerAgentType('llm', llm);
      const handle = await worker.registry.startWorker({ pollMs: 100 });
      const settled = async () =>
        (await tasksOf(submitter, ids)).every((task) => ['COMPLETED', 'FAILED'].includes(task.status));
      for (let step = 0; step < 200 && !(await settled()); step += 1) await io.advance(clock, 100);
      const tasks = await tasksOf(submitter, ids);
      // One slot: in claim order, three run (0, 17, 34 < 40) and two are refused without retries.
      expect(outcomes(tasks).sort((a, b) => a.status.localeCompare(b.status))).toEqual([
        completed,
        completed,
        completed,
        refused,
        refused,
      ]);
      expect(
        tasks.filter((task) => task.status === 'FAILED').every((task) => task.agentId === config.id),
      ).toBe(true);
      await handle.stop();
    } finally {
      await io.stopNow(worker.registry, clock);
      await io.stopNow(submitter.registry, clock);
    }
  }, 60_000);
}

describe('agent config quotas across engines (sqlite store)', () => workerSuite(sqlitePair));
describePostgres('agent config quotas across engines (postgres store)', () => {
  afterAll(dropTestSchemas);
  workerSuite(postgresPair);
});
