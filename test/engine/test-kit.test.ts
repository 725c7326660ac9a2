import { fc, it as propIt } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { createActor, SimulatedClock } from 'xstate';
import {
  deriveWorkflowStatus,
  TASK_STATUSES,
  taskMachine,
  taskStatusOf,
  workflowMachine,
} from '../../machines/index.js';
import type { ExecutionContext, Task } from '../../src/index.js';
import {
  advance,
  createTestClock,
  createTestRegistry,
  failingAgent,
  flushEngine,
  hangingAgent,
  manualAgent,
  recordingAgent,
  sequentialIds,
  succeedingAgent,
  TestClock,
  throwingAgent,
} from '../../src/testing/index.js';
import {
  taskEventArbitrary,
  taskInputArbitrary,
  workflowEventSequenceArbitrary,
} from '../../src/testing/arbitraries.js';

const task = (id: string) => ({ id }) as Task;
function context(attempt = 1): ExecutionContext & { controller: AbortController } {
  const controller = new AbortController();
  return {
    controller,
    executionId: 'e',
    task: task('t'),
    workflow: null,
    dependencies: {},
    attempt,
    signal: controller.signal,
    metadata: {},
    heartbeat: () => {},
  };
}

describe('clock helpers', () => {
  it('createTestClock is a SimulatedClock set to the start time', () => {
    const clock = createTestClock(1_700_000_000_000);
    expect(clock).toBeInstanceOf(SimulatedClock);
    expect(clock.now()).toBe(1_700_000_000_000);
    expect(createTestClock().now()).toBe(0);
  });

  it('advance fires due timers, then lets follow-up promise and setImmediate work run', async () => {
    const clock = createTestClock(0);
    const log: string[] = [];
    clock.setTimeout(() => {
      log.push('timer');
      void Promise.resolve().then(() => setImmediate(() => log.push('immediate')));
    }, 10);
    await advance(clock, 9);
    expect(log).toEqual([]);
    await advance(clock, 1);
    expect(log).toEqual(['timer', 'immediate']);
  });

  // Issue #9: `advance(clock, ms)` right after `executeTask` never settled without `flushEngine()`
  // (the attempt had not started, so its retry timer was armed after the clock had moved).
  it('advance right after executeTask runs the first attempt before moving time (issue #9)', async () => {
    const kit = createTestRegistry({ retry: { maxAttempts: 2, initialDelayMs: 100, jitter: 0 } });
    const task = await kit.taskManager.createTask({ name: 'flaky' });
    let settled = false;
    const done = kit.executor.executeTask(task.id, failingAgent('flaky', 1)).finally(() => (settled = true));
    await advance(kit.clock, 100);
    expect(settled).toBe(true);
    expect(await done).toMatchObject({ status: 'COMPLETED', attempts: 2 });
    await kit.stop();
  });

  it('advance fires each timer at its own time: retries armed inside the window fire too', async () => {
    // Delays 100, 200, 400: attempts at t=0, 100, 300 and 700.
    const kit = createTestRegistry({ retry: { maxAttempts: 4, initialDelayMs: 100, jitter: 0 } });
    const task = await kit.taskManager.createTask({ name: 'flaky' });
    const startedAt: number[] = [];
    const agent = recordingAgent('flaky', async () => {
      startedAt.push(kit.clock.now());
      if (startedAt.length <= 3) throw new Error('not yet');
      return 'done';
    });
    const done = kit.executor.executeTask(task.id, agent);
    await advance(kit.clock, 699);
    expect(startedAt).toEqual([0, 100, 300]);
    expect(kit.clock.now()).toBe(699);
    await advance(kit.clock, 1);
    expect(await done).toMatchObject({ status: 'COMPLETED', attempts: 4, output: 'done' });
    expect(agent.calls).toHaveLength(4);
    await kit.stop();
  });

  it('advance with a plain SimulatedClock moves in one jump; a bad ms is a typed error', async () => {
    const clock = new SimulatedClock();
    const fired: number[] = [];
    clock.setTimeout(() => fired.push(clock.now()), 10);
    await advance(clock, 50);
    expect(fired).toEqual([50]);
    await expect(advance(clock, -1)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(advance(clock, Number.NaN)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('advance says so when a timer keeps re-arming itself with delay 0', async () => {
    const clock = createTestClock(0);
    const again = () => clock.setTimeout(again, 0);
    again();
    await expect(advance(clock, 1, 0)).rejects.toThrow(/re-arming itself/);
  });

  it('TestClock.nextDue tracks pending timers; createTestClock makes one', () => {
    const clock = createTestClock(5);
    expect(clock).toBeInstanceOf(TestClock);
    expect(clock.nextDue()).toBeUndefined();
    const late = clock.setTimeout(() => {}, 20);
    clock.setTimeout(() => {}, 10);
    expect(clock.nextDue()).toBe(15);
    clock.increment(10);
    expect(clock.nextDue()).toBe(25);
    clock.clearTimeout(late);
    expect(clock.nextDue()).toBeUndefined();
  });

  it('flushEngine waits the given number of setImmediate rounds', async () => {
    const log: number[] = [];
    setImmediate(() => setImmediate(() => setImmediate(() => log.push(3))));
    await flushEngine(2);
    expect(log).toEqual([]);
    await flushEngine(1);
    expect(log).toEqual([3]);
  });
});

describe('fake agents', () => {
  it('succeedingAgent resolves with its output; recordingAgent records calls and the in-flight peak', async () => {
    expect(await succeedingAgent('s', { ok: 1 }).execute(task('t'), context())).toEqual({ ok: 1 });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const agent = recordingAgent('r', () => gate);
    const runs = [agent.execute(task('a'), context()), agent.execute(task('b'), context(2))];
    expect(agent.inFlight).toBe(2);
    release();
    await Promise.all(runs);
    expect(agent).toMatchObject({ inFlight: 0, maxInFlight: 2 });
    expect(agent.calls.map((c) => [c.task.id, c.attempt])).toEqual([
      ['a', 1],
      ['b', 2],
    ]);
    agent.reset();
    expect(agent.calls).toEqual([]);
    expect(agent.maxInFlight).toBe(0);
  });

  it('failingAgent fails the first n attempts of each task, then succeeds; Infinity always fails', async () => {
    const agent = failingAgent('f', 2, 'ok');
    await expect(agent.execute(task('a'), context())).rejects.toThrow(/1 of 2/);
    await expect(agent.execute(task('b'), context())).rejects.toThrow(/1 of 2/);
    await expect(agent.execute(task('a'), context())).rejects.toThrow(/2 of 2/);
    await expect(agent.execute(task('a'), context())).resolves.toBe('ok');
    const always = failingAgent('never', Infinity);
    for (let i = 0; i < 5; i += 1) await expect(always.execute(task('a'), context())).rejects.toThrow();
  });

  it('hangingAgent settles only when its signal aborts, with the abort reason', async () => {
    const agent = hangingAgent('h');
    const ctx = context();
    let settled = false;
    const run = agent.execute(task('t'), ctx).finally(() => (settled = true));
    await flushEngine();
    expect(settled).toBe(false);
    const reason = new Error('stop');
    ctx.controller.abort(reason);
    await expect(run).rejects.toBe(reason);
    expect(agent.inFlight).toBe(0);
  });

  it.each([undefined, null, 'text', Symbol('s'), 7, new RangeError('r')])(
    'throwingAgent throws exactly %s',
    async (thrown) => {
      const sync = throwingAgent('t', thrown);
      let caught: unknown = 'nothing';
      try {
        void sync.execute(task('t'), context());
      } catch (error) {
        caught = error;
      }
      expect(caught).toBe(thrown);
      await expect(throwingAgent('t', thrown, { mode: 'reject' }).execute(task('t'), context())).rejects.toBe(
        thrown,
      );
    },
  );

  it('manualAgent settles calls in order, on request or on abort', async () => {
    const agent = manualAgent('m', { maxConcurrency: 2, configId: 'cfg' });
    expect(agent).toMatchObject({ maxConcurrency: 2, configId: 'cfg' });
    expect(() => agent.resolveNext()).toThrow(/no waiting call/);
    const ctx = context();
    const first = agent.execute(task('a'), ctx);
    const second = agent.execute(task('b'), context());
    expect(agent.waiting.map((w) => w.task.id)).toEqual(['a', 'b']);
    ctx.controller.abort('cancelled');
    await expect(first).rejects.toBe('cancelled');
    agent.resolveNext('B');
    await expect(second).resolves.toBe('B');
    expect(agent.waiting).toEqual([]);
  });
});

describe('createTestRegistry', () => {
  it('uses the simulated clock, sequential ids and no jitter', async () => {
    const kit = createTestRegistry({ start: 42_000 });
    expect(kit.registry.options.random()).toBe(0.5);
    const task = await kit.taskManager.createTask({ name: 't' });
    const workflow = await kit.workflowTracker.createWorkflow({ name: 'w' });
    expect(task).toMatchObject({ id: 'id-1', createdAt: 42_000 });
    expect(workflow.id).toBe('id-2');
    expect(kit.clock.now()).toBe(42_000);
    await kit.stop();
    const ids = sequentialIds('x');
    expect([ids(), ids()]).toEqual(['x1', 'x2']);
  });

  it('stop() does not wait for an agent that never settles', async () => {
    const kit = createTestRegistry();
    const task = await kit.taskManager.createTask({ name: 't' });
    const outcome = kit.executor.executeTask(task.id, hangingAgent('h')).catch((error: unknown) => error);
    await flushEngine();
    await kit.stop();
    expect(await outcome).toMatchObject({ code: 'ENGINE_STOPPED' });
  });
});

describe('arbitraries', () => {
  propIt.prop([fc.array(taskInputArbitrary(), { maxLength: 5 })], { numRuns: 30 })(
    'taskInputArbitrary makes inputs createTask accepts and stores faithfully',
    async (inputs) => {
      const kit = createTestRegistry();
      for (const input of inputs) {
        const created = await kit.taskManager.createTask(input);
        const stored = await kit.taskManager.getTask(created.id);
        expect(stored).toMatchObject({
          name: input.name,
          inputData: input.inputData ?? {},
          metadata: input.metadata ?? {},
          tags: input.tags ?? [],
          priority: input.priority ?? 0,
        });
      }
      await kit.stop();
    },
  );

  propIt.prop([fc.array(taskEventArbitrary(), { maxLength: 25 })])(
    'taskEventArbitrary events drive the task machine through known statuses only',
    (events) => {
      const actor = createActor(taskMachine, { input: { maxAttempts: 3 } }).start();
      for (const event of events) {
        if (actor.getSnapshot().status === 'done') break;
        actor.send(event);
        expect(TASK_STATUSES).toContain(taskStatusOf(actor.getSnapshot().value));
      }
      expect(actor.getSnapshot().context.attempts).toBeLessThanOrEqual(3);
      actor.stop();
    },
  );

  propIt.prop([workflowEventSequenceArbitrary()])(
    'workflowEventSequenceArbitrary makes consistent changes: counts stay >= 0 and the state is the derived one',
    (events) => {
      const actor = createActor(workflowMachine, { input: { workflowId: 'w' } }).start();
      let joined = 0;
      for (const event of events) {
        if (event.type === 'TASKS_CHANGED') {
          for (const change of event.changes) {
            if (change.from === null) joined += 1;
            else expect(actor.getSnapshot().context.counts[change.from] + 0).toBeGreaterThanOrEqual(0);
          }
        }
        actor.send(event);
        const { context, value } = actor.getSnapshot();
        expect(value).toBe(deriveWorkflowStatus(context));
        expect(Object.values(context.counts).every((n) => n >= 0)).toBe(true);
      }
      const counts = actor.getSnapshot().context.counts;
      expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(joined);
      actor.stop();
    },
  );
});
