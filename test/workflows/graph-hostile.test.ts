import { describe, expect, it } from 'vitest';
import { MemoryStore, SymphonyError, type Agent, type AddTaskOptions } from '../../src/index.js';
import { sequentialIds } from '../../src/testing/index.js';
import { describeEveryStore, useEngines } from '../durability/backends.js';

// What user functions of a graph may do to the engine: throw values that cannot be printed, change
// the outputs they read, or name a task's output after another task.

const engine = useEngines();

const trap = (): never => {
  throw new Error('trap');
};

/** Values a function may throw that `String()` or reading `.message` cannot turn into text. */
const unprintable: Array<[string, () => unknown]> = [
  ['an object without a prototype', () => Object.create(null)],
  [
    'an Error whose message getter throws',
    () => Object.defineProperty(new Error('x'), 'message', { get: trap }),
  ],
  [
    'a Proxy whose traps throw',
    () => new Proxy({}, { get: trap, getPrototypeOf: trap, has: trap, ownKeys: trap }),
  ],
];

/** Where a graph runs a function of the outputs, as `addTasksToWorkflow` takes it. */
const places: Array<[string, (fn: () => never) => AddTaskOptions]> = [
  ['a when', (fn) => ({ when: fn })],
  ['a forEach list', (fn) => ({ forEach: fn })],
  ['a loop until', (fn) => ({ loop: { until: fn, maxIterations: 3 } })],
];

describe('a graph function that throws an unprintable value', () => {
  for (const [what, thrown] of unprintable) {
    for (const [place, options] of places) {
      it(`${place} throwing ${what} ends its node FAILED unrun with CONDITION_FAILED`, async () => {
        const registry = engine(new MemoryStore());
        const tasks = registry.getTaskManager();
        const tracker = registry.getWorkflowTracker();
        const wf = await tracker.createWorkflow({ name: 'unprintable' });
        const a = await tasks.createTask({ name: 'a' });
        const b = await tasks.createTask({ name: 'b' });
        const bad = (): never => {
          throw thrown();
        };
        await tracker.addTasksToWorkflow(wf.id, [
          { taskId: a.id, key: 'a' },
          { taskId: b.id, key: 'b', dependsOn: [a.id], ...options(bad) },
        ]);
        const ran: string[] = [];
        const agent: Agent = { id: 'ag', execute: async (task) => (ran.push(task.name), { ok: true }) };
        const result = await registry.getEnhancedExecutor().executeWorkflow(wf.id, { agent });
        expect(result.status).toBe('FAILED');
        const node = await tasks.getTask(b.id);
        expect(node.status).toBe('FAILED');
        expect(node.attempts).toBe(0);
        expect(node.errors.at(-1)).toMatchObject({ code: 'CONDITION_FAILED', retryable: false });
        expect(node.errors.at(-1)!.message).toContain('threw');
        // A loop runs its first iteration before its until is asked; nothing else of b runs.
        expect(ran.filter((name) => name !== 'a').length).toBe(place === 'a loop until' ? 1 : 0);
      });
    }
  }
});

