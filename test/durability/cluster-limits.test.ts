import { expect, it } from 'vitest';
import type { ServiceRegistry, Store } from '../../src/index.js';
import { until } from '../support/wait.js';
import { describeEveryStore, useEngines } from './backends.js';

// Issue 13, cluster-wide limits: an agent config's maxConcurrency holds across all workers on a
// store (counted in the store, not per process).

interface LogEntry {
  event: 'start' | 'end';
  worker: string;
  taskId: string;
}

/** The most runs that were between their start and their end at once, by the agent's own log. */
function mostAtOnce(log: readonly LogEntry[]): number {
  let running = 0;
  let most = 0;
  for (const entry of log) {
    running += entry.event === 'start' ? 1 : -1;
    most = Math.max(most, running);
  }
  return most;
}

/** Registers the agent type `logged`: each run logs its start, awaits a few milliseconds, logs its end. */
function registerLoggedAgent(registry: ServiceRegistry, worker: string, log: LogEntry[]): void {
  registry.getAgentFactory().registerAgentType('logged', () => ({
    async execute(task) {
      log.push({ event: 'start', worker, taskId: task.id });
      await new Promise((resolve) => setTimeout(resolve, 3));
      log.push({ event: 'end', worker, taskId: task.id });
      return { by: worker };
    },
  }));
}

describeEveryStore('cluster-wide agent limits', (backend) => {
  const engine = useEngines();

  it('two workers never run more than an agent config maxConcurrency of 2 at once, together', async () => {
    const b = backend();
    const submitter = engine(b.store);
    const config = await submitter
      .getAgentFactory()
      .createAgentConfig({ name: 'Logged', type: 'logged', maxConcurrency: 2 });
    const manager = submitter.getTaskManager();
    const ids: string[] = [];
    for (let i = 0; i < 40; i += 1) ids.push((await manager.createTask({ name: `job ${i}` })).id);
    await submitter.getEnhancedExecutor().enqueueTasks(ids.map((id) => [id, config.id] as const));

    const log: LogEntry[] = [];
    const workers = await Promise.all(
      ['w1', 'w2'].map(async (name) => {
        // Each engine alone would run 2 of the agent's tasks at once (its own slots): 4 together.
        const registry = engine(b.reopen(), { maxConcurrency: 8, engineId: `engine-${name}` });
        registerLoggedAgent(registry, name, log);
        return registry.startWorker({ pollMs: 10, batchSize: 8 });
      }),
    );
    const completed = (store: Store) => store.tasks.count({ status: 'COMPLETED' });
    await until('40 tasks COMPLETED', async () => (await completed(b.store)) === 40, { timeoutMs: 120_000 });

    expect(
      log
        .filter((e) => e.event === 'start')
        .map((e) => e.taskId)
        .sort(),
    ).toEqual([...ids].sort());
    expect(mostAtOnce(log)).toBeLessThanOrEqual(2);
    expect((await b.store.completions()).map((r) => r.taskId).sort()).toEqual([...ids].sort());
    const stats = workers.map((w) => w.stats());
    expect(stats[0]!.completed + stats[1]!.completed).toBe(40);
    for (const w of workers) await w.stop();
  });
});
