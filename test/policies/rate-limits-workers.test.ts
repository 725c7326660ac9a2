/**
 * Rate limits across workers (docs/policies.md "Rate limits", issue 14): claims leave the tasks of a
 * rate-limited agent config or key in the store while its buckets hold no token for them, so when a
 * token frees up the highest-priority task anywhere in the cluster gets it, whichever worker claims.
 * Two workers (two engines on one PostgreSQL schema, one slot each, tasks of 1.5 s) share an agent
 * limited to 1 request a second; a task queued late with the highest priority takes the next token.
 * Time is simulated and moves only once both engines' store calls are answered.
 */
import { afterAll, expect, it } from 'vitest';
import type { Agent } from '../../src/domain/agent.js';
import type { RateLimit } from '../../src/domain/rate-limit.js';
import type { ExecuteOptions } from '../../src/engine/execution.js';
import type { WorkerHandle } from '../../src/engine/worker.js';
import { describePostgres, dropTestSchemas } from '../repositories/pg-helpers.js';
import { enginesOnPostgres } from '../support/pg-engines.js';
import { windowsOverLimit } from '../support/rate-law.js';

interface Start {
  name: string;
  at: number;
  engine: number;
}

/**
 * Two workers on one schema; `queue(name, priority)` enqueues a task of the limited agent config
 * (`options` for its plan: a fairness key, say). Runs until every task queued is COMPLETED in the
 * store, the clock stepped 250 ms at a time; `at(ms, fn)` runs `fn` once the clock reaches `ms`.
 */
async function twoWorkers(
  limits: { agent?: RateLimit[]; options?: Partial<ExecuteOptions> },
  queued: Array<[string, number]>,
  late: { at: number; tasks: Array<[string, number]> },
): Promise<Start[]> {
  const { clock, io, engines } = enginesOnPostgres(2, { maxConcurrency: 1 });
  const config = await engines[0]!.agentFactory.createAgentConfig({
    name: 'Writer',
    type: 'llm',
    maxConcurrency: 10,
    ...(limits.agent ? { rateLimits: limits.agent } : {}),
  });
  const starts: Start[] = [];
  const agentOf = (engine: number): Agent => ({
    id: config.id,
    maxConcurrency: 10,
    ...(limits.agent ? { rateLimits: limits.agent } : {}),
    async execute(task) {
      starts.push({ name: task.name, at: clock.now(), engine });
      // Each task holds its engine's one slot for 1.5 s: the next token goes to the other worker.
      await new Promise<void>((resolve) => clock.setTimeout(() => resolve(), 1_500));
      return task.name;
    },
  });
  const queue = async ([name, priority]: [string, number]) => {
    const task = await engines[0]!.taskManager.createTask({ name, priority });
    await engines[0]!.executor.enqueueTask(task.id, config.id, limits.options ?? {});
  };
  for (const task of queued) await queue(task);
  const workers: WorkerHandle[] = [];
  for (const [n, kit] of engines.entries()) {
    // Polls seldom: a worker claims again when a slot frees, when woken, or when the claim's rate
    // wait says a token will be there.
    workers.push(await kit.registry.startWorker({ resolveAgent: () => agentOf(n), pollMs: 60_000 }));
  }
  const total = queued.length + late.tasks.length;
  const done = async () =>
    (await engines[0]!.registry.getRepository('tasks').find({ where: { status: 'COMPLETED' } })).length ===
    total;
  for (let step = 0; step < 200 && !(await done()); step += 1) {
    if (clock.now() === late.at) for (const task of late.tasks) await queue(task);
    await io.advance(clock, 250);
  }
  expect(await done()).toBe(true);
  for (const worker of workers) await worker.stop();
  await Promise.all(engines.map((kit) => kit.stop()));
  return starts;
}

describePostgres('rate limits across two workers on one PostgreSQL store', () => {
  afterAll(dropTestSchemas);

  const queued: Array<[string, number]> = [1, 2, 3, 4, 5, 6].map((p) => [`p${p}`, p]);
  const late = { at: 2_500, tasks: [['p10', 10]] as Array<[string, number]> };
  const order = ['p6', 'p5', 'p4', 'p10', 'p3', 'p2', 'p1'];

  it("grants an agent's tokens in priority order across both workers, at the limit's rate", async () => {
    const starts = await twoWorkers({ agent: [{ requests: 1, per: 1_000 }] }, queued, late);
    expect(starts.map((s) => s.name)).toEqual(order);
    expect(starts.map((s) => s.at)).toEqual([0, 1_000, 2_000, 3_000, 4_000, 5_000, 6_000]);
    expect(
      windowsOverLimit(
        starts.map((s) => s.at),
        1,
        1_000,
      ),
    ).toEqual([]);
    // Both workers ran tasks: the next token went to whichever had a free slot.
    expect(new Set(starts.map((s) => s.engine))).toEqual(new Set([0, 1]));
  }, 120_000);

  it("grants a fairness key's tokens in priority order across both workers", async () => {
    const options = { concurrencyKey: 'acme', keyRateLimits: [{ requests: 1, per: 1_000 }] };
    const starts = await twoWorkers({ options }, queued, late);
    expect(starts.map((s) => s.name)).toEqual(order);
    expect(starts.map((s) => s.at)).toEqual([0, 1_000, 2_000, 3_000, 4_000, 5_000, 6_000]);
    expect(new Set(starts.map((s) => s.engine))).toEqual(new Set([0, 1]));
  }, 120_000);
});
