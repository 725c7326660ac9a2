/**
 * What budget and quota checks cost and see (docs/policies.md "Budgets", Cost and Overshoot): the
 * check reads a key's spend from the store at most once per control poll and counts the engine's
 * own usage as it commits it, so a run of N tasks reads the store a handful of times, not N; another
 * engine's usage is seen once the poll interval has passed. On every store; time is simulated.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { getWorkflowSpend, type Agent, type Store, type Task } from '../../src/index.js';
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
import { StoreIo } from '../support/store-kit.js';

/** Every attempt reports 17 tokens, as the AI SDK agent reports its usage in `outputData`. */
const llm = (): Pick<Agent, 'execute'> => ({
  execute: async (task) => ({
    text: task.name,
    usage: { inputTokens: 12, outputTokens: 5, totalTokens: 17 },
  }),
});

/** How many times the store was asked for a workflow's tasks and for an agent key's. */
interface Reads {
  byWorkflow: Map<string, number>;
  byAgent: Map<string, number>;
}

/** `store` with its `tasks.find` calls counted by the key of their `where`. */
function countingFinds(store: Store): { store: Store; reads: Reads } {
  const reads: Reads = { byWorkflow: new Map(), byAgent: new Map() };
  const bump = (counts: Map<string, number>, key: unknown) => {
    if (typeof key === 'string') counts.set(key, (counts.get(key) ?? 0) + 1);
  };
  const find: Store['tasks']['find'] = (query) => {
    const where = (query?.where ?? {}) as Partial<Task>;
    bump(reads.byWorkflow, where.workflowId);
    bump(reads.byAgent, where.agentId);
    return store.tasks.find(query);
  };
  const tasks = new Proxy(store.tasks, {
    get: (target, key) => (key === 'find' ? find : Reflect.get(target, key, target)),
  });
  return {
    store: new Proxy(store, {
      get: (target, key) => (key === 'tasks' ? tasks : Reflect.get(target, key, target)),
    }),
    reads,
  };
}

const POLL_MS = 1_000;
const TASKS = 500;
const ROUNDS = 5;

describeEveryStore('budget and quota checks', (backend) => {
  it(`run ${TASKS} tasks under a quota and a budget reading the spends once per poll, not once per attempt`, async () => {
    const counted = countingFinds(backend().store);
    const io = new StoreIo();
    const clock = createTestClock();
    const kit = createTestRegistry({ clock, controlPollMs: POLL_MS, store: io.track(counted.store) });
    try {
      kit.agentFactory.registerAgentType('llm', llm);
      const config = await kit.agentFactory.createAgentConfig({
        name: 'Writer',
        type: 'llm',
        maxConcurrency: 10,
        quota: { tokens: 1_000_000 },
      });
      const agent = await kit.agentFactory.createAgent(config.id);
      const workflow = await kit.workflowTracker.createWorkflow({
        name: 'budgeted',
        metadata: { budget: { tokens: 1_000_000 } },
      });
      const ids: string[] = [];
      for (let i = 0; i < TASKS; i += 1) {
        ids.push((await kit.taskManager.createTask({ name: `t${i}`, workflowId: workflow.id })).id);
      }
      const before = {
        workflow: counted.reads.byWorkflow.get(workflow.id) ?? 0,
        agent: counted.reads.byAgent.get(config.id) ?? 0,
      };
      // Rounds of 100 with a poll interval between them: each round may read each spend again.
      const perRound = TASKS / ROUNDS;
      for (let round = 0; round < ROUNDS; round += 1) {
        const pairs = ids.slice(round * perRound, (round + 1) * perRound).map((id) => [id, agent] as const);
        const results = await kit.executor.batchExecute(pairs, { maxConcurrent: 10 });
        expect(results.every((result) => result.status === 'COMPLETED')).toBe(true);
        await io.advance(clock, POLL_MS);
      }
      const workflowReads = (counted.reads.byWorkflow.get(workflow.id) ?? 0) - before.workflow;
      const agentReads = (counted.reads.byAgent.get(config.id) ?? 0) - before.agent;
      // Read per attempt, that is 500 each; per poll, at most one a round (and the engine's own reads
      // of the workflow's tasks, a few).
      expect(agentReads).toBeGreaterThan(0);
      expect(agentReads).toBeLessThanOrEqual(ROUNDS + 1);
      expect(workflowReads).toBeLessThanOrEqual(2 * ROUNDS + 2);
      // The spend counted is the spend stored.
      const spent = await getWorkflowSpend(kit.registry, workflow.id);
      expect(spent.spend.tokens).toBe(TASKS * 17);
    } finally {
      await io.stopNow(kit.registry, clock);
    }
  }, 120_000);
});

