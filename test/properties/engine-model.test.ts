import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MemoryStore,
  NonRetryableError,
  ServiceRegistry,
  type ExecutionResult,
  type Store,
} from '../../src/index.js';
import { SqliteStore } from '../../src/sqlite.js';
import {
  advance,
  createTestClock,
  flushEngine,
  stopNow,
  recordingAgent,
  sequentialIds,
  type RecordingAgent,
  type TestClock,
} from '../../src/testing/index.js';
import { EngineModel, type Behaviour, type Expectation, type Plan } from './engine-model.js';

/**
 * Issue 11: random interleavings of create, execute (a scripted agent: succeed, fail, fail for
 * good, hang, or hold until the test settles it), time passing (timeouts, retry delays), pause,
 * resume and cancel of tasks and workflows, retryTask, and crash-and-recover (a killed engine, or
 * one stopped with no grace, then a new engine with a new engineId recovering on the same data),
 * on a memory store and on a SQLite file. After every step the stored rows, read through the
 * public API, agree with the reference model in ./engine-model.ts and the workflow status oracle:
 * statuses, attempts (within the attempt limit, each attempt number run once by the agent), one
 * completion record and the output of every COMPLETED task, the flags of every workflow, the
 * results of settled executions; calls the documented rules refuse reject with INVALID_STATE and
 * change nothing. fast-check prints the seed and the shrunk command list of a failing run; replay
 * it with `{ seed, path }` in the params at the bottom.
 */

const WORKFLOWS = 2;
/** How long a running attempt without a timeout holds its lease; a crash jumps past it. */
const LEASE_MS = 1_000;
/** Event-loop turns the engine gets after each step (commits, then agents, then results). */
const ROUNDS = 10;

interface HeldCall {
  resolve(output: unknown): void;
  reject(error: unknown): void;
}

/** An accepted executeTask call and, once it settled, how. */
interface Watched {
  task: number;
  outcome?: { result: ExecutionResult } | { error: unknown };
}

interface Real {
  /** The live engine's store handle. */
  store: Store;
  /** A new handle on the same data (the same object for memory). */
  reopen(): Store;
  /** Handles of killed engines, closed when the run ends. */
  dropped: Store[];
  registry: ServiceRegistry;
  clock: TestClock;
  generation: number;
  ids: () => string;
  agent: RecordingAgent;
  /** Behaviour by `${taskId}#${attempt}`; an attempt without one succeeds. */
  script: Map<string, Behaviour>;
  /** Attempts of the live engine holding until the test settles them, by task id. */
  held: Map<string, HeldCall>;
  taskIds: string[];
  workflowIds: string[];
  /** Accepted executions not yet seen settled by a check. */
  executions: Watched[];
  /** Whether the running step may make executions reject (a stop rejects them with ENGINE_STOPPED). */
  stopping: boolean;
}

function outputOf(taskId: string, attempt: number): { taskId: string; attempt: number } {
  return { taskId, attempt };
}

function scriptedAgent(real: () => Real): RecordingAgent {
  return recordingAgent('scripted', (task, context) => {
    const r = real();
    const behaviour = r.script.get(`${task.id}#${context.attempt}`) ?? 'succeed';
    switch (behaviour) {
      case 'succeed':
        return Promise.resolve(outputOf(task.id, context.attempt));
      case 'fail':
        return Promise.reject(new Error(`scripted failure of attempt ${context.attempt}`));
      case 'fatal':
        return Promise.reject(new NonRetryableError(`scripted fatal failure of attempt ${context.attempt}`));
      case 'hang':
      case 'hold':
        return new Promise((resolve, reject) => {
          const signal = context.signal;
          const call: HeldCall = { resolve, reject };
          const abort = () => {
            if (r.held.get(task.id) === call) r.held.delete(task.id);
            reject(signal.reason);
          };
          if (signal.aborted) return abort();
          signal.addEventListener('abort', abort, { once: true });
          if (behaviour === 'hold') r.held.set(task.id, call);
        });
    }
  });
}

