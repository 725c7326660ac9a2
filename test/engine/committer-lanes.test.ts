import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Committer } from '../../src/engine/committer.js';
import type { EngineClock } from '../../src/engine/clock.js';
import { StoreError } from '../../src/errors/errors.js';
import type { CommitResult, Store, StoreBatch } from '../../src/repositories/store.js';
import type { Task } from '../../src/domain/task.js';
import { flushEngine } from '../../src/testing/index.js';
import { sampleTask, sampleWorkflow } from '../../src/testing/samples.js';

/** A commit the test ends when it chooses: what it wrote (read at the call, as stores must). */
interface Pending {
  ids: string[];
  rows: Map<string, number>;
  records: string[];
  workflows: number;
  resolve(): void;
  fail(error: Error): void;
}

/**
 * A store with two commit lanes whose commits end when the test says: each task's version is its
 * `attempts` field, applied only when the commit succeeds. It checks that commits in flight at
 * once never share a task.
 */
class LaneStore {
  readonly commitLanes = 2;
  readonly pending: Pending[] = [];
  readonly stored = new Map<string, number>();
  readonly recorded = new Set<string>();
  readonly commits: Pending[] = [];
  maxInFlight = 0;
  overlaps: string[] = [];

  commit(batch: StoreBatch): Promise<CommitResult> {
    const rows = new Map<string, number>();
    for (const task of [...(batch.tasks ?? []), ...(batch.taskStates ?? [])])
      rows.set(task.id, task.attempts);
    const ids = [...rows.keys()];
    const busy = new Set(this.pending.flatMap((p) => p.ids));
    for (const id of ids) if (busy.has(id)) this.overlaps.push(id);
    const records = (batch.completions ?? []).map((r) => r.taskId);
    return new Promise((resolve, reject) => {
      const entry: Pending = {
        ids,
        rows,
        records,
        workflows: batch.workflows?.length ?? 0,
        resolve: () => {
          for (const [id, version] of rows) this.stored.set(id, version);
          for (const id of records) this.recorded.add(id);
          resolve({ fenced: [] });
        },
        fail: reject,
      };
      this.pending.push(entry);
      this.commits.push(entry);
      this.maxInFlight = Math.max(this.maxInFlight, this.pending.length);
    });
  }

  /** Ends the `index`-th commit in flight (oldest first). */
  end(index: number, error?: Error): void {
    const [entry] = this.pending.splice(index, 1);
    if (!entry) return;
    if (error) entry.fail(error);
    else entry.resolve();
  }
}

/** Retries fire on the next turn; the clock never moves, so an outage never outlasts `retryMs`. */
const clock: EngineClock = {
  now: () => 0,
  setTimeout: (fn) => setImmediate(fn),
  clearTimeout: () => {},
};

function committerOn(store: LaneStore): Committer {
  return new Committer(store as unknown as Store, {
    clock,
    retryMs: 60_000,
    random: () => 0.5,
    partRows: 20,
  });
}

const unavailable = () => new StoreError('STORE_UNAVAILABLE', 'connection lost', { retryable: true });

function stage(committer: Committer, task: Task): void {
  task.attempts += 1;
  committer.stageTaskState(task);
}

