import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MemoryStore, ServiceRegistry, type Agent, type Store, type Task } from '../../src/index.js';
import { SqliteStore } from '../../src/sqlite.js';
import { createTestClock, flushEngine, type TestClock } from '../../src/testing/index.js';

// Loops and waits for signals in a workflow graph (issue 12): a loop runs its agent as iterations
// (tasks of their own, visible with their outputs) until its `until` holds, within maxIterations;
// a wait completes unrun with the first signal it names, sent before or after it began to wait.

function open(store: Store, clock: TestClock) {
  const registry = new ServiceRegistry({ store, clock, controlPollMs: 0 });
  return {
    registry,
    tasks: registry.getTaskManager(),
    tracker: registry.getWorkflowTracker(),
    executor: registry.getEnhancedExecutor(),
  };
}

/** A reviewer that approves the third draft it sees. */
const reviewer: Agent = {
  id: 'reviewer',
  execute: async (task) => {
    const iteration = task.inputData.iteration as number | undefined;
    if (iteration === undefined) return { ran: task.name };
    const previous = task.inputData.previous as { draft: number } | null;
    const draft = (previous?.draft ?? 0) + 1;
    return { draft, approved: draft >= 3 };
  },
};

async function build(
  tasks: ReturnType<typeof open>['tasks'],
  names: readonly string[],
): Promise<Record<string, Task>> {
  const made = await Promise.all(names.map((name) => tasks.createTask({ name })));
  return Object.fromEntries(made.map((task) => [task.name, task]));
}

