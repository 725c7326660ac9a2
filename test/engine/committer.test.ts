import { describe, expect, it } from 'vitest';
import { Committer } from '../../src/engine/committer.js';
import { MemoryStore, type CommitResult, type StoreBatch } from '../../src/index.js';
import { flushEngine } from '../../src/testing/index.js';
import { sampleTask } from '../../src/testing/samples.js';

/** A store whose commits take a while (as PostgreSQL's do), recording each batch and any overlap. */
class SlowStore extends MemoryStore {
  readonly batches: string[][] = [];
  inFlight = 0;
  maxInFlight = 0;
  /** Commits wait for this gate to open. */
  private release: () => void = () => {};
  private readonly gate = new Promise<void>((resolve) => (this.release = resolve));

  openGate(): void {
    this.release();
  }

  override async commit(batch: StoreBatch): Promise<CommitResult | void> {
    this.batches.push((batch.tasks ?? []).map((task) => `${task.id}:${task.status}`));
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const written = super.commit(batch);
    await this.gate;
    const result = await written;
    this.inFlight -= 1;
    return result;
  }
}

describe('Committer', () => {
  it('commits one batch at a time, even when a before-flush hook stages rows', async () => {
    const store = new SlowStore();
    const committer = new Committer(store);
    const task = sampleTask('t1');
    let hookRuns = 0;
    committer.onBeforeFlush(() => {
      hookRuns += 1;
      // A settle applied at flush time stages the next state of a row (as the runtime does).
      if (hookRuns === 1) {
        task.status = 'RUNNING';
        committer.stageTask(task);
      }
    });
    committer.stageTask(task);
    const first = committer.settle();
    await flushEngine();
    // While the first batch is in flight (its commit waits at the gate) the row moves on.
    task.status = 'COMPLETED';
    committer.stageTask(task);
    await flushEngine();
    expect(store.maxInFlight).toBe(1);
    store.openGate();
    await first;
    await committer.settle();
    expect(store.maxInFlight).toBe(1);
    expect(store.batches).toEqual([['t1:RUNNING'], ['t1:COMPLETED']]);
    expect((await store.tasks.get('t1'))?.status).toBe('COMPLETED');
  });
});