function newRegistry(
  real: Pick<Real, 'store' | 'ids'>,
  clock: TestClock,
  generation: number,
): ServiceRegistry {
  return new ServiceRegistry({
    store: real.store,
    clock,
    idGenerator: real.ids,
    random: () => 0.5,
    engineId: `engine-${generation}`,
    leaseMs: LEASE_MS,
    controlPollMs: 0,
  });
}

function codeOf(error: unknown): unknown {
  return typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : error;
}

/**
 * Runs a call the model expects `expected` of: 'ok' must resolve, 'invalid' must reject with
 * INVALID_STATE, 'either' may do both. Returns whether it was accepted.
 */
async function expectOutcome(expected: Expectation, call: () => Promise<unknown>): Promise<boolean> {
  try {
    await call();
  } catch (error) {
    if (expected === 'ok' || codeOf(error) !== 'INVALID_STATE') throw error;
    return false;
  }
  if (expected === 'invalid') throw new Error('Expected the call to reject with INVALID_STATE, it resolved');
  return true;
}

/** Every stored row agrees with the model. */
async function checkAgainstModel(m: EngineModel, r: Real): Promise<void> {
  const taskManager = r.registry.getTaskManager();
  const tracker = r.registry.getWorkflowTracker();
  const stored = await taskManager.listTasks();
  expect(stored.map((task) => task.id)).toEqual(r.taskIds);
  for (const [index, model] of m.tasks.entries()) {
    const id = r.taskIds[index]!;
    const task = await taskManager.getTask(id);
    const where = `task ${index} (${id})`;
    expect({ where, status: task.status, attempts: task.attempts }).toEqual({
      where,
      status: model.status,
      attempts: model.attempts,
    });
    if (model.exec) expect(task.attempts).toBeLessThanOrEqual(model.exec.limit);
    // Every counted attempt ran the agent once: an attempt number runs at most once, even across
    // crashes (persistence.md, "Counted attempts").
    const called = r.agent.calls.filter((call) => call.task.id === id).map((call) => call.attempt);
    expect(called, `attempts of ${where} that ran`).toEqual(
      Array.from({ length: model.attempts }, (_, i) => i + 1),
    );
    const completions = await r.store.completions(id);
    if (model.status === 'COMPLETED') {
      expect(completions.map((record) => record.attempt)).toEqual([model.completedAttempt]);
      expect(task.outputData).toEqual(outputOf(id, model.completedAttempt!));
    } else {
      expect(completions).toEqual([]);
    }
  }
  // An execution settles with its task's final state: status, attempts and output as stored.
  for (const watched of r.executions) {
    const outcome = watched.outcome;
    if (!outcome) continue;
    const model = m.tasks[watched.task]!;
    if ('error' in outcome) {
      expect(r.stopping, `execution of task ${watched.task} rejected: ${String(outcome.error)}`).toBe(true);
      expect(codeOf(outcome.error)).toBe('ENGINE_STOPPED');
      continue;
    }
    const { status, attempts, output } = outcome.result;
    const completed = model.completedAttempt;
    expect({ task: watched.task, status, attempts, output }).toEqual({
      task: watched.task,
      status: model.status,
      attempts: model.attempts,
      output: completed === null ? null : outputOf(r.taskIds[watched.task]!, completed),
    });
  }
  r.executions = r.executions.filter((watched) => !watched.outcome);
  for (const [index, model] of m.workflows.entries()) {
    const workflow = await tracker.getWorkflow(r.workflowIds[index]!);
    const where = `workflow ${index}`;
    expect({
      where,
      status: workflow.status,
      paused: workflow.paused,
      cancelled: workflow.cancelled,
    }).toEqual({
      where,
      status: m.workflowStatus(index),
      paused: model.paused,
      cancelled: model.cancelled,
    });
  }
}

type Step = fc.AsyncCommand<EngineModel, Real>;

async function settled(): Promise<void> {
  await flushEngine(ROUNDS);
}