describe('loops', () => {
  it('repeats until `until` holds; each iteration is a task with its output; the loop gives the last', async () => {
    const { registry, tasks, tracker, executor } = open(new MemoryStore(), createTestClock(0));
    const wf = await tracker.createWorkflow({ name: 'review' });
    const t = await build(tasks, ['write', 'review', 'publish']);
    await tracker.addTasksToWorkflow(wf.id, [
      { taskId: t.write!.id, key: 'write' },
      {
        taskId: t.review!.id,
        key: 'review',
        dependsOn: [t.write!.id],
        loop: { until: 'outputs.review.approved == true', maxIterations: 5 },
      },
      { taskId: t.publish!.id, dependsOn: [t.review!.id] },
    ]);
    const seen: unknown[] = [];
    const result = await executor.executeWorkflow(wf.id, {
      agent: {
        id: 'spy',
        execute: async (task, context) => {
          if (task.name === 'publish') seen.push(context.dependencies);
          return reviewer.execute(task, context);
        },
      },
    });
    expect(result.status).toBe('COMPLETED');
    const loop = await tasks.getTask(t.review!.id);
    expect(loop).toMatchObject({
      status: 'COMPLETED',
      attempts: 0,
      outputData: { draft: 3, approved: true },
    });
    expect(loop.graph?.children).toEqual([0, 1, 2].map((i) => `${t.review!.id}-${i}`));
    const iterations = await Promise.all(loop.graph!.children!.map((id) => tasks.getTask(id)));
    expect(iterations.map((task) => [task.name, task.status, task.outputData])).toEqual([
      ['review [iteration 0]', 'COMPLETED', { draft: 1, approved: false }],
      ['review [iteration 1]', 'COMPLETED', { draft: 2, approved: false }],
      ['review [iteration 2]', 'COMPLETED', { draft: 3, approved: true }],
    ]);
    expect(iterations[1]!.inputData).toMatchObject({ iteration: 1, previous: { draft: 1, approved: false } });
    expect(seen).toEqual([{ review: { draft: 3, approved: true } }]);
    await registry.stop();
  });

  it('fails LOOP_LIMIT_EXCEEDED after maxIterations; a retry runs a new round', async () => {
    const { registry, tasks, tracker, executor } = open(new MemoryStore(), createTestClock(0));
    const wf = await tracker.createWorkflow({ name: 'stubborn' });
    const t = await build(tasks, ['review']);
    await tracker.addTaskToWorkflow(wf.id, t.review!.id, {
      loop: { until: (outputs) => (outputs.review as { draft: number }).draft >= 3, maxIterations: 2 },
      key: 'review',
    });
    const first = await executor.executeWorkflow(wf.id, { agent: reviewer });
    expect(first.status).toBe('FAILED');
    const failed = await tasks.getTask(t.review!.id);
    expect(failed.status).toBe('FAILED');
    expect(failed.errors.at(-1)).toMatchObject({ code: 'LOOP_LIMIT_EXCEEDED', retryable: false });
    expect(failed.graph?.children).toHaveLength(2);
    await tasks.retryTask(t.review!.id);
    const second = await executor.executeWorkflow(wf.id, { agent: reviewer });
    expect(second.status).toBe('COMPLETED');
    const done = await tasks.getTask(t.review!.id);
    expect(done.outputData).toEqual({ draft: 3, approved: true });
    expect(done.graph?.children).toHaveLength(3);
    await registry.stop();
  });

  it('a loop whose until cannot be evaluated fails CONDITION_FAILED', async () => {
    const { registry, tasks, tracker, executor } = open(new MemoryStore(), createTestClock(0));
    const wf = await tracker.createWorkflow({ name: 'broken' });
    const t = await build(tasks, ['review']);
    await tracker.addTaskToWorkflow(wf.id, t.review!.id, {
      loop: { until: 'outputs.review.missing == 1', maxIterations: 3 },
      key: 'review',
    });
    expect((await executor.executeWorkflow(wf.id, { agent: reviewer })).status).toBe('FAILED');
    expect((await tasks.getTask(t.review!.id)).errors.at(-1)?.code).toBe('CONDITION_FAILED');
    await registry.stop();
  });

  it('refuses bad loop options with typed errors', async () => {
    const { registry, tasks, tracker } = open(new MemoryStore(), createTestClock(0));
    const wf = await tracker.createWorkflow({ name: 'bad' });
    const t = await build(tasks, ['x']);
    const add = (options: object) => tracker.addTaskToWorkflow(wf.id, t.x!.id, options);
    await expect(add({ loop: { until: 'true', maxIterations: 0 } })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    await expect(add({ loop: { maxIterations: 2 } })).rejects.toMatchObject({ code: 'INVALID_CONDITION' });
    await expect(add({ loop: { until: 'outputs.x +', maxIterations: 2 } })).rejects.toMatchObject({
      code: 'INVALID_CONDITION',
    });
    await expect(add({ loop: { until: 'true', maxIterations: 2 }, sleep: { ms: 1 } })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    // A misspelt option would drop a dependency silently: refused, named.
    await expect(add({ dependson: ['a'] })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('"dependson"') as unknown,
    });
    await registry.stop();
  });
});

describe('waits for signals', () => {
  it('takes a signal sent after it began to wait; what follows runs with its payload', async () => {
    const { registry, tasks, tracker, executor } = open(new MemoryStore(), createTestClock(0));
    const wf = await tracker.createWorkflow({ name: 'approval' });
    const t = await build(tasks, ['draft', 'approve', 'ship']);
    await tracker.addTasksToWorkflow(wf.id, [
      { taskId: t.draft!.id },
      { taskId: t.approve!.id, key: 'approve', dependsOn: [t.draft!.id], waitFor: 'approval' },
      { taskId: t.ship!.id, dependsOn: [t.approve!.id], when: 'outputs.approve.payload.ok == true' },
    ]);
    let settled = false;
    const run = executor.executeWorkflow(wf.id, { agent: reviewer }).finally(() => (settled = true));
    await flushEngine(20);
    expect((await tasks.getTask(t.approve!.id)).status).toBe('PENDING');
    expect(settled).toBe(false);
    const sent = await registry.signal(wf.id, 'approval', { ok: true, by: 'ana' });
    expect(sent).toMatchObject({ workflowId: wf.id, name: 'approval', payload: { ok: true, by: 'ana' } });
    expect((await run).status).toBe('COMPLETED');
    expect(await tasks.getTask(t.approve!.id)).toMatchObject({
      status: 'COMPLETED',
      attempts: 0,
      outputData: { signal: 'approval', payload: { ok: true, by: 'ana' }, sentAt: 0 },
    });
    expect((await tasks.getTask(t.ship!.id)).status).toBe('COMPLETED');
    await registry.stop();
  });

  it('keeps a signal sent before the wait began, and gives each signal to one wait only', async () => {
    const store = new MemoryStore();
    const { registry, tasks, tracker, executor } = open(store, createTestClock(0));
    const wf = await tracker.createWorkflow({ name: 'early' });
    const t = await build(tasks, ['first', 'second', 'other']);
    await tracker.addTasksToWorkflow(wf.id, [
      { taskId: t.first!.id, waitFor: ['go', 'stop'] },
      { taskId: t.second!.id, waitFor: 'go', dependsOn: [t.first!.id] },
      { taskId: t.other!.id, waitFor: { signals: 'never', timeoutMs: 10_000 } },
    ]);
    await registry.signal(wf.id, 'go', 1);
    await registry.signal(wf.id, 'go', 2);
    await registry.signal(wf.id, 'unrelated', 3);
    const run = executor.executeWorkflow(wf.id, { agent: reviewer });
    await flushEngine(20);
    expect((await tasks.getTask(t.first!.id)).outputData).toMatchObject({ signal: 'go', payload: 1 });
    expect((await tasks.getTask(t.second!.id)).outputData).toMatchObject({ signal: 'go', payload: 2 });
    const signals = await store.signals(wf.id);
    expect(signals.map((s) => [s.name, s.payload, s.takenBy])).toEqual([
      ['go', 1, t.first!.id],
      ['go', 2, t.second!.id],
      ['unrelated', 3, null],
    ]);
    await registry.signal(wf.id, 'never', 'late');
    expect((await run).status).toBe('COMPLETED');
    await registry.stop();
  });

  it('fails WAIT_TIMED_OUT once its timeout passes; a retry waits again; a signal then completes it', async () => {
    const clock = createTestClock(1_000);
    const { registry, tasks, tracker, executor } = open(new MemoryStore(), clock);
    const wf = await tracker.createWorkflow({ name: 'timeout' });
    const t = await build(tasks, ['approve']);
    await tracker.addTaskToWorkflow(wf.id, t.approve!.id, {
      waitFor: { signals: ['approval'], timeoutMs: 60_000 },
    });
    const run = executor.executeWorkflow(wf.id, { agent: reviewer });
    await flushEngine(20);
    expect((await tasks.getTask(t.approve!.id)).runAfter).toBe(61_000);
    clock.increment(60_000);
    expect((await run).status).toBe('FAILED');
    const failed = await tasks.getTask(t.approve!.id);
    expect(failed.errors.at(-1)).toMatchObject({ code: 'WAIT_TIMED_OUT', retryable: false });
    await tasks.retryTask(t.approve!.id);
    const again = executor.executeWorkflow(wf.id, { agent: reviewer });
    await flushEngine(20);
    expect((await tasks.getTask(t.approve!.id)).runAfter).toBe(121_000);
    await registry.signal(wf.id, 'approval', { ok: true });
    expect((await again).status).toBe('COMPLETED');
    await registry.stop();
  });

  it('refuses bad signals and waits with typed errors', async () => {
    const { registry, tasks, tracker } = open(new MemoryStore(), createTestClock(0));
    const wf = await tracker.createWorkflow({ name: 'bad' });
    const t = await build(tasks, ['x']);
    await expect(registry.signal(wf.id, '', null)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(registry.signal(wf.id, 'a b', null)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(registry.signal('nope', 'go', null)).rejects.toMatchObject({ code: 'WORKFLOW_NOT_FOUND' });
    await expect(registry.signal(wf.id, 'go', () => 1)).rejects.toMatchObject({
      code: 'INPUT_NOT_SERIALIZABLE',
    });
    const add = (options: object) => tracker.addTaskToWorkflow(wf.id, t.x!.id, options);
    await expect(add({ waitFor: [] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(add({ waitFor: ['a', 'a'] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(add({ waitFor: { signals: 'a', timeoutMs: -1 } })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    await registry.stop();
  });

  it('on SQLite: a wait begun before a restart takes a signal sent after it, and keeps its due time', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'symphony-wait-'));
    try {
      const path = join(dir, 'w.db');
      const clock = createTestClock(0);
      const first = open(new SqliteStore({ path }), clock);
      const wf = await first.tracker.createWorkflow({ name: 'restart' });
      const t = await build(first.tasks, ['approve', 'after']);
      await first.tracker.addTasksToWorkflow(wf.id, [
        { taskId: t.approve!.id, waitFor: { signals: 'approval', timeoutMs: 50_000 } },
        { taskId: t.after!.id, dependsOn: [t.approve!.id] },
      ]);
      void first.executor.executeWorkflow(wf.id, { agent: reviewer }).catch(() => {});
      await flushEngine(20);
      expect((await first.tasks.getTask(t.approve!.id)).runAfter).toBe(50_000);
      await first.registry.stop();

      clock.increment(10_000);
      const second = open(new SqliteStore({ path }), clock);
      const run = second.executor.executeWorkflow(wf.id, { agent: reviewer });
      await flushEngine(20);
      expect((await second.tasks.getTask(t.approve!.id)).runAfter).toBe(50_000);
      await second.registry.signal(wf.id, 'approval', 'yes');
      expect((await run).status).toBe('COMPLETED');
      expect((await second.tasks.getTask(t.approve!.id)).outputData).toMatchObject({ payload: 'yes' });
      await second.registry.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
