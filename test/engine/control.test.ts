import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ServiceRegistry, createStore, type EngineOptions, type Store, type Task } from '../../src/index.js';
import {
  advance,
  createTestClock,
  flushEngine,
  manualAgent,
  recordingAgent,
} from '../../src/testing/index.js';
import { samplePlan, sampleTask } from '../../src/testing/samples.js';
import { stepUntil } from '../support/wait.js';

/**
 * Engines on one SQLite file stand for processes: one runs a workflow, another steers it through
 * the store (commands, acknowledgements, beats). They poll every 10 ms of real time; the tests
 * wait for outcomes, never for a fixed time.
 */
let open: ServiceRegistry[] = [];
afterEach(async () => {
  for (const registry of open) await registry.stop({ graceMs: 0 }).catch(() => {});
  open = [];
});

function dbPath(): string {
  return join(mkdtempSync(join(tmpdir(), 'symphony-control-')), 'control.db');
}

function engine(path: string, options: Omit<EngineOptions, 'store'> = {}): ServiceRegistry {
  const registry = new ServiceRegistry({ store: path, controlPollMs: 10, maxConcurrency: 1, ...options });
  open.push(registry);
  return registry;
}

async function started(registry: ServiceRegistry): Promise<ServiceRegistry> {
  await registry.getWorkflowTracker().listWorkflows({ limit: 1 });
  return registry;
}

/** A workflow of `count` tasks that `runner` executes one at a time on a manual agent. */
async function runningWorkflow(runner: ServiceRegistry, count: number) {
  const workflow = await runner.getWorkflowTracker().createWorkflow({ name: 'steered' });
  const tasks = await Promise.all(
    Array.from({ length: count }, (_, n) =>
      runner.getTaskManager().createTask({ name: `t${n}`, workflowId: workflow.id }),
    ),
  );
  const agent = manualAgent('manual');
  const results = runner.getEnhancedExecutor().batchExecute(
    tasks.map((task) => [task.id, agent] as const),
    { workflowId: workflow.id },
  );
  await flushEngine();
  expect(agent.calls).toHaveLength(1);
  return { workflow, tasks, agent, results };
}

describe('control commands across engines', () => {
  it('pauses and resumes a workflow that another engine is running; the call returns once applied', async () => {
    const path = dbPath();
    const runner = engine(path);
    const steerer = await started(engine(path));
    const { workflow, agent, results } = await runningWorkflow(runner, 3);

    const paused = await steerer.getWorkflowTracker().pauseWorkflow(workflow.id);
    expect(paused.status).toBe('PAUSED');
    expect((await runner.getWorkflowTracker().getWorkflow(workflow.id)).status).toBe('PAUSED');
    agent.resolveNext('first');
    await flushEngine();
    // The running attempt finished; the waiting ones do not start while paused.
    expect(agent.calls).toHaveLength(1);

    const resumed = await steerer.getWorkflowTracker().resumeWorkflow(workflow.id);
    expect(resumed.paused).toBe(false);
    await flushEngine();
    expect(agent.calls).toHaveLength(2);
    agent.resolveNext('second');
    await flushEngine();
    agent.resolveNext('third');
    expect((await results).map((result) => result.status)).toEqual(['COMPLETED', 'COMPLETED', 'COMPLETED']);
    expect((await steerer.getWorkflowTracker().getWorkflow(workflow.id)).status).toBe('COMPLETED');
  });

  it('cancels a workflow another engine is running: no task it cancelled ends COMPLETED', async () => {
    const path = dbPath();
    const runner = engine(path);
    const steerer = await started(engine(path));
    const { workflow, tasks, agent, results } = await runningWorkflow(runner, 4);

    const cancelled = await steerer.getWorkflowTracker().cancelWorkflow(workflow.id);
    expect(cancelled.status).toBe('CANCELLED');
    expect(agent.calls[0]!.context.signal.aborted).toBe(true);
    expect((await results).map((result) => result.status)).toEqual(Array(4).fill('CANCELLED'));
    await runner.stop();
    const stored = await steerer.getRepository('tasks').getMany(tasks.map((task) => task.id));
    expect(stored.map((task) => task?.status)).toEqual(Array(4).fill('CANCELLED'));
    expect(agent.calls).toHaveLength(1);
    expect((await steerer.getWorkflowTracker().getWorkflow(workflow.id)).status).toBe('CANCELLED');
  });

  it('applies a command itself when the live engines answer that none holds the workflow', async () => {
    const path = dbPath();
    const owner = engine(path);
    const workflow = await owner.getWorkflowTracker().createWorkflow({ name: 'idle' });
    await owner.getTaskManager().createTask({ name: 'waiting', workflowId: workflow.id });
    const steerer = await started(engine(path));
    const paused = await steerer.getWorkflowTracker().pauseWorkflow(workflow.id);
    expect(paused.status).toBe('PAUSED');
    // The engine that answered dropped its cached copy: it sees the change.
    expect((await owner.getWorkflowTracker().getWorkflow(workflow.id)).paused).toBe(true);
  });

  it('does not wait for an engine that has stopped', async () => {
    const path = dbPath();
    const runner = engine(path, { controlPollMs: 60_000 });
    const { workflow, agent, results } = await runningWorkflow(runner, 2);
    results.catch(() => {}); // the stop rejects the waiting execution's promise
    agent.resolveNext('first');
    await flushEngine();
    await runner.stop({ graceMs: 0 });
    const steerer = engine(path, { controlPollMs: 60_000 });
    const paused = await steerer.getWorkflowTracker().pauseWorkflow(workflow.id);
    expect(paused.status).toBe('PAUSED');
    const store = storeOf(path);
    await store.open();
    const beats = await store.engineBeats();
    await store.close();
    expect(beats.filter((beat) => beat.stopped)).toHaveLength(1);
  });
});