class CreateTask implements Step {
  constructor(readonly workflow: number | null) {}
  check = () => true;
  async run(m: EngineModel, r: Real): Promise<void> {
    const workflowId = this.workflow === null ? undefined : r.workflowIds[this.workflow];
    const create = () =>
      r.registry.getTaskManager().createTask({ name: `task ${m.tasks.length}`, workflowId });
    let created: Awaited<ReturnType<typeof create>> | undefined;
    const accepted = await expectOutcome(
      m.expectCreate(this.workflow),
      async () => (created = await create()),
    );
    if (accepted) {
      r.taskIds.push(created!.id);
      m.create(this.workflow);
    }
    await settled();
    await checkAgainstModel(m, r);
  }
  toString = () => `create(${this.workflow ?? 'standalone'})`;
}

/**
 * executeTask; with `join`, the call names that workflow (the task's own, or a workflow for a
 * standalone task to join; another one is INVALID_ARGUMENT).
 */
class Execute implements Step {
  constructor(
    readonly task: number,
    readonly plan: Plan,
    readonly behaviours: readonly Behaviour[],
    readonly join: number | null = null,
  ) {}
  check = (m: Readonly<EngineModel>) => {
    // A standalone task that has attempts may join a workflow here (it then counts as started,
    // in this engine and in one that loads the workflow: status-rules.md). Replay of the case that
    // once differed: create(standalone), execute(0, maxAttempts 1, [fatal]), retryTask(0),
    // pauseTask(0), execute(0, join 0).
    return m.tasks.length > 0;
  };
  async run(m: EngineModel, r: Real): Promise<void> {
    const index = this.task % m.tasks.length;
    const id = r.taskIds[index]!;
    const expected = m.expectExecute(index, this.join);
    const attempts = m.tasks[index]!.attempts;
    if (expected === 'ok') {
      this.behaviours.forEach((behaviour, i) => r.script.set(`${id}#${attempts + 1 + i}`, behaviour));
    }
    const { maxAttempts, initialDelayMs, backoffFactor, maxInterruptions, timeoutMs } = this.plan;
    const workflowId = this.join === null ? undefined : r.workflowIds[this.join];
    const execution = r.registry.getEnhancedExecutor().executeTask(id, r.agent, workflowId, {
      timeoutMs,
      retry: { maxAttempts, initialDelayMs, backoffFactor, maxInterruptions, jitter: 0 },
    });
    execution.catch(() => {});
    if (expected === 'ok') {
      const watched: Watched = { task: index };
      execution.then(
        (result) => (watched.outcome = { result }),
        (error: unknown) => (watched.outcome = { error }),
      );
      r.executions.push(watched);
      m.applyExecute(index, this.plan, this.behaviours, this.join);
    } else if (expected === 'wrong-workflow') {
      await expect(execution).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    } else {
      await expectOutcome(expected, () => execution);
    }
    await settled();
    await checkAgainstModel(m, r);
  }
  toString = () =>
    `execute(${this.task}, ${JSON.stringify(this.plan)}, [${this.behaviours.join(',')}]` +
    `${this.join === null ? '' : `, join ${this.join}`})`;
}

class SteerTask implements Step {
  constructor(
    readonly task: number,
    readonly op: 'pause' | 'resume' | 'cancel' | 'retry',
  ) {}
  check = (m: Readonly<EngineModel>) => m.tasks.length > 0;
  async run(m: EngineModel, r: Real): Promise<void> {
    const index = this.task % m.tasks.length;
    const id = r.taskIds[index]!;
    const taskManager = r.registry.getTaskManager();
    const call = {
      pause: () => taskManager.pauseTask(id),
      resume: () => taskManager.resumeTask(id),
      cancel: () => taskManager.cancelTask(id),
      retry: () => taskManager.retryTask(id),
    }[this.op];
    if (await expectOutcome(m.expectTask(index, this.op), call)) m.applyTask(index, this.op);
    await settled();
    await checkAgainstModel(m, r);
  }
  toString = () => `${this.op}Task(${this.task})`;
}

class SteerWorkflow implements Step {
  constructor(
    readonly workflow: number,
    readonly op: 'pause' | 'resume' | 'cancel',
  ) {}
  check = () => true;
  async run(m: EngineModel, r: Real): Promise<void> {
    const id = r.workflowIds[this.workflow]!;
    const tracker = r.registry.getWorkflowTracker();
    const call = {
      pause: () => tracker.pauseWorkflow(id),
      resume: () => tracker.resumeWorkflow(id),
      cancel: () => tracker.cancelWorkflow(id),
    }[this.op];
    if (await expectOutcome(m.expectWorkflow(this.workflow, this.op), call)) {
      m.applyWorkflow(this.workflow, this.op);
    }
    await settled();
    await checkAgainstModel(m, r);
  }
  toString = () => `${this.op}Workflow(${this.workflow})`;
}

