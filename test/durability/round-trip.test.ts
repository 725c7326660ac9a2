import fc from 'fast-check';
import type { SimulatedClock } from 'xstate';
import { describe, expect, it } from 'vitest';
import {
  MemoryStore,
  NonRetryableError,
  ServiceRegistry,
  type AgentBuilder,
  type CompletionRecord,
  type Store,
  type StoreBatch,
  type StoredCommand,
  type CommandAck,
  type StoredBeat,
  type TaskStatus,
} from '../../src/index.js';
import type { StoredSignal } from '../../src/repositories/store.js';
import { advance, createTestClock, sequentialIds } from '../../src/testing/index.js';
import { stepUntil } from '../support/wait.js';

/**
 * A store that "dies" after `crashAfter` commits: later commits never land and never settle, as
 * when the process is killed. Reads still reach the inner store.
 */
class CrashingStore implements Store {
  readonly kind = 'memory' as const;
  private commits = 0;
  crashed = false;

  constructor(
    private readonly inner: Store,
    private readonly crashAfter: number,
  ) {}

  get tasks() {
    return this.inner.tasks;
  }
  get workflows() {
    return this.inner.workflows;
  }
  get agentConfigs() {
    return this.inner.agentConfigs;
  }
  open(): Promise<void> {
    return this.inner.open();
  }
  commit(batch: StoreBatch): ReturnType<Store['commit']> {
    if (this.commits >= this.crashAfter) {
      this.crashed = true;
      return new Promise(() => {});
    }
    this.commits += 1;
    return this.inner.commit(batch);
  }
  completions(taskId?: string): Promise<CompletionRecord[]> {
    return this.inner.completions(taskId);
  }
  commandsAfter(afterSeq: number, limit?: number): Promise<StoredCommand[]> {
    return this.inner.commandsAfter(afterSeq, limit);
  }
  latestCommandSeq(): Promise<number> {
    return this.inner.latestCommandSeq();
  }
  engineBeats(): Promise<StoredBeat[]> {
    return this.inner.engineBeats();
  }
  commandAcks(commandId: string): Promise<CommandAck[]> {
    return this.inner.commandAcks(commandId);
  }
  claimTasks(ids: readonly string[], engineId: string, from: readonly string[]): Promise<string[]> {
    return this.inner.claimTasks(ids, engineId, from);
  }
  pruneControl(before: number): Promise<void> {
    return this.inner.pruneControl(before);
  }
  signals(workflowId: string, options?: { pending?: boolean }): Promise<StoredSignal[]> {
    return this.inner.signals(workflowId, options);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

interface PlannedTask {
  failTimes: number;
  poison: boolean;
}

/**
 * Works 5 ms of simulated time, then fails `failTimes` real attempts (interruptions do not count),
 * or refuses for good if poisoned.
 */
const plannedAgent =
  (clock: SimulatedClock): AgentBuilder =>
  () => ({
    execute: async (task) => {
      await new Promise((resolve) => clock.setTimeout(resolve, 5));
      const { failTimes, poison, n } = task.inputData as { failTimes: number; poison: boolean; n: number };
      if (poison) throw new NonRetryableError('poisoned input');
      const failures = task.errors.filter((error) => error.code !== 'ATTEMPT_INTERRUPTED').length;
      if (failures < failTimes) throw new Error(`transient failure ${failures + 1}`);
      return { tripled: n * 3 };
    },
  });

function engine(store: Store) {
  const clock = createTestClock(1_000);
  const registry = new ServiceRegistry({
    store,
    clock,
    idGenerator: sequentialIds(`${Math.random().toString(36).slice(2)}-`),
    random: () => 0.5,
    // The recovering engine stands for the crashed one restarted: same id, so it takes its leases back.
    engineId: 'round-trip',
    retry: { maxAttempts: 50, initialDelayMs: 10, maxDelayMs: 40, jitter: 0 },
  });
  registry.getAgentFactory().registerAgentType('planned', plannedAgent(clock));
  return { registry, clock };
}

/** Runs the engine's clock forward until `done` settles (no wall-clock waiting). */
async function drive(clock: SimulatedClock, done: Promise<unknown>, until?: () => boolean) {
  let settled = false;
  void done.then(
    () => (settled = true),
    () => (settled = true),
  );
  await stepUntil(
    'the run to settle',
    () => advance(clock, 10, 2),
    () => settled || (until?.() ?? false),
  );
  return settled;
}

async function setUp(registry: ServiceRegistry, plan: readonly PlannedTask[]) {
  const factory = registry.getAgentFactory();
  const config = await factory.createAgentConfig({ name: 'Planned', type: 'planned', maxConcurrency: 3 });
  const workflow = await registry.getWorkflowTracker().createWorkflow({ name: 'round trip' });
  const ids: string[] = [];
  for (const [n, task] of plan.entries()) {
    const created = await registry
      .getTaskManager()
      .createTask({ name: `t${n}`, inputData: { ...task, n }, workflowId: workflow.id });
    ids.push(created.id);
  }
  return { config, workflow, ids };
}

async function outcome(store: Store, workflowId: string) {
  const tasks = await store.tasks.find({ where: { workflowId } });
  const workflow = await store.workflows.get(workflowId);
  return {
    workflow: workflow?.status,
    tasks: tasks.map((task) => ({
      name: task.name,
      status: task.status as TaskStatus,
      output: task.outputData,
    })),
  };
}

describe('round trip: interrupted and restored equals uninterrupted', () => {
  it('ends every random workflow in the same state, whatever the crash point', async () => {
    let resumedRuns = 0;
    let interruptedAttempts = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ failTimes: fc.integer({ min: 0, max: 3 }), poison: fc.boolean() }), {
          minLength: 1,
          maxLength: 10,
        }),
        fc.integer({ min: 0, max: 8 }),
        fc.integer({ min: 1, max: 4 }),
        async (plan, crashAfter, maxConcurrent) => {
          // Uninterrupted run.
          const straightStore = new MemoryStore();
          const straight = engine(straightStore);
          const a = await setUp(straight.registry, plan);
          const agentA = await straight.registry.getAgentFactory().createAgent(a.config.id);
          const run = straight.registry.getEnhancedExecutor().batchExecute(
            a.ids.map((id) => [id, agentA] as const),
            { maxConcurrent },
          );
          expect(await drive(straight.clock, run)).toBe(true);
          const expected = await outcome(straightStore, a.workflow.id);
          await straight.registry.stop();

          // The same workflow, killed after `crashAfter` commits, then recovered by a new engine.
          const durable = new MemoryStore();
          const crashing = new CrashingStore(durable, Number.MAX_SAFE_INTEGER);
          const first = engine(crashing);
          const b = await setUp(first.registry, plan);
          Object.assign(crashing, { crashAfter: crashAfter, commits: 0 });
          const agentB = await first.registry.getAgentFactory().createAgent(b.config.id);
          const doomed = first.registry.getEnhancedExecutor().batchExecute(
            b.ids.map((id) => [id, agentB] as const),
            { maxConcurrent },
          );
          doomed.catch(() => {});
          await drive(first.clock, doomed, () => crashing.crashed);

          const second = engine(durable);
          const report = await second.registry.recover();
          if (report.recovered.length > 0) resumedRuns += 1;
          const factory = second.registry.getAgentFactory();
          const agentC = await factory.createAgent(b.config.id);
          const rest = (await durable.tasks.find({ where: { workflowId: b.workflow.id, status: 'PENDING' } }))
            .filter((task) => task.execution === null)
            .map((task) => [task.id, agentC] as const);
          const finishing = Promise.all([
            report.results,
            second.registry.getEnhancedExecutor().batchExecute(rest, { maxConcurrent }),
          ]);
          expect(await drive(second.clock, finishing)).toBe(true);
          const actual = await outcome(durable, b.workflow.id);
          for (const task of await durable.tasks.find({ where: { workflowId: b.workflow.id } })) {
            interruptedAttempts += task.errors.filter((error) => error.code === 'ATTEMPT_INTERRUPTED').length;
          }
          await second.registry.stop();

          expect(actual).toEqual(expected);
          const completions = await durable.completions();
          expect(new Set(completions.map((record) => record.taskId)).size).toBe(completions.length);
        },
      ),
      { numRuns: 40 },
    );
    // The crash points really cut runs short: executions were resumed and attempts interrupted.
    expect(resumedRuns).toBeGreaterThan(5);
    expect(interruptedAttempts).toBeGreaterThan(0);
  }, 120_000);
});