/** The runtime of a registry, to poll its control channel by hand. */
async function controlOf(registry: ServiceRegistry): Promise<{ poll(): Promise<number> }> {
  const runtime = await (
    registry as unknown as { runtime(): Promise<{ control: { poll(): Promise<number> } }> }
  ).runtime();
  return runtime.control;
}

describe('control edge cases (review findings)', () => {
  it('a stopping engine still answers: a cancel during its grace period aborts the running attempt', async () => {
    const path = dbPath();
    const runner = engine(path);
    const steerer = await started(engine(path));
    const workflow = await runner.getWorkflowTracker().createWorkflow({ name: 'w' });
    const task = await runner.getTaskManager().createTask({ name: 't', workflowId: workflow.id });
    const agent = manualAgent('manual');
    const done = runner.getEnhancedExecutor().executeTask(task.id, agent, workflow.id);
    await flushEngine();
    const stopping = runner.stop({ graceMs: 60_000 });
    const cancelled = await steerer.getWorkflowTracker().cancelWorkflow(workflow.id);
    expect(cancelled.status).toBe('CANCELLED');
    expect(agent.calls[0]!.context.signal.aborted).toBe(true);
    expect((await done).status).toBe('CANCELLED');
    await stopping;
    expect((await steerer.getTaskManager().getTask(task.id)).status).toBe('CANCELLED');
  });

  it('waits for a live holder that polls more slowly than its own liveness window (simulated time)', async () => {
    const path = dbPath();
    const clock = createTestClock(1_000_000);
    // The runner polls every 7 s; the steerer's own window would be 5 s.
    const runner = engine(path, { clock, controlPollMs: 7_000 });
    const steerer = await started(engine(path, { clock, controlPollMs: 10 }));
    const { workflow, agent, results } = await runningWorkflow(runner, 2);
    let paused: string | null = null;
    const pausing = steerer
      .getWorkflowTracker()
      .pauseWorkflow(workflow.id)
      .then((w) => (paused = w.status));
    // Past the steerer's 5 s: it must still wait, the runner beats and has not answered yet.
    for (let t = 0; t < 6_000; t += 500) await advance(clock, 500);
    expect(paused).toBeNull();
    // The runner's poll comes at 7 s: it applies the pause and answers.
    for (let t = 6_000; t < 7_500 && paused === null; t += 250) await advance(clock, 250);
    await pausing;
    expect(paused).toBe('PAUSED');
    agent.resolveNext('first');
    await flushEngine();
    expect(agent.calls).toHaveLength(1);
    await runner.getWorkflowTracker().resumeWorkflow(workflow.id);
    await flushEngine();
    agent.resolveNext('second');
    expect((await results).map((result) => result.status)).toEqual(['COMPLETED', 'COMPLETED']);
  });

  it('applies a command to the workflow as the store has it, not to a stale copy', async () => {
    const path = dbPath();
    const creator = engine(path);
    const workflow = await creator.getWorkflowTracker().createWorkflow({ name: 'w' });
    const task = await creator.getTaskManager().createTask({ name: 't', workflowId: workflow.id });
    // Another engine runs it to the end and stops; the creator's cached copy still says PENDING.
    const other = await started(engine(path));
    const agent = manualAgent('manual');
    const done = other.getEnhancedExecutor().executeTask(task.id, agent, workflow.id);
    await flushEngine();
    agent.resolveNext('ok');
    await done;
    await other.stop();
    await expect(creator.getWorkflowTracker().pauseWorkflow(workflow.id)).rejects.toMatchObject({
      code: 'INVALID_STATE',
    });
    expect((await creator.getWorkflowTracker().getWorkflow(workflow.id)).status).toBe('COMPLETED');
  });

  it('refuses to execute a task another live engine holds', async () => {
    const path = dbPath();
    const runner = engine(path);
    const other = await started(engine(path));
    const { tasks, agent, results } = await runningWorkflow(runner, 2);
    await expect(
      other.getEnhancedExecutor().executeTask(tasks[1]!.id, manualAgent('second')),
    ).rejects.toMatchObject({ code: 'INVALID_STATE', message: expect.stringContaining('held by engine') });
    agent.resolveNext('one');
    await flushEngine();
    agent.resolveNext('two');
    expect((await results).map((result) => result.status)).toEqual(['COMPLETED', 'COMPLETED']);
  });

  it("reports the holder's refusal: pausing a task it started meanwhile fails with INVALID_STATE", async () => {
    const path = dbPath();
    const runner = engine(path, { controlPollMs: 60_000 });
    const steerer = await started(engine(path));
    const { tasks, agent, results } = await runningWorkflow(runner, 2);
    const queued = tasks[1]!;
    const pausing = steerer.getTaskManager().pauseTask(queued.id);
    pausing.catch(() => {});
    const store = storeOf(path);
    await store.open();
    await stepUntil(
      'the pause command to be stored',
      () => flushEngine(1),
      async () => (await store.commandsAfter(0)).length > 0,
    );
    await store.close();
    // The runner starts the queued task before it reads the command.
    agent.resolveNext('first');
    await flushEngine();
    expect(agent.calls).toHaveLength(2);
    await (await controlOf(runner)).poll();
    await expect(pausing).rejects.toMatchObject({ code: 'INVALID_STATE' });
    agent.resolveNext('second');
    expect((await results).map((result) => result.status)).toEqual(['COMPLETED', 'COMPLETED']);
  });
});