/** The agent settles an attempt it holds. */
class SettleHeld implements Step {
  constructor(
    readonly pick: number,
    readonly outcome: 'succeed' | 'fail' | 'fatal',
  ) {}
  check = (m: Readonly<EngineModel>) => m.heldAttempts().length > 0;
  async run(m: EngineModel, r: Real): Promise<void> {
    const held = m.heldAttempts();
    const index = held[this.pick % held.length]!;
    const id = r.taskIds[index]!;
    const call = r.held.get(id);
    expect(call, `the held attempt of task ${index}`).toBeDefined();
    r.held.delete(id);
    const attempt = m.tasks[index]!.attempts;
    if (this.outcome === 'succeed') call!.resolve(outputOf(id, attempt));
    else if (this.outcome === 'fail') call!.reject(new Error('held attempt failed'));
    else call!.reject(new NonRetryableError('held attempt failed for good'));
    m.applySettle(index, this.outcome);
    await settled();
    await checkAgainstModel(m, r);
  }
  toString = () => `settle(${this.pick}, ${this.outcome})`;
}

class Advance implements Step {
  constructor(readonly ms: number) {}
  check = () => true;
  async run(m: EngineModel, r: Real): Promise<void> {
    await advance(r.clock, this.ms, ROUNDS);
    m.advance(this.ms);
    await settled();
    await checkAgainstModel(m, r);
  }
  toString = () => `advance(${this.ms})`;
}

class CrashAndRecover implements Step {
  constructor(readonly kind: 'kill' | 'stop') {}
  check = () => true;
  async run(m: EngineModel, r: Real): Promise<void> {
    // A killed engine is dropped: its clock never moves again, so none of its timers fire, and its
    // held attempts are never settled.
    r.stopping = true;
    if (this.kind === 'stop') await stopNow(r.registry, r.clock);
    else r.dropped.push(r.store);
    r.held.clear();
    r.generation += 1;
    r.store = r.reopen();
    r.clock = createTestClock(r.clock.now() + LEASE_MS);
    r.registry = newRegistry(r, r.clock, r.generation);
    const report = await r.registry.recover({ resolveAgent: () => r.agent });
    report.results.catch(() => {});
    m.crash(this.kind, LEASE_MS);
    await settled();
    await checkAgainstModel(m, r);
    r.stopping = false;
  }
  toString = () => `crash(${this.kind})`;
}

const planArb: fc.Arbitrary<Plan> = fc.record({
  maxAttempts: fc.integer({ min: 1, max: 3 }),
  initialDelayMs: fc.constantFrom(0, 10, 100),
  backoffFactor: fc.constantFrom(1, 2),
  maxInterruptions: fc.integer({ min: 0, max: 2 }),
  timeoutMs: fc.constantFrom(0, 50, 300),
});

/** Attempts that stay RUNNING (hang, hold) are frequent, so crashes and timeouts meet them. */
const behaviourArb: fc.Arbitrary<Behaviour> = fc.oneof(
  { arbitrary: fc.constant<Behaviour>('succeed'), weight: 2 },
  { arbitrary: fc.constant<Behaviour>('fail'), weight: 2 },
  { arbitrary: fc.constant<Behaviour>('fatal'), weight: 1 },
  { arbitrary: fc.constant<Behaviour>('hang'), weight: 3 },
  { arbitrary: fc.constant<Behaviour>('hold'), weight: 3 },
);
const taskIndexArb = fc.nat({ max: 7 });

const createArb: fc.Arbitrary<Step> = fc
  .option(fc.nat({ max: WORKFLOWS - 1 }), { nil: null })
  .map((w) => new CreateTask(w));