/** Two store objects over the same data (a new file handle, a new pool). */
type Pair = () => [Store, Store];

const sqlitePair: Pair = () => {
  const path = join(mkdtempSync(join(tmpdir(), 'symphony-spend-')), 's.db');
  return [new SqliteStore({ path }), new SqliteStore({ path })];
};

const postgresPair: Pair = () => {
  const schema = nextSchema();
  const open = () => new PostgresStore({ connectionString: PG_URL, schema, poolSize: 2 });
  return [open(), open()];
};

/** Runs one new task on the config's agent in `kit`; its status and last error code. */
async function runOne(kit: TestRegistry, configId: string, io: StoreIo) {
  const agent = await kit.agentFactory.createAgent(configId);
  const task = await kit.taskManager.createTask({ name: 'one' });
  await kit.executor.executeTask(task.id, agent);
  await io.settle();
  const stored = await kit.taskManager.getTask(task.id);
  return { status: stored.status, code: stored.errors.at(-1)?.code ?? null };
}

function twoEngines(pair: Pair): void {
  it("an engine sees another's usage of a shared quota once the poll interval passed, and refuses", async () => {
    const [storeA, storeB] = pair();
    const clock = createTestClock();
    const io = new StoreIo();
    const engine = (prefix: string, store: Store) =>
      createTestRegistry({
        clock,
        idGenerator: sequentialIds(prefix),
        controlPollMs: POLL_MS,
        retry: { maxAttempts: 3, initialDelayMs: 0 },
        store: io.track(store),
      });
    const a = engine('a-', storeA);
    const b = engine('b-', storeB);
    try {
      a.agentFactory.registerAgentType('llm', llm);
      b.agentFactory.registerAgentType('llm', llm);
      const config = await a.agentFactory.createAgentConfig({
        name: 'Writer',
        type: 'llm',
        quota: { tokens: 100 },
      });
      const completed = { status: 'COMPLETED', code: null };
      // B reads the spend (nothing yet) and spends 17.
      expect(await runOne(b, config.id, io)).toEqual(completed);
      // A reads 17 and spends 5 x 17 more: 102 tokens, past the quota.
      for (let i = 0; i < 5; i += 1) expect(await runOne(a, config.id, io)).toEqual(completed);
      expect(await runOne(a, config.id, io)).toEqual({ status: 'FAILED', code: 'BUDGET_EXCEEDED' });
      // Within the poll interval B still counts its own 17 (the overshoot docs/policies.md bounds).
      expect(await runOne(b, config.id, io)).toEqual(completed);
      await io.advance(clock, POLL_MS);
      // Past it, B reads the store again: 119 of 100 tokens.
      expect(await runOne(b, config.id, io)).toEqual({ status: 'FAILED', code: 'BUDGET_EXCEEDED' });
    } finally {
      await io.stopNow(b.registry, clock);
      await io.stopNow(a.registry, clock);
    }
  }, 60_000);
}

describe('a quota shared by two engines (sqlite store)', () => twoEngines(sqlitePair));
describePostgres('a quota shared by two engines (postgres store)', () => {
  afterAll(dropTestSchemas);
  twoEngines(postgresPair);
});
