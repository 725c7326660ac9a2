import { describe, expect, it } from 'vitest';
import { createActor, fromCallback, SimulatedClock, type AnyActorRef, type InspectionEvent } from 'xstate';
import { taskMachine } from '../../../machines/task.machine.js';
import { startActor } from '../../../src/engine/actors.js';
import { createTaskActor } from '../../../src/engine/task-door.js';
import { createTestRegistry, failingAgent, flushEngine } from '../../../src/testing/index.js';

// 493f51b: task actors take snapshotOf's cached snapshot as it is (restoreSnapshot is the
// identity), so actors of tasks in the same state share one snapshot object. Nothing in XState
// may write into it, and each actor must move on from it on its own.

function deepFreeze<T>(value: T, seen = new Set<unknown>()): T {
  if (typeof value !== 'object' || value === null || seen.has(value)) return value;
  seen.add(value);
  // State nodes and the machine are shared by design (and hold caches XState fills lazily).
  for (const key of Object.keys(value)) {
    if (key === 'machine' || key === '_nodes') continue;
    deepFreeze((value as Record<string, unknown>)[key], seen);
  }
  return Object.freeze(value);
}

function parentActor(clock: SimulatedClock): AnyActorRef {
  return createActor(
    fromCallback(() => {}),
    { clock },
  ).start();
}

describe('review: task actors sharing their starting snapshot', () => {
  it('actors created in the same state share one frozen snapshot and move on independently', () => {
    const clock = new SimulatedClock();
    const parent = parentActor(clock);
    const task = (id: string) => ({ id, status: 'PENDING' as const, attempts: 0 });
    const limits = {
      maxAttempts: 2,
      retry: { initialDelayMs: 100, backoffFactor: 1, maxDelayMs: 100, jitter: 0, nonRetryableErrors: [] },
    };
    const a = createTaskActor(taskMachine, task('a'), limits, parent);
    const b = createTaskActor(taskMachine, task('b'), limits, parent);
    const shared = a.getSnapshot();
    expect(b.getSnapshot()).toBe(shared);
    deepFreeze(shared);

    // Every way out of PENDING.ready and back, on a; b must not notice.
    a.send({ type: 'HOLD' });
    expect(a.getSnapshot().value).toEqual({ PENDING: 'held' });
    a.send({ type: 'UNHOLD' });
    a.send({ type: 'PAUSE' });
    a.send({ type: 'RESUME' });
    a.send({ type: 'START' });
    expect(a.getSnapshot().value).toEqual({ RUNNING: 'unbounded' });
    a.send({ type: 'FAIL', retryable: true, errorName: 'Error', random: 0.5 });
    expect(a.getSnapshot().value).toEqual({ PENDING: 'backoff' });
    clock.increment(100);
    expect(a.getSnapshot().value).toEqual({ PENDING: 'ready' });
    expect(a.getSnapshot().context.attempts).toBe(1);

    expect(b.getSnapshot()).toBe(shared);
    expect(shared.value).toEqual({ PENDING: 'ready' });
    expect(shared.context.attempts).toBe(0);

    // Persisted and restored through XState's own restoreSnapshot: the same state.
    const persisted = a.getPersistedSnapshot();
    expect(persisted).toMatchObject({
      value: { PENDING: 'ready' },
      context: { attempts: 1 },
      status: 'active',
    });
    const restored = startActor(taskMachine, { snapshot: persisted, clock });
    expect(restored.getSnapshot().value).toEqual({ PENDING: 'ready' });
    expect(restored.getSnapshot().hasTag('startable')).toBe(true);
    // b stopped as its agent stops it (stopChild -> _stop): the shared snapshot stays as it was.
    (b as unknown as { _stop(): void })._stop();
    expect(b.getSnapshot().status).toBe('stopped');
    expect(shared.status).toBe('active');
    // A new actor of a task in that state still starts from the untouched snapshot.
    const c = createTaskActor(taskMachine, task('c'), limits, parent);
    expect(c.getSnapshot()).toBe(shared);
    expect(c.getSnapshot().can({ type: 'START' })).toBe(true);
  });

  it('the inspector sees each task actor, and snapshots of one never show another', async () => {
    const events: InspectionEvent[] = [];
    const kit = createTestRegistry({
      inspect: (event) => events.push(event),
      retry: { maxAttempts: 2, initialDelayMs: 10 },
    });
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) ids.push((await kit.taskManager.createTask({ name: `t${i}` })).id);
    const agent = failingAgent('flaky', 1);
    const results = ids.map((id) => kit.executor.executeTask(id, agent));
    await flushEngine();
    kit.clock.increment(10);
    await flushEngine();
    expect((await Promise.all(results)).map((r) => r.status)).toEqual([
      'COMPLETED',
      'COMPLETED',
      'COMPLETED',
    ]);
    const taskRefs = new Set(
      events
        .filter((e) => e.type === '@xstate.actor')
        .map((e) => e.actorRef as AnyActorRef & { systemId?: string })
        .filter((ref) => ref.systemId?.startsWith('task:')),
    );
    expect([...taskRefs].map((ref) => ref.systemId).sort()).toEqual(ids.map((id) => `task:${id}`).sort());
    // Each task actor's snapshots, in order: ready (shared start), running, backoff, ready, running, completed.
    for (const ref of taskRefs) {
      const values = events
        .filter((e) => e.type === '@xstate.snapshot' && e.actorRef === ref)
        .map((e) => JSON.stringify((e as unknown as { snapshot: { value: unknown } }).snapshot.value));
      expect(values[0]).toBe('{"PENDING":"ready"}');
      expect(values).toContain('{"PENDING":"backoff"}');
      expect(values.at(-1)).toBe('"COMPLETED"');
    }
    await kit.stop();
  });
});