const executeArb: fc.Arbitrary<Step> = fc
  .tuple(
    taskIndexArb,
    planArb,
    fc.array(behaviourArb, { minLength: 1, maxLength: 3 }),
    fc.option(fc.nat({ max: WORKFLOWS - 1 }), { nil: null, freq: 3 }),
  )
  .map(([task, plan, behaviours, join]) => new Execute(task, plan, behaviours, join));
const steerTaskArb: fc.Arbitrary<Step> = fc
  .tuple(
    taskIndexArb,
    fc.constantFrom('pause', 'resume', 'cancel', 'retry') as fc.Arbitrary<
      'pause' | 'resume' | 'cancel' | 'retry'
    >,
  )
  .map(([task, op]) => new SteerTask(task, op));
const steerWorkflowArb: fc.Arbitrary<Step> = fc
  .tuple(
    fc.nat({ max: WORKFLOWS - 1 }),
    fc.constantFrom('pause', 'resume', 'cancel') as fc.Arbitrary<'pause' | 'resume' | 'cancel'>,
  )
  .map(([workflow, op]) => new SteerWorkflow(workflow, op));
const settleArb: fc.Arbitrary<Step> = fc
  .tuple(
    fc.nat({ max: 7 }),
    fc.constantFrom('succeed', 'fail', 'fatal') as fc.Arbitrary<'succeed' | 'fail' | 'fatal'>,
  )
  .map(([pick, outcome]) => new SettleHeld(pick, outcome));
const advanceArb: fc.Arbitrary<Step> = fc
  .constantFrom(0, 10, 50, 100, 250, 1_000)
  .map((ms) => new Advance(ms));
const crashArb: fc.Arbitrary<Step> = fc
  .constantFrom<'kill' | 'stop'>('kill', 'stop')
  .map((kind) => new CrashAndRecover(kind));

/** fc.commands picks each arbitrary alike: listing one twice doubles its weight. */
const commandArbs: fc.Arbitrary<Step>[] = [
  createArb,
  createArb,
  executeArb,
  executeArb,
  executeArb,
  steerTaskArb,
  steerTaskArb,
  steerWorkflowArb,
  settleArb,
  settleArb,
  advanceArb,
  advanceArb,
  crashArb,
];

type Backend = 'memory' | 'sqlite';
/** Runs so far, for a fresh SQLite file each. */
let runs = 0;

async function setup(backend: Backend, dir: string): Promise<{ model: EngineModel; real: Real }> {
  const path = join(dir, `run-${(runs += 1)}.db`);
  const memory = new MemoryStore();
  const reopen = backend === 'memory' ? () => memory : () => new SqliteStore({ path });
  const store = reopen();
  const ids = sequentialIds();
  const clock = createTestClock(0);
  const holder: { real?: Real } = {};
  const agent = scriptedAgent(() => holder.real!);
  const base = { store, ids };
  const registry = newRegistry(base, clock, 0);
  const tracker = registry.getWorkflowTracker();
  const workflowIds: string[] = [];
  for (let i = 0; i < WORKFLOWS; i += 1)
    workflowIds.push((await tracker.createWorkflow({ name: `wf ${i}` })).id);
  const real: Real = {
    store,
    reopen,
    dropped: [],
    registry,
    clock,
    generation: 0,
    ids,
    agent,
    script: new Map(),
    held: new Map(),
    taskIds: [],
    workflowIds,
    executions: [],
    stopping: false,
  };
  holder.real = real;
  return { model: new EngineModel(WORKFLOWS), real };
}

describe.each([
  { backend: 'memory' as const, numRuns: 500 },
  { backend: 'sqlite' as const, numRuns: 150 },
])('the engine against a reference model on the $backend store (issue 11)', ({ backend, numRuns }) => {
  it('keeps statuses, attempts and completions as the model says, across steering, time and crashes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'symphony-engine-model-'));
    try {
      await fc.assert(
        fc.asyncProperty(fc.commands(commandArbs, { maxCommands: 40, size: 'max' }), async (commands) => {
          const { model, real } = await setup(backend, dir);
          try {
            await fc.asyncModelRun(() => ({ model, real }), commands);
          } finally {
            await stopNow(real.registry, real.clock);
            for (const store of real.dropped) await store.close();
          }
        }),
        { seed: 20261203, numRuns },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
