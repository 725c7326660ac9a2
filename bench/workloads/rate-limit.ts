/**
 * W8 (run on its own for now: `npx tsx bench/workloads/rate-limit.ts [tasks] [perSecond]`): 100 keys
 * and a rate limit on one agent. Tasks spread over 100 agents (one per key, unlimited, as keys
 * stand in until fairness keys land) plus one agent limited to `perSecond` requests a second
 * (bucket capacity = perSecond), all queued at once on the memory store with the system clock.
 * The figure: the limited agent's starts per second in steady state, against its limit
 * (it must run at the limit's rate, not below), and the unlimited agents' finish time.
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
  const others: Agent[] = Array.from({ length: keys }, (_, i) => ({
    id: `key-${i}`,
    maxConcurrency: 10,
    execute: async () => null,
  }));
  const pairs: Array<{ taskId: string; agent: Agent }> = [];
  for (let i = 0; i < limitedTasks; i += 1) {
    pairs.push({ taskId: (await tasks.createTask({ name: `l${i}` })).id, agent: limited });
    pairs.push({ taskId: (await tasks.createTask({ name: `o${i}` })).id, agent: others[i % keys]! });
  }
  const t0 = performance.now();
  let othersDone = 0;
  const runs = pairs.map(({ taskId, agent }) => {
    const run = executor.executeTask(taskId, agent);
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
