/**
 * W8 (run on its own: `npx tsx bench/workloads/rate-limit.ts [tasks] [perSecond]`): 100 fairness
 * keys and a rate limit on one agent. Half the tasks go to one unlimited agent, spread over 100
 * fairness keys (`concurrencyKey`, at most 2 running per key), half to one agent limited to
 * `perSecond` requests a second (bucket capacity = perSecond), also keyed; all queued at once on the
 * memory store with the system clock. The figures: the limited agent's starts per second in steady
 * state against its limit (it must run at the limit's rate, not below), and the keyed agent's
 * finish time (the rate limit must not hold it back).
 */
import { MemoryStore, ServiceRegistry, type Agent } from '../../src/index.js';

export interface RateLimitFigures {
  limit: number;
  /** Starts per second of the limited agent in steady state: over its last half of starts (the bucket long empty). */
  achieved: number;
  /** Wall ms until every unlimited task finished. */
  othersMs: number;
  limitedMs: number;
}

export async function measureRateLimit(
  limitedTasks = 2_000,
  perSecond = 500,
  keys = 100,
): Promise<RateLimitFigures> {
  const registry = new ServiceRegistry({
    store: new MemoryStore(),
    maxConcurrency: 100,
    retry: { maxAttempts: 1 },
  });
  const tasks = registry.getTaskManager();
  const executor = registry.getEnhancedExecutor();
  const starts: number[] = [];
  const limited: Agent = {
    id: 'limited',
    maxConcurrency: 100,
    rateLimits: [{ requests: perSecond, per: 1_000 }],
    execute: async () => void starts.push(performance.now()),
  };
  const keyed: Agent = { id: 'keyed', maxConcurrency: 100, execute: async () => null };
  const pairs: Array<{ taskId: string; agent: Agent; key: string }> = [];
  for (let i = 0; i < limitedTasks; i += 1) {
    const key = `customer-${i % keys}`;
    pairs.push({ taskId: (await tasks.createTask({ name: `l${i}` })).id, agent: limited, key });
    pairs.push({ taskId: (await tasks.createTask({ name: `o${i}` })).id, agent: keyed, key });
  }
  const t0 = performance.now();
  let othersDone = 0;
  const runs = pairs.map(({ taskId, agent, key }) => {
    const run = executor.executeTask(taskId, agent, undefined, { concurrencyKey: key, keyConcurrency: 2 });
    if (agent !== limited) void run.then(() => (othersDone = Math.max(othersDone, performance.now())));
    return run;
  });
  await Promise.all(runs);
  const limitedMs = performance.now() - t0;
  await registry.stop();
  const sorted = starts.sort((a, b) => a - b);
  const from = Math.floor(sorted.length / 2);
  const span = (sorted.at(-1)! - sorted[from]!) / 1_000;
  return {
    limit: perSecond,
    achieved: (sorted.length - 1 - from) / span,
    othersMs: othersDone - t0,
    limitedMs,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [tasks, perSecond] = process.argv.slice(2).map(Number);
  const figures = await measureRateLimit(tasks || undefined, perSecond || undefined);
  console.log(JSON.stringify(figures));
}