describe('listEngines', () => {
  it('lists the engines beating on the store, alive until they stop', async () => {
    const path = dbPath();
    const first = await started(engine(path, { engineId: 'first' }));
    const second = await started(engine(path, { engineId: 'second' }));
    const seen = await second.listEngines();
    expect(seen.map(({ engineId, alive, self, stopped }) => ({ engineId, alive, self, stopped }))).toEqual([
      { engineId: 'first', alive: true, self: false, stopped: false },
      { engineId: 'second', alive: true, self: true, stopped: false },
    ]);
    expect(seen.every((beat) => beat.expiresAt > beat.beatAt)).toBe(true);
    await first.stop();
    expect((await second.listEngines()).find((beat) => beat.engineId === 'first')).toMatchObject({
      alive: false,
      stopped: true,
    });
  });
});

describe('task commands across engines', () => {
  it('pauses, resumes and cancels single tasks that another engine holds', async () => {
    const path = dbPath();
    const runner = engine(path);
    const steerer = await started(engine(path));
    const { tasks, agent, results } = await runningWorkflow(runner, 3);
    const [running, queued, last] = tasks as [Task, Task, Task];
    const steer = steerer.getTaskManager();

    // Queued in the runner: paused there, so it does not start when a lane frees.
    expect((await steer.pauseTask(queued.id)).status).toBe('PAUSED');
    // Running in the runner: cancelled there, its attempt aborted.
    expect((await steer.cancelTask(running.id)).status).toBe('CANCELLED');
    expect(agent.calls[0]!.context.signal.aborted).toBe(true);
    await flushEngine();
    expect(agent.calls.map((call) => call.task.id)).toEqual([running.id, last.id]);
    agent.resolveNext('last');
    await flushEngine();
    expect(agent.calls).toHaveLength(2);

    // The runner queues it again at once (it may already have started it when the call returns).
    expect(['PENDING', 'RUNNING']).toContain((await steer.resumeTask(queued.id)).status);
    await flushEngine();
    expect(agent.calls.map((call) => call.task.id)).toEqual([running.id, last.id, queued.id]);
    agent.resolveNext('resumed');
    expect((await results).map((result) => result.status)).toEqual(['CANCELLED', 'COMPLETED', 'COMPLETED']);
    // A refused transition fails in the sender at once, as it would in the holder.
    await expect(steer.pauseTask(running.id)).rejects.toMatchObject({ code: 'INVALID_STATE' });
  });
});

