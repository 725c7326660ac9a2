import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStore, ServiceRegistry, type SymphonyEventName } from '../../src/index.js';
import { advance, createTestClock, flushEngine, type TestClock } from '../../src/testing/clock.js';
import { failingAgent, succeedingAgent } from '../../src/testing/fake-agents.js';
import { sequentialIds, stopNow } from '../../src/testing/test-registry.js';
import type { StoredEvent } from '../../src/engine/stored-events.js';
import { advanceUntil } from '../support/wait.js';

// Events from the store (issue 15): registry.readEvents / watchEvents, the storeEvents option and
// the retention of stored events, on the memory store and the simulated clock.

let open: Array<{ registry: ServiceRegistry; clock: TestClock }> = [];
afterEach(async () => {
  for (const { registry, clock } of open) await stopNow(registry, clock);
  open = [];
});

function engine(options: ConstructorParameters<typeof ServiceRegistry>[0] = {}) {
  const clock = createTestClock(1_000);
  const registry = new ServiceRegistry({
    store: new MemoryStore(),
    clock,
    idGenerator: sequentialIds(`${options.engineId ?? 'e'}-`),
    random: () => 0.5,
    controlPollMs: 0,
    retry: { maxAttempts: 2, initialDelayMs: 0, jitter: 0 },
    ...options,
  });
  open.push({ registry, clock });
  return { registry, clock };
}

/** Runs one task that fails once and then completes, in a workflow; returns their ids. */
async function runOne(registry: ServiceRegistry, clock: TestClock, name = 'flaky') {
  const workflow = await registry.getWorkflowTracker().createWorkflow({ name: 'wf' });
  const task = await registry.getTaskManager().createTask({ name, workflowId: workflow.id });
  const done = registry.getEnhancedExecutor().executeTask(task.id, failingAgent('a1', 1, 'ok'), workflow.id);
  let settled = false;
  void done.finally(() => (settled = true));
  await advanceUntil('the task to settle', clock, 0, () => settled);
  expect((await done).status).toBe('COMPLETED');
  return { workflowId: workflow.id, taskId: task.id };
}

const names = (events: readonly StoredEvent[]) => events.map((event) => event.name);

describe('registry.readEvents', () => {
  it('reads what the engine published, after a cursor, page by page; limit 0 gives the end', async () => {
    const { registry, clock } = engine({ engineId: 'A' });
    const heard: unknown[] = [];
    const feed = registry.events();
    void (async () => {
      for await (const event of feed) heard.push(event);
    })();
    const { workflowId, taskId } = await runOne(registry, clock);
    const all = await registry.readEvents();
    // Each commit that changed the agent's load carries its `agent.load`, after the changes.
    expect(names(all.events)).toEqual([
      'task.created',
      'task.started',
      'workflow.status',
      'agent.load',
      'task.attemptFailed',
      'agent.load',
      'task.started',
      'agent.load',
      'task.completed',
      'workflow.status',
      'agent.load',
    ]);
    // The same events, fields and order as the engine's listeners got.
    expect(all.events.map((event) => ({ type: event.name, ...event.payload }))).toEqual(
      JSON.parse(JSON.stringify(heard)),
    );
    for (const event of all.events) {
      const ofWorkflow = event.name === 'agent.load' ? null : workflowId;
      expect(event).toMatchObject({ engineId: 'A', workflowId: ofWorkflow, at: event.payload.at });
      expect(event.taskId).toBe(
        event.name === 'workflow.status' || event.name === 'agent.load' ? null : taskId,
      );
    }
    const first = await registry.readEvents({ limit: 3 });
    expect(first.events).toEqual(all.events.slice(0, 3));
    expect(first.cursor).toBe(all.events[2]!.cursor);
    const rest = await registry.readEvents({ after: first.cursor });
    expect(rest.events).toEqual(all.events.slice(3));
    expect((await registry.readEvents({ limit: 0 })).cursor).toBe(all.cursor);
    const failures = await registry.readEvents({ names: ['task.attemptFailed'], taskId });
    expect(failures.events[0]!.payload).toMatchObject({ attempt: 1, willRetry: true, agentId: 'a1' });
    expect(failures.cursor).toBe(all.cursor);
  });

  it('refuses bad arguments with INVALID_ARGUMENT', async () => {
    const { registry } = engine();
    const bad: unknown[] = [
      { limit: -1 },
      { limit: 10_001 },
      { limit: 1.5 },
      { names: ['task.exploded'] },
      { names: 'task.started' },
      { after: 5 },
      { after: '' },
      { after: 'not-a-cursor' },
      { workflowId: '' },
      { taskId: 7 },
      'everything',
    ];
    for (const options of bad) {
      await expect(registry.readEvents(options as never), JSON.stringify(options)).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
    }
    for (const options of [{ pollMs: 0 }, { limit: 5 }, { signal: 'stop' }, { names: ['nope'] }]) {
      expect(() => registry.watchEvents(options as never), JSON.stringify(options)).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
      );
    }
  });

  it('stores nothing with storeEvents: false, while the listeners still hear every event', async () => {
    const { registry, clock } = engine({ storeEvents: false });
    const heard: string[] = [];
    registry.on('task.completed', (event) => heard.push(event.taskId));
    const { taskId } = await runOne(registry, clock);
    expect(heard).toEqual([taskId]);
    await expect(registry.readEvents()).resolves.toEqual({ events: [], cursor: '0' });
  });

  it('stores its worker’s start and stop and its own breaker changes', async () => {
    const store = new MemoryStore();
    const { registry } = engine({ store, engineId: 'W' });
    const worker = await registry.startWorker({ resolveAgent: () => succeedingAgent('ok'), pollMs: 10 });
    // Published once stored: a reader sees it as soon as startWorker resolves.
    const started = await registry.readEvents({ names: ['worker.started', 'worker.stopped'] });
    expect(started.events.map((event) => [event.name, event.payload])).toEqual([
      ['worker.started', { engineId: 'W', at: 1_000 }],
    ]);
    await worker.stop();
    const reader = new ServiceRegistry({ store, controlPollMs: 0 });
    open.push({ registry: reader, clock: createTestClock(0) });
    const stopped = await reader.readEvents({ after: started.cursor });
    expect(names(stopped.events)).toEqual(['worker.stopped']);
  });
});