describeEveryStore('the outputs a graph function reads', (backend) => {
  it('are one frozen view for conditions, lists, loop conditions and agents: none can change a stored output', async () => {
    const { store } = backend();
    const registry = engine(store);
    const tasks = registry.getTaskManager();
    const tracker = registry.getWorkflowTracker();
    const wf = await tracker.createWorkflow({ name: 'shared' });
    const [fetch, gate, each, loop, b, c] = await Promise.all(
      ['fetch', 'gate', 'each', 'loop', 'b', 'c'].map((name) => tasks.createTask({ name })),
    );
    const frozen: Record<string, boolean> = {};
    /** Tries to change what it reads; records whether all of it was frozen. */
    const meddle = (who: string, outputs: Readonly<Record<string, unknown>>): void => {
      const out = outputs.fetch as { docs: string[]; flag?: boolean };
      frozen[who] = Object.isFrozen(outputs) && Object.isFrozen(out) && Object.isFrozen(out.docs);
      for (const change of [() => out.docs.push('added'), () => (out.flag = false), () => delete out.flag]) {
        try {
          change();
        } catch {
          // frozen: refused
        }
      }
    };
    await tracker.addTasksToWorkflow(wf.id, [
      { taskId: fetch!.id, key: 'fetch' },
      { taskId: gate!.id, key: 'gate', dependsOn: [fetch!.id], when: (o) => (meddle('when', o), true) },
      { taskId: each!.id, dependsOn: [fetch!.id], forEach: (o) => (meddle('forEach', o), [1]) },
      {
        taskId: loop!.id,
        dependsOn: [fetch!.id],
        loop: { until: (o) => (meddle('until', o), true), maxIterations: 2 },
      },
      { taskId: b!.id, key: 'b', dependsOn: [gate!.id, each!.id, loop!.id, fetch!.id] },
      { taskId: c!.id, dependsOn: [b!.id, fetch!.id], when: 'outputs.fetch.flag == true' },
    ]);
    const agent: Agent = {
      id: 'ag',
      async execute(task, context) {
        if (task.name === 'fetch') return { docs: ['d1', 'd2'], flag: true };
        if (task.name !== 'b') return task.name;
        meddle('agent', context.dependencies);
        return { saw: context.dependencies.fetch };
      },
    };
    const result = await registry.getEnhancedExecutor().executeWorkflow(wf.id, { agent, maxConcurrent: 1 });
    expect(result.status).toBe('COMPLETED');
    expect(frozen).toEqual({ when: true, forEach: true, until: true, agent: true });
    const original = { docs: ['d1', 'd2'], flag: true };
    expect((await tasks.getTask(fetch!.id)).outputData).toEqual(original);
    expect((await tasks.getTask(b!.id)).outputData).toEqual({ saw: original });
    expect((await tasks.getTask(c!.id)).status).toBe('COMPLETED');
  });
});

describeEveryStore('a key that is the id of another task of the workflow', (backend) => {
  it('is refused with INVALID_GRAPH (duplicate-key) when the task joins, and nothing is stored', async () => {
    const { store } = backend();
    // Ids that may be keys (a key starts with a letter or `_`).
    const registry = engine(store, { idGenerator: sequentialIds('t') });
    const tasks = registry.getTaskManager();
    const tracker = registry.getWorkflowTracker();
    const wf = await tracker.createWorkflow({ name: 'collide' });
    const [c, d, e] = await Promise.all(['c', 'd', 'e'].map((name) => tasks.createTask({ name })));
    const refusal = { code: 'INVALID_GRAPH', details: { problem: 'duplicate-key', key: c!.id } };
    // In one call: d's key is c's id (c has no key, so its output is read under its id).
    await expect(
      tracker.addTasksToWorkflow(wf.id, [
        { taskId: c!.id },
        { taskId: d!.id, key: c!.id },
        { taskId: e!.id, dependsOn: [c!.id, d!.id] },
      ]),
    ).rejects.toMatchObject(refusal);
    expect(await tracker.getWorkflowTasks(wf.id)).toEqual([]);
    // One by one, either way round: a key naming a member, a member named by a key.
    await tracker.addTaskToWorkflow(wf.id, c!.id);
    await expect(tracker.addTaskToWorkflow(wf.id, d!.id, { key: c!.id })).rejects.toMatchObject(refusal);
    const wf2 = await tracker.createWorkflow({ name: 'collide-2' });
    await tracker.addTaskToWorkflow(wf2.id, e!.id, { key: d!.id });
    const error: unknown = await tracker.addTaskToWorkflow(wf2.id, d!.id).catch((thrown: unknown) => thrown);
    expect(SymphonyError.isInstance(error) && error.code).toBe('INVALID_GRAPH');
    expect((await tasks.getTask(d!.id)).workflowId).toBeNull();
    expect((await tracker.getWorkflowTasks(wf.id)).map((task) => task.id)).toEqual([c!.id]);
    // Its own id as its key is no collision.
    await tracker.addTaskToWorkflow(wf.id, d!.id, { key: d!.id });
    expect((await tracker.getWorkflowTasks(wf.id)).length).toBe(2);
  });
});
