import { describe, expect, it } from 'vitest';
import { MemoryStore, ServiceRegistry } from '../../../src/index.js';
import { createTestClock, flushEngine, manualAgent } from '../../../src/testing/index.js';
import { expectConsistent, queueEntries, runtimeOf } from './kit.js';

/** A small deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Random sequences of everything that moves an execution in or out of its queue (pause, resume,
// a workflow's pause and resume, cancel, attempts that succeed or fail, retries coming due,
// timeouts, new executions and batches), with the invariant checked after every step: queued in
// the dispatcher <=> PENDING.ready, and the executor's counts equal to the live phases.
async function run(seed: number, steps: number) {
  const random = prng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const clock = createTestClock(1_000_000);
  const registry = new ServiceRegistry({
    store: new MemoryStore(),
    clock,
    controlPollMs: 0,
    random: () => 0.5,
    maxConcurrency: 3,
    retry: { maxAttempts: 3, initialDelayMs: 50, backoffFactor: 1, jitter: 0 },
  });
  const executor = registry.getEnhancedExecutor();
  const runtime = await runtimeOf(executor);
  const tasks = registry.getTaskManager();
  const tracker = registry.getWorkflowTracker();
  const workflows = [
    await tracker.createWorkflow({ name: 'w1' }),
    await tracker.createWorkflow({ name: 'w2' }),
  ];
  const agents = [manualAgent('a', { maxConcurrency: 2 }), manualAgent('b', { maxConcurrency: 1 })];
  const ids: string[] = [];
  const log: string[] = [];
  const settle = (promise: Promise<unknown>) => promise.catch(() => {});
  for (let step = 0; step < steps; step += 1) {
    const r = random();
    const workflow = pick(workflows);
    try {
      if (r < 0.15 || ids.length < 3) {
        const task = await tasks.createTask({ name: `t${ids.length}`, workflowId: workflow.id });
        ids.push(task.id);
        const timeoutMs = random() < 0.2 ? 30 : 0;
        log.push(`execute ${task.id}`);
        void settle(executor.executeTask(task.id, pick(agents), workflow.id, { timeoutMs }));
      } else if (r < 0.2) {
        const batch: string[] = [];
        for (let i = 0; i < 3; i += 1)
          batch.push((await tasks.createTask({ name: `b${ids.length + i}` })).id);
        ids.push(...batch);
        log.push(`batch ${batch.join(',')}`);
        void settle(
          executor.batchExecute(
            batch.map((id) => [id, pick(agents)] as const),
            { maxConcurrent: 1 },
          ),
        );
      } else if (r < 0.3) {
        const id = pick(ids);
        log.push(`pause ${id}`);
        await tasks.pauseTask(id);
      } else if (r < 0.4) {
        const id = pick(ids);
        log.push(`resume ${id}`);
        await tasks.resumeTask(id);
      } else if (r < 0.47) {
        log.push(`pauseWorkflow ${workflow.id}`);
        await tracker.pauseWorkflow(workflow.id);
      } else if (r < 0.55) {
        log.push(`resumeWorkflow ${workflow.id}`);
        await tracker.resumeWorkflow(workflow.id);
      } else if (r < 0.6) {
        const id = pick(ids);
        log.push(`cancel ${id}`);
        await tasks.cancelTask(id);
      } else if (r < 0.75) {
        const agent = pick(agents);
        if (agent.waiting.length > 0) {
          log.push(`resolve ${agent.id}`);
          agent.resolveNext('ok');
        }
      } else if (r < 0.88) {
        const agent = pick(agents);
        if (agent.waiting.length > 0) {
          log.push(`reject ${agent.id}`);
          agent.rejectNext(new Error('transient'));
        }
      } else {
        const ms = pick([10, 30, 50, 100]);
        log.push(`advance ${ms}`);
        clock.increment(ms);
      }
    } catch (error) {
      const code = (error as { code?: string }).code;
      // Refused commands (a RUNNING task paused, a workflow resumed that is not paused, ...).
      if (code !== 'INVALID_STATE') throw error;
    }
    await flushEngine();
    try {
      await expectConsistent(runtime);
    } catch (error) {
      throw new Error(`seed ${seed}, after step ${step}:\n${log.slice(-12).join('\n')}\n${String(error)}`);
    }
  }
  const live = runtime.live.all().length;
  const entries = queueEntries(runtime);
  await registry.stop({ graceMs: 0 }).catch(() => {});
  return { live, entries };
}

describe('review: random sequences keep queue and counts in step with the task machines', () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`seed ${seed}`, async () => {
      const { live } = await run(seed, 150);
      expect(live).toBeGreaterThanOrEqual(0);
    });
  }
});