describe('registry.watchEvents', () => {
  it('follows the engine’s commits with no clock moving, resumes from a cursor, ends on abort and on stop', async () => {
    const { registry, clock } = engine();
    const controller = new AbortController();
    const seen: StoredEvent[] = [];
    const watching = (async () => {
      for await (const event of registry.watchEvents({
        names: ['task.completed'],
        signal: controller.signal,
      }))
        seen.push(event);
    })();
    const first = await runOne(registry, clock, 'one');
    const second = await runOne(registry, clock, 'two');
    await flushEngine();
    expect(seen.map((event) => event.taskId)).toEqual([first.taskId, second.taskId]);
    controller.abort();
    await watching;
    // From the first one's cursor: the second one, then the third as it comes.
    const resumed = registry.watchEvents({ after: seen[0]!.cursor, names: ['task.completed'] });
    expect((await resumed.next()).value).toMatchObject({ taskId: second.taskId });
    const next = resumed.next();
    const third = await runOne(registry, clock, 'three');
    expect((await next).value).toMatchObject({ taskId: third.taskId, payload: { name: 'three' } });
    const waiting = resumed.next();
    await stopNow(registry, clock);
    await expect(waiting).resolves.toEqual({ value: undefined, done: true });
    expect(() => registry.watchEvents()).toThrow(expect.objectContaining({ code: 'ENGINE_STOPPED' }));
  });

  it('sees another engine’s events at its next poll (every pollMs of its clock)', async () => {
    const store = new MemoryStore();
    const a = engine({ store, engineId: 'A' });
    const b = engine({ store, engineId: 'B' });
    const watch = a.registry.watchEvents({ pollMs: 500, names: ['task.completed'] });
    const next = watch.next();
    const { taskId } = await runOne(b.registry, b.clock);
    await flushEngine();
    let arrived = false;
    void next.then(() => (arrived = true));
    await flushEngine();
    expect(arrived).toBe(false);
    await advance(a.clock, 500);
    await expect(next).resolves.toMatchObject({ value: { taskId, engineId: 'B' } });
    await watch.return!();
  });
});

describe('retention of stored events', () => {
  it('prunes beyond maxEvents and past maxAgeMs when the engine starts polling and every pruneEveryMs', async () => {
    const store = new MemoryStore();
    const { registry, clock } = engine({ store, engineId: 'writer' });
    for (let i = 0; i < 4; i += 1) await runOne(registry, clock, `t${i}`);
    const before = await registry.readEvents();
    // 7 task and workflow events and 4 agent loads a run.
    expect(before.events).toHaveLength(4 * 11);
    const pruner = engine({
      store,
      engineId: 'pruner',
      controlPollMs: 100,
      eventRetention: { maxEvents: 10, maxAgeMs: 60_000, pruneEveryMs: 1_000 },
    });
    pruner.clock.set(1_000);
    await pruner.registry.start();
    const kept = await pruner.registry.readEvents();
    expect(kept.events).toEqual(before.events.slice(-10));
    // A minute later everything is past maxAgeMs; the next prune (within pruneEveryMs) drops it all.
    await advance(pruner.clock, 61_000);
    const names: SymphonyEventName[] = ['task.created', 'task.completed'];
    await expect(pruner.registry.readEvents({ names })).resolves.toEqual({
      events: [],
      cursor: before.cursor,
    });
  });
});