describe('Committer with two commit lanes', () => {
  /** Stages `count` task writes, each with a completion record and a waiter on its own write. */
  function stageMany(committer: Committer, count: number) {
    const ownCalls: string[] = [];
    const tasks = Array.from({ length: count }, (_, i) => sampleTask(`t${i}`));
    for (const task of tasks) {
      stage(committer, task);
      committer.stageCompletion({ taskId: task.id, executionId: `e-${task.id}`, attempt: 1, completedAt: 0 });
      committer.afterTasksCommit([task.id], (error) => ownCalls.push(error ? 'error' : task.id));
    }
    let all = false;
    committer.afterCommit(() => (all = true));
    return { ownCalls, allDone: () => all };
  }

  it('splits a batch of task writes in two halves side by side, each with its tasks’ records', async () => {
    const store = new LaneStore();
    const committer = committerOn(store);
    const { ownCalls, allDone } = stageMany(committer, 36);
    await flushEngine();
    expect(store.pending).toHaveLength(2);
    const [first, second] = store.pending as [Pending, Pending];
    expect(first.ids).toEqual(Array.from({ length: 18 }, (_, i) => `t${2 * i}`));
    expect(second.records.sort()).toEqual([...second.ids].sort());
    // The second half ends first: the attempts whose starts it holds may go; the caller of
    // everything waits for both.
    store.end(1);
    await flushEngine();
    expect(ownCalls.sort()).toEqual([...second.ids].sort());
    expect(allDone()).toBe(false);
    store.end(0);
    await flushEngine();
    expect(ownCalls).toHaveLength(36);
    expect(allDone()).toBe(true);
    expect(store.overlaps).toEqual([]);
  });

  it('splits a large batch in parts in staging order, two at a time: the first rows commit first', async () => {
    const store = new LaneStore();
    const committer = committerOn(store);
    const { ownCalls, allDone } = stageMany(committer, 50);
    await flushEngine();
    expect(store.pending.map((p) => p.ids.length)).toEqual([20, 20]);
    expect(store.pending[0]!.ids[0]).toBe('t0');
    store.end(0);
    await flushEngine();
    // The first part's waiters are called; the third part takes the lane it left.
    expect(ownCalls.sort()).toEqual(Array.from({ length: 20 }, (_, i) => `t${i}`).sort());
    expect(store.pending.map((p) => p.ids.length)).toEqual([20, 10]);
    store.end(1);
    await flushEngine();
    expect(ownCalls).toHaveLength(30);
    expect(allDone()).toBe(false);
    store.end(0);
    await flushEngine();
    expect(ownCalls).toHaveLength(50);
    expect(allDone()).toBe(true);
    expect(store.overlaps).toEqual([]);
  });

  it('gives up the parts still waiting for a lane with the part whose outage outlasted storeRetryMs', async () => {
    const store = new LaneStore();
    let now = 0;
    const moving: EngineClock = { ...clock, now: () => now };
    const committer = new Committer(store as unknown as Store, {
      clock: moving,
      retryMs: 100,
      random: () => 0.5,
      partRows: 20,
    });
    const { ownCalls } = stageMany(committer, 50);
    let heard: unknown = null;
    committer.afterCommit((error) => (heard = error));
    await flushEngine();
    expect(store.pending.map((p) => p.ids.length)).toEqual([20, 20]);
    store.end(0, unavailable());
    await flushEngine();
    now = 500;
    // The third part took the lane the first left; the second fails past the window.
    expect(store.pending.map((p) => p.ids.length)).toEqual([20, 10]);
    store.end(0, unavailable());
    store.end(0, unavailable());
    await flushEngine();
    expect(ownCalls).toHaveLength(50);
    expect(ownCalls.every((call) => call === 'error')).toBe(true);
    expect((heard as { code?: string } | null)?.code).toBe('STORE_UNAVAILABLE');
    expect(store.pending).toHaveLength(0);
  });

  it('holds back a batch that writes a task of a commit in flight until that commit ends', async () => {
    const store = new LaneStore();
    const committer = committerOn(store);
    const task = sampleTask('a');
    const other = sampleTask('b');
    stage(committer, task);
    await flushEngine();
    expect(store.pending).toHaveLength(1);
    stage(committer, task);
    await flushEngine();
    expect(store.pending).toHaveLength(1);
    store.end(0);
    await flushEngine();
    expect(store.pending).toHaveLength(1);
    // A batch of other tasks goes beside one in flight.
    stage(committer, other);
    await flushEngine();
    expect(store.pending).toHaveLength(2);
    store.end(0);
    store.end(0);
    await committer.settle();
    expect(store.stored.get('a')).toBe(2);
    expect(store.overlaps).toEqual([]);
  });

  it('never splits, nor commits beside another, a batch that writes a workflow row', async () => {
    const store = new LaneStore();
    const committer = committerOn(store);
    const workflow = sampleWorkflow('w');
    stage(committer, sampleTask('x'));
    await flushEngine();
    committer.stageWorkflow(workflow);
    for (let i = 0; i < 40; i += 1) stage(committer, sampleTask(`w${i}`));
    await flushEngine();
    expect(store.pending).toHaveLength(1);
    store.end(0);
    await flushEngine();
    expect(store.pending).toHaveLength(1);
    expect(store.pending[0]!.workflows).toBe(1);
    expect(store.pending[0]!.ids).toHaveLength(40);
    store.end(0);
    await committer.settle();
  });

  it('a caller of everything waits for a batch that failed and went back, though a later one committed', async () => {
    const store = new LaneStore();
    const committer = committerOn(store);
    stage(committer, sampleTask('p'));
    await flushEngine();
    stage(committer, sampleTask('q'));
    let done = false;
    committer.afterCommit(() => (done = true));
    await flushEngine();
    expect(store.pending).toHaveLength(2);
    store.end(0, unavailable());
    store.end(0);
    await flushEngine();
    // p's batch is tried again; q's committed, but its caller also waited on p.
    expect(done).toBe(false);
    expect(store.pending).toHaveLength(1);
    expect(store.pending[0]!.ids).toEqual(['p']);
    store.end(0);
    await flushEngine();
    expect(done).toBe(true);
    expect(store.stored.get('p')).toBe(1);
  });

  type Op =
    | { kind: 'stage'; task: number }
    | { kind: 'bulk'; from: number; size: number }
    | { kind: 'wait' }
    | { kind: 'taskWait'; task: number }
    | { kind: 'turn' }
    | { kind: 'end'; index: number; fail: boolean };

  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ kind: fc.constant('stage' as const), task: fc.nat(5) }),
    fc.record({ kind: fc.constant('bulk' as const), from: fc.nat(40), size: fc.constantFrom(36, 70) }),
    fc.constant({ kind: 'wait' as const }),
    fc.record({ kind: fc.constant('taskWait' as const), task: fc.nat(5) }),
    fc.constant({ kind: 'turn' as const }),
    fc.record({ kind: fc.constant('end' as const), index: fc.nat(2), fail: fc.boolean() }),
  );

  it('law: whatever the order commits end or fail in, every write lands last-version-wins, no two commits in flight share a task, and every caller hears of its writes only once they are stored', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 60 }), async (ops) => {
        const store = new LaneStore();
        const committer = committerOn(store);
        const tasks = new Map<string, Task>();
        const taskOf = (id: string) => {
          let task = tasks.get(id);
          if (!task) tasks.set(id, (task = sampleTask(id)));
          return task;
        };
        const staged = new Map<string, number>();
        const waiters: Array<{ needs: Map<string, number>; calls: number; ok: boolean }> = [];
        const wait = (ids: readonly string[] | null) => {
          const needs = new Map([...staged].filter(([id]) => ids === null || ids.includes(id)));
          const waiter = { needs, calls: 0, ok: true };
          waiters.push(waiter);
          const fn = (error: unknown) => {
            waiter.calls += 1;
            // Retried failures never reach a caller (the clock never moves past retryMs).
            if (error) waiter.ok = false;
            for (const [id, version] of needs) if ((store.stored.get(id) ?? 0) < version) waiter.ok = false;
          };
          if (ids === null) committer.afterCommit(fn);
          else committer.afterTasksCommit(ids, fn);
        };
        for (const step of ops) {
          if (step.kind === 'stage') {
            const task = taskOf(`t${step.task}`);
            stage(committer, task);
            staged.set(task.id, task.attempts);
          } else if (step.kind === 'bulk') {
            for (let i = step.from; i < step.from + step.size; i += 1) {
              const task = taskOf(`b${i}`);
              stage(committer, task);
              staged.set(task.id, task.attempts);
            }
          } else if (step.kind === 'wait') {
            wait(null);
          } else if (step.kind === 'taskWait') {
            const id = `t${step.task}`;
            if (staged.has(id)) wait([id]);
          } else if (step.kind === 'turn') {
            await flushEngine(1);
          } else if (store.pending.length > 0) {
            store.end(step.index % store.pending.length, step.fail ? unavailable() : undefined);
            await flushEngine(1);
          }
        }
        // Let everything commit: a last caller of everything hears once it has.
        wait(null);
        for (
          let round = 0;
          round < 1000 && (store.pending.length > 0 || waiters.some((w) => w.calls === 0));
          round += 1
        ) {
          if (store.pending.length > 0) store.end(0);
          await flushEngine(1);
        }
        expect(store.overlaps).toEqual([]);
        expect(store.maxInFlight).toBeLessThanOrEqual(2);
        for (const [id, version] of staged) expect(store.stored.get(id)).toBe(version);
        for (const waiter of waiters) {
          expect(waiter.calls).toBe(1);
          expect(waiter.ok).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });
});
