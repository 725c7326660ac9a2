/**
 * Events from the store with several engines (issue 15): engines on one store run tasks at once
 * (their commits interleave, on PostgreSQL in concurrent transactions) while a reader on another
 * handle follows the stream with `watchEvents`. It sees every event once, each engine's events those
 * it published, each task's in the order they were published, on every store; on a store with one
 * commit lane (memory, SQLite) each engine's in the very order it published them. (On PostgreSQL
 * two commits of one engine may be in flight at once, writing no common task: whichever lands
 * first is read first, while the engine's listeners hear them in the order they were taken.)
 */
import { expect, it } from 'vitest';
import type { Agent, ServiceRegistry } from '../../src/index.js';
import type { StoredEvent } from '../../src/engine/stored-events.js';
import { describeEveryStore, useEngines } from './backends.js';

const ENGINES = 3;
const TASKS = 12;

/** Fails the first attempt of every third task, so that retries interleave with completions. */
const agent: Agent = {
  id: 'mixed',
  execute: async (task, context) => {
    if (Number(task.name.split(' ')[1]) % 3 === 0 && context.attempt === 1) throw new Error('once');
    return { by: task.name };
  },
};

describeEveryStore('stored events of concurrent engines', (backend) => {
  const engine = useEngines();

  // The task events (agent.load rows, one a commit at most, depend on how batches fall).
  const NAMES = ['task.created', 'task.started', 'task.attemptFailed', 'task.completed'] as const;

  it('reach a reader following the cursor once each, in each engine’s order', async () => {
    const { store, reopen } = backend();
    const writers: ServiceRegistry[] = [];
    const published = new Map<string, unknown[]>();
    for (let i = 0; i < ENGINES; i += 1) {
      const engineId = `writer-${i}`;
      // Each engine on a handle of its own (its own connections), which it opens and closes.
      const registry = engine(i === 0 ? store : reopen(), {
        engineId,
        retry: { maxAttempts: 2, initialDelayMs: 0, jitter: 0 },
      });
      published.set(engineId, []);
      for (const name of NAMES)
        registry.on(name, (payload) => published.get(engineId)!.push({ name, payload }));
      writers.push(registry);
    }
    const reader = engine(reopen(), { engineId: 'reader' });
    const expected = ENGINES * TASKS * 3 + ENGINES * Math.ceil(TASKS / 3) * 2;
    const seen: StoredEvent[] = [];
    const controller = new AbortController();
    const following = (async () => {
      for await (const event of reader.watchEvents({
        pollMs: 5,
        signal: controller.signal,
        names: [...NAMES],
      })) {
        seen.push(event);
        if (seen.length === expected) controller.abort();
      }
    })();
    try {
      await Promise.all(
        writers.map(async (registry) => {
          const manager = registry.getTaskManager();
          const ids: string[] = [];
          for (let t = 0; t < TASKS; t += 1) ids.push((await manager.createTask({ name: `task ${t}` })).id);
          const results = await registry.getEnhancedExecutor().batchExecute(
            ids.map((id) => [id, agent] as const),
            { maxConcurrent: 4 },
          );
          expect(results.every((result) => result.status === 'COMPLETED')).toBe(true);
        }),
      );
      await following;
      expect(new Set(seen.map((event) => event.cursor)).size).toBe(expected);
      const taskOf = (event: unknown) => (event as { payload: { taskId: string } }).payload.taskId;
      const sorted = (events: unknown[]) => events.map((event) => JSON.stringify(event)).sort();
      for (const [engineId, events] of published) {
        const stored = seen
          .filter((event) => event.engineId === engineId)
          .map((event) => ({ name: event.name, payload: event.payload }));
        if ((store.commitLanes ?? 1) === 1) expect(stored).toEqual(events);
        expect(sorted(stored)).toEqual(sorted(events));
        for (const taskId of new Set(events.map(taskOf)))
          expect(stored.filter((event) => taskOf(event) === taskId)).toEqual(
            events.filter((event) => taskOf(event) === taskId),
          );
      }
      // Nothing more comes.
      const after = await reader.readEvents({ after: seen.at(-1)!.cursor, names: [...NAMES] });
      expect(after.events).toEqual([]);
    } finally {
      controller.abort();
      await following;
    }
  });
});
