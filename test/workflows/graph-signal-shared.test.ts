import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ServiceRegistry, type Agent } from '../../src/index.js';
import { SqliteStore } from '../../src/sqlite.js';
import { createTestClock, flushEngine, type TestClock } from '../../src/testing/index.js';
import {
  PG_URL,
  describePostgres,
  dropTestSchemas,
  nextSchema,
  withUser,
} from '../repositories/pg-helpers.js';
import { PostgresStore } from '../../src/repositories/postgres/postgres-store.js';
import { afterAll } from 'vitest';
import type { Store } from '../../src/index.js';
import { stepUntil, stepUntilSettled } from '../support/wait.js';

// A signal sent by one engine reaches a wait another engine on the same store holds: it is stored
// first, and the holder takes it at its next control poll (simulated clock here).

const POLL_MS = 1_000;

const agent: Agent = { id: 'a', execute: async (task) => ({ ran: task.name }) };

function engine(store: Store, clock: TestClock, engineId: string) {
  return new ServiceRegistry({ store, clock, controlPollMs: POLL_MS, engineId });
}

async function sharedSignal(makeStore: () => Store): Promise<void> {
  const clock = createTestClock(0);
  const holder = engine(makeStore(), clock, 'holder');
  const sender = engine(makeStore(), clock, 'sender');
  try {
    const tracker = holder.getWorkflowTracker();
    const tasks = holder.getTaskManager();
    const wf = await tracker.createWorkflow({ name: 'shared' });
    const approve = await tasks.createTask({ name: 'approve' });
    const after = await tasks.createTask({ name: 'after' });
    await tracker.addTasksToWorkflow(wf.id, [
      { taskId: approve.id, waitFor: ['approval', 'rejection'] },
      { taskId: after.id, dependsOn: [approve.id] },
    ]);
    let status: string | null = null;
    const run = holder
      .getEnhancedExecutor()
      .executeWorkflow(wf.id, { agent })
      .then((result) => (status = result.status));
    await flushEngine(20);
    const sent = await sender.signal(wf.id, 'rejection', { reason: 'too long' });
    expect(sent.name).toBe('rejection');
    // Stored, not yet taken: the holder has not polled.
    expect((await tasks.getTask(approve.id)).status).toBe('PENDING');
    await stepUntil(
      'the run to settle',
      () => poll(clock),
      () => status !== null,
    );
    await run;
    expect(status).toBe('COMPLETED');
    expect((await tasks.getTask(approve.id)).outputData).toEqual({
      signal: 'rejection',
      payload: { reason: 'too long' },
      sentAt: 0,
    });
    expect((await tasks.getTask(after.id)).status).toBe('COMPLETED');
  } finally {
    await sender.stop();
    await holder.stop();
  }
}

/** Advances the shared clock a poll at a time until `promise` settles (the engines poll on it). */
async function polling<T>(clock: TestClock, promise: Promise<T>): Promise<T> {
  return stepUntilSettled('the run to settle', promise, () => poll(clock));
}

/** One poll of the engines on the shared clock. */
async function poll(clock: TestClock): Promise<void> {
  clock.increment(POLL_MS);
  await flushEngine(20);
}

/**
 * An engine whose graph run only waits (nothing executing) holds its workflow: a pause, a resume
 * and a signal from another engine are applied by it, at its polls.
 */
async function steerWaitingRun(makeStore: () => Store): Promise<void> {
  const clock = createTestClock(0);
  const holder = engine(makeStore(), clock, 'holder');
  const other = engine(makeStore(), clock, 'other');
  try {
    const tracker = holder.getWorkflowTracker();
    const tasks = holder.getTaskManager();
    const wf = await tracker.createWorkflow({ name: 'steered' });
    const approve = await tasks.createTask({ name: 'approve' });
    const after = await tasks.createTask({ name: 'after' });
    await tracker.addTasksToWorkflow(wf.id, [
      { taskId: approve.id, waitFor: 'approval' },
      { taskId: after.id, dependsOn: [approve.id] },
    ]);
    const first = holder.getEnhancedExecutor().executeWorkflow(wf.id, { agent });
    await flushEngine(20);
    await polling(clock, other.getWorkflowTracker().pauseWorkflow(wf.id));
    expect((await polling(clock, first)).status).toBe('PAUSED');
    const acks = await holder.listEngines();
    expect(acks.map((e) => e.engineId).sort()).toEqual(['holder', 'other']);
    await polling(clock, other.getWorkflowTracker().resumeWorkflow(wf.id));
    const second = holder.getEnhancedExecutor().executeWorkflow(wf.id, { agent });
    await other.signal(wf.id, 'approval', 'yes');
    expect((await polling(clock, second)).status).toBe('COMPLETED');
    expect((await tasks.getTask(after.id)).status).toBe('COMPLETED');
  } finally {
    await other.stop();
    await holder.stop();
  }
}

describe('signals across engines on one store', () => {
  it('SQLite: pause and resume from another engine reach a run that only waits', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'symphony-steer-'));
    try {
      const path = join(dir, 's.db');
      await steerWaitingRun(() => new SqliteStore({ path }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('SQLite: a signal sent by another engine is taken by the holder at its poll', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'symphony-signal-'));
    try {
      const path = join(dir, 's.db');
      await sharedSignal(() => new SqliteStore({ path }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describePostgres('signals across engines on PostgreSQL', () => {
  afterAll(() => dropTestSchemas());

  it('PostgreSQL: a signal sent by another engine is taken by the holder at its poll', async () => {
    const schema = nextSchema();
    const url = withUser(PG_URL);
    await sharedSignal(() => new PostgresStore({ connectionString: url, schema }));
  });
});
