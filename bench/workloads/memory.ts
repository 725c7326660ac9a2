import type { Agent } from '../../src/index.js';
import { createTasks, openSymphony, type SymphonyStore } from '../contenders/symphony.js';
import { forceGc } from '../services.js';
import type { Figures } from '../types.js';

const heapUsed = (): number => process.memoryUsage().heapUsed;
const tick = () => new Promise((resolve) => setImmediate(resolve));

/**
 * W4 on one store: one workflow of `tasks` tasks run by `batchExecute` at concurrency 100.
 * - peak heap: heapUsed sampled every 500 task starts (no forced GC), in MB;
 * - growth per finished task: the slope of the collected heap between the task that starts at 25 %
 *   and the one at 75 % of the run (GC forced at both points), in bytes;
 * - retained per task: collected heap after the run, with the results released, minus before;
 * - results per task: what the returned ExecutionResult array holds, per task;
 * - in flight: a second engine with 1,000 slots runs 1,000 tasks whose agents block (after a first
 *   batch of 100 warmed it up); collected heap with all of them running, minus before
 *   `batchExecute`, per task.
 */
export async function measureMemory(kind: SymphonyStore, tasks: number): Promise<Figures> {
  const figures: Figures = {};
  const engine = await openSymphony(kind, 100);
  try {
    const registry = engine.registry;
    const workflow = await registry.getWorkflowTracker().createWorkflow({ name: 'bench W4' });
    const ids = await createTasks(registry, tasks, workflow.id);
    const quarter = Math.max(1, Math.floor(tasks / 4));
    const threeQuarters = Math.max(quarter + 1, Math.floor((3 * tasks) / 4));
    const marks: Array<{ heap: number; finished: number }> = [];
    let started = 0;
    let finished = 0;
    let peak = 0;
    const agent: Agent = {
      id: 'bench-w4',
      async execute() {
        started += 1;
        if (started % 500 === 0) peak = Math.max(peak, heapUsed());
        if (started === quarter || started === threeQuarters) {
          forceGc();
          marks.push({ heap: heapUsed(), finished });
        }
        finished += 1;
        return null;
      },
    };
    const pairs = ids.map((id) => [id, agent] as const);
    const executor = registry.getEnhancedExecutor();
    forceGc();
    const before = heapUsed();
    // In a function of its own, so that no frame of this one keeps the results array alive.
    const run = async () => {
      const t0 = performance.now();
      const results = await executor.batchExecute(pairs, { workflowId: workflow.id, maxConcurrent: 100 });
      const ms = performance.now() - t0;
      peak = Math.max(peak, heapUsed());
      forceGc();
      const completed = results.filter((result) => result.status === 'COMPLETED').length;
      return { ms, completed, withResults: heapUsed() };
    };
    const { ms, completed, withResults } = await run();
    figures.completed = completed;
    forceGc();
    const after = heapUsed();
    figures.tasksPerSec = tasks / (ms / 1000);
    figures.baseHeapMB = before / 2 ** 20;
    figures.peakHeapMB = peak / 2 ** 20;
    const [first, last] = marks;
    figures.growthPerFinishedB =
      first && last && last.finished > first.finished
        ? (last.heap - first.heap) / (last.finished - first.finished)
        : Number.NaN;
    figures.heapAtQuarterMB = first ? first.heap / 2 ** 20 : Number.NaN;
    figures.heapAtThreeQuartersMB = last ? last.heap / 2 ** 20 : Number.NaN;
    figures.retainedPerTaskB = (after - before) / tasks;
    figures.resultsPerTaskB = (withResults - after) / tasks;
  } finally {
    await engine.close();
  }
  figures.inFlightB = await measureInFlight(kind, Math.min(1000, tasks));
  return figures;
}

/** Heap per running task: `count` tasks all in flight at once, their agents blocked. */
async function measureInFlight(kind: SymphonyStore, count: number): Promise<number> {
  const engine = await openSymphony(kind, count);
  try {
    const ids = await createTasks(engine.registry, count);
    let release: () => void = () => {};
    let gate = new Promise<null>((resolve) => (release = () => resolve(null)));
    const first = gate;
    let running = 0;
    let allRunning: () => void = () => {};
    const everyoneIn = new Promise<void>((resolve) => (allRunning = resolve));
    const agent: Agent = {
      id: 'bench-blocked',
      execute() {
        running += 1;
        if (running === count && gate !== first) allRunning();
        return gate;
      },
    };
    const executor = engine.registry.getEnhancedExecutor();
    // A first batch, so that compiled code and grown tables are not counted as per-task heap.
    const warm = executor.batchExecute(
      (await createTasks(engine.registry, Math.min(100, count))).map((id) => [id, agent] as const),
      { maxConcurrent: count },
    );
    while (running < Math.min(100, count)) await tick();
    release();
    await warm;
    running = 0;
    gate = new Promise<null>((resolve) => (release = () => resolve(null)));
    const pairs = ids.map((id) => [id, agent] as const);
    forceGc();
    const before = heapUsed();
    const run = executor.batchExecute(pairs, { maxConcurrent: count });
    await everyoneIn;
    await tick();
    await tick();
    forceGc();
    const during = heapUsed();
    release();
    await run;
    return (during - before) / count;
  } finally {
    await engine.close();
  }
}
