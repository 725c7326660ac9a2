/**
 * Rate limits of an agent defined in code only (no stored agent config), across workers (docs/policies.md
 * "Rate limits", issue 14): each worker records the limits of the agents it runs in the store
 * (`Store.saveAgentRateLimits`), so claims leave the agent's tasks in the store while its buckets
 * hold no token for them, as they do for a config's. Two workers (two engines on one PostgreSQL
 * schema, one slot each, tasks of 100 ms) share the agent, limited to 2 requests a second: by the
 * agents' own log, no window holds more starts than the limit allows, and no task starts while one
 * of higher priority queued before it waits (before, each worker held a claimed task waiting for a
 * token, and a late urgent task waited behind them). Time is simulated.
 */
import { afterAll, expect, it } from 'vitest';
import type { Agent } from '../../src/domain/agent.js';
import type { WorkerHandle } from '../../src/engine/worker.js';
import { describePostgres, dropTestSchemas } from '../repositories/pg-helpers.js';
import { enginesOnPostgres } from '../support/pg-engines.js';
import { windowsOverLimit } from '../support/rate-law.js';

describePostgres('rate limits of an agent defined in code, across two workers on PostgreSQL', () => {
  afterAll(dropTestSchemas);

  it('claims honour its limits: windows never exceeded, tokens in priority order', async () => {
    const { clock, io, engines } = enginesOnPostgres(2, { maxConcurrency: 1 });
    const starts: Array<{ name: string; at: number }> = [];
    const agentOf = (): Agent => ({
      id: 'coded',
      maxConcurrency: 10,
      rateLimits: [{ requests: 2, per: 1_000 }],
      async execute(task) {
        starts.push({ name: task.name, at: clock.now() });
        await new Promise<void>((resolve) => clock.setTimeout(() => resolve(), 100));
        return task.name;
      },
    });
    const queuedAt = new Map<string, { priority: number; at: number }>();
    const queue = async (name: string, priority: number) => {
      const task = await engines[0]!.taskManager.createTask({ name, priority });
      await engines[0]!.executor.enqueueTask(task.id, 'coded');
      queuedAt.set(name, { priority, at: clock.now() });
    };
    for (let p = 1; p <= 8; p += 1) await queue(`p${p}`, p);
    const workers: WorkerHandle[] = [];
    for (const kit of engines)
      workers.push(await kit.registry.startWorker({ agents: [agentOf()], pollMs: 60_000 }));
    const done = async () =>
      (await engines[0]!.registry.getRepository('tasks').find({ where: { status: 'COMPLETED' } })).length ===
      queuedAt.size;
    for (let step = 0; step < 200 && !(await done()); step += 1) {
      if (clock.now() === 750) await queue('p20', 20);
      await io.advance(clock, 50);
    }
    expect(await done()).toBe(true);
    for (const worker of workers) await worker.stop();
    await Promise.all(engines.map((kit) => kit.stop()));

    expect(starts).toHaveLength(9);
    expect(
      windowsOverLimit(
        starts.map((s) => s.at),
        2,
        1_000,
      ),
    ).toEqual([]);
    // Each token went to the highest priority waiting: none started while a higher one queued
    // before it waited.
    const startOf = new Map(starts.map((s) => [s.name, s.at]));
    for (const { name, at } of starts) {
      const { priority } = queuedAt.get(name)!;
      const passedOver = [...queuedAt].filter(
        ([other, q]) => q.priority > priority && q.at <= at && startOf.get(other)! > at,
      );
      expect(passedOver, `${name} started at ${at}`).toEqual([]);
    }
    // At the limit's rate: 2 at once, then one every 500 ms.
    expect(Math.max(...starts.map((s) => s.at))).toBeLessThanOrEqual(3_500);
  }, 120_000);
});
