import fc from 'fast-check';
import { expect } from 'vitest';
import { NonRetryableError } from '../../src/index.js';
import { createTestClock } from '../../src/testing/index.js';
import type { Behaviour, EngineModel, Plan } from './engine-model.js';
import {
  checkAgainstModel,
  expectOutcome,
  LEASE_MS,
  newRegistry,
  outputOf,
  ROUNDS,
  settled,
  WORKFLOWS,
  type Real,
  type Watched,
} from './engine-model-real.js';

/**
 * The steps of the engine model property (test/properties/engine-model-run.ts): each does one
 * thing to the engine and to the model, waits until the engine is quiet (its store calls answered,
 * on any store), and checks the stored rows against the model.
 */

export type Step = fc.AsyncCommand<EngineModel, Real>;

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
    await settled(r);
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
    await settled(r);
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
    await settled(r);
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
    await settled(r);
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
    await settled(r);
    await checkAgainstModel(m, r);
  }
  toString = () => `settle(${this.pick}, ${this.outcome})`;
}

class Advance implements Step {
  constructor(readonly ms: number) {}
  check = () => true;
  async run(m: EngineModel, r: Real): Promise<void> {
    await r.io.advance(r.clock, this.ms, ROUNDS);
    m.advance(this.ms);
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
    if (this.kind === 'stop') await r.io.stopNow(r.registry, r.clock, ROUNDS);
    else r.dropped.push(r.store);
    r.held.clear();
    r.generation += 1;
    r.store = r.io.track(r.reopen());
    r.clock = createTestClock(r.clock.now() + LEASE_MS);
    r.registry = newRegistry(r, r.clock, r.generation);
    const report = await r.registry.recover({ resolveAgent: () => r.agent });
    report.results.catch(() => {});
    m.crash(this.kind, LEASE_MS);
    await settled(r);
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
export const commandArbs: fc.Arbitrary<Step>[] = [
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