describe('leases and beats', () => {
  it('takes over what an engine that stopped beating held, and leaves what a beating engine holds', async () => {
    const path = dbPath();
    const store = storeOf(path);
    await store.open();
    const now = Date.now();
    const plan = samplePlan('manual', { attemptLimit: 3, maxAttempts: 3, backoffFactor: 1 });
    /** A task held by `owner`: running (with a lease for an hour) or waiting in its queue. */
    const held = (owner: string, status: 'RUNNING' | 'PENDING', workflowId: string | null = null) =>
      sampleTask(`${status.toLowerCase()}-${owner}${workflowId ? `-${workflowId}` : ''}`, {
        status,
        attempts: status === 'RUNNING' ? 1 : 0,
        leaseOwner: owner,
        leaseExpiresAt: status === 'RUNNING' ? now + 3_600_000 : null,
        workflowId,
        execution: plan,
      });
    const tasks = [
      held('ghost', 'RUNNING'),
      held('ghost', 'PENDING'),
      held('busy', 'RUNNING'),
      held('busy', 'PENDING'),
      held('silent', 'RUNNING'),
      held('silent', 'PENDING'),
    ];
    await store.commit({
      tasks,
      beats: [
        // Its time to live is up as soon as it is written (by the store's clock).
        { engineId: 'ghost', ttlMs: 0, stopped: false },
        { engineId: 'busy', ttlMs: 600_000, stopped: false },
      ],
    });
    await store.close();
    const registry = engine(path, { controlPollMs: 60_000, maxConcurrency: 10 });
    const agent = manualAgent('manual');
    const report = await registry.recover({ resolveAgent: () => agent });
    // 'ghost' stopped beating: presumed dead. 'busy' beats. 'silent' never beat: its running
    // attempt's lease holds, its waiting task is free.
    expect(report.recovered.sort()).toEqual(['pending-ghost', 'pending-silent', 'running-ghost']);
    expect(report.leasedElsewhere.sort()).toEqual(['pending-busy', 'running-busy', 'running-silent']);
    // Taken over, they now name this engine.
    const after = await registry.getRepository('tasks').getMany(report.recovered);
    expect(new Set(after.map((task) => task?.leaseOwner)).size).toBe(1);
    expect(after[0]?.leaseOwner).not.toBe('ghost');
  });

  it('two engines recovering at once share the tasks: each runs once', async () => {
    const path = dbPath();
    const first = engine(path, { controlPollMs: 60_000, maxConcurrency: 10 });
    const workflow = await first.getWorkflowTracker().createWorkflow({ name: 'w' });
    const ids: string[] = [];
    for (let n = 0; n < 6; n += 1) {
      ids.push((await first.getTaskManager().createTask({ name: `t${n}`, workflowId: workflow.id })).id);
    }
    const held = manualAgent('manual');
    first
      .getEnhancedExecutor()
      .batchExecute(
        ids.map((id) => [id, held] as const),
        { workflowId: workflow.id },
      )
      .catch(() => {});
    await flushEngine();
    await first.stop({ graceMs: 0 });
    const y = await started(engine(path, { controlPollMs: 60_000, maxConcurrency: 10 }));
    const z = await started(engine(path, { controlPollMs: 60_000, maxConcurrency: 10 }));
    const ranY = recordingAgent('manual');
    const ranZ = recordingAgent('manual');
    const [ry, rz] = await Promise.all([
      y.recover({ resolveAgent: () => ranY }),
      z.recover({ resolveAgent: () => ranZ }),
    ]);
    await Promise.all([ry.results, rz.results]);
    expect(ranY.calls.length + ranZ.calls.length).toBe(6);
    expect([...ry.recovered, ...rz.recovered].sort()).toEqual([...ids].sort());
  });

  it('recovers one workflow when asked', async () => {
    const path = dbPath();
    const first = engine(path, { controlPollMs: 60_000 });
    const tracker = first.getWorkflowTracker();
    const [a, b] = [await tracker.createWorkflow({ name: 'a' }), await tracker.createWorkflow({ name: 'b' })];
    const agent = manualAgent('manual');
    for (const workflow of [a, b]) {
      const task = await first.getTaskManager().createTask({ name: 'one', workflowId: workflow.id });
      first
        .getEnhancedExecutor()
        .executeTask(task.id, agent, workflow.id)
        .catch(() => {});
    }
    await flushEngine();
    await first.stop({ graceMs: 0 });
    const second = engine(path, { controlPollMs: 60_000 });
    const report = await second.recover({ resolveAgent: () => agent, workflowId: b.id });
    expect(report.recovered).toHaveLength(1);
    expect((await second.getTaskManager().getTask(report.recovered[0]!)).workflowId).toBe(b.id);
  });
});

function storeOf(path: string): Store {
  return createStore(path);
}
