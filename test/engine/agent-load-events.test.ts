/**
 * `agent.load` (issue 15: "events of agent load"): read from the agent actors, coalesced to at most
 * one per agent a commit, published after the commit and stored in it, on every store.
 */
import { expect, it } from 'vitest';
import { AgentLoadEvents } from '../../src/engine/agent-load-events.js';
import { ServiceRegistry, type Store } from '../../src/index.js';
import type { SymphonyEvents } from '../../src/engine/engine-events.js';
import type { StoreBatch } from '../../src/repositories/store.js';
import { createTestClock } from '../../src/testing/clock.js';
import { recordingAgent } from '../../src/testing/fake-agents.js';
import { sequentialIds, stopNow } from '../../src/testing/test-registry.js';
import { describeEveryStore } from '../durability/backends.js';

/** Counts the `agent.load` events of each batch the store commits. */
function countLoadsPerCommit(store: Store): number[] {
  const perCommit: number[] = [];
  const commit = store.commit.bind(store);
  store.commit = (batch: StoreBatch) => {
    perCommit.push((batch.events ?? []).filter((event) => event.name === 'agent.load').length);
    return commit(batch);
  };
  return perCommit;
}

describeEveryStore('agent.load events', (backend) => {
  it('reports an agent of maxConcurrency 2 running 5 tasks: never above 2, reaching 2, ending at 0, one a commit at most', async () => {
    const { store } = backend();
    const perCommit = countLoadsPerCommit(store);
    const clock = createTestClock(1_000);
    const warnings: string[] = [];
    const logger = {
      error: () => {},
      info: () => {},
      debug: () => {},
      warn: (_fields: unknown, message?: string) => void warnings.push(String(message)),
    };
    const registry = new ServiceRegistry({
      store,
      clock,
      logger,
      idGenerator: sequentialIds('load-'),
      controlPollMs: 0,
    });
    const loads: Array<SymphonyEvents['agent.load']> = [];
    // A listener that throws is logged; the engine and the listeners after it go on.
    registry.on('agent.load', () => {
      throw new Error('a broken listener');
    });
    registry.on('agent.load', (event) => loads.push(event));
    const agent = recordingAgent('writer', async () => 'ok', { maxConcurrency: 2 });
    const manager = registry.getTaskManager();
    const ids: string[] = [];
    for (let i = 0; i < 5; i += 1) ids.push((await manager.createTask({ name: `t${i}` })).id);
    const results = await registry.getEnhancedExecutor().batchExecute(ids.map((id) => [id, agent]));
    expect(results.map((result) => result.status)).toEqual(Array(5).fill('COMPLETED'));

    expect(agent.maxInFlight).toBe(2);
    expect(loads.length).toBeGreaterThanOrEqual(3);
    expect(loads.every((load) => load.agentId === 'writer' && load.maxConcurrency === 2)).toBe(true);
    expect(Math.max(...loads.map((load) => load.inFlight))).toBe(2);
    expect(loads.at(-1)).toMatchObject({ inFlight: 0, state: 'idle' });
    // Only changes: no two in a row with the same load; the state is the agent machine's.
    loads.forEach((load, i) => {
      if (i > 0) expect(load.inFlight).not.toBe(loads[i - 1]!.inFlight);
      expect(load.state).toBe(load.inFlight === 0 ? 'idle' : load.inFlight === 2 ? 'full' : 'busy');
    });
    // Coalesced: at most one a commit, and far fewer than the tasks' own events.
    expect(Math.max(...perCommit)).toBe(1);
    expect(loads.length).toBeLessThan(5 * 3);
    // Stored with their commits, as the listeners heard them. (PostgreSQL hands an event out once
    // every transaction older than its own has ended: read until the last one is handed out.)
    const stored = async () => (await registry.readEvents({ names: ['agent.load'] })).events;
    await expect.poll(async () => (await stored()).length).toBe(loads.length);
    const events = await stored();
    expect(events.map((event) => event.payload)).toEqual(loads);
    expect(events.every((event) => event.taskId === null && event.workflowId === null)).toBe(true);
    expect(warnings.length).toBe(loads.length);
    await stopNow(registry, clock);
  });

  it('builds no agent.load when nobody listens and events are not stored', async () => {
    const { store } = backend();
    const perCommit = countLoadsPerCommit(store);
    const clock = createTestClock(1_000);
    const registry = new ServiceRegistry({ store, clock, controlPollMs: 0, storeEvents: false });
    const agent = recordingAgent('writer', async () => 'ok', { maxConcurrency: 2 });
    const task = await registry.getTaskManager().createTask({ name: 't' });
    await expect(registry.getEnhancedExecutor().executeTask(task.id, agent)).resolves.toMatchObject({
      status: 'COMPLETED',
    });
    expect(perCommit.every((count) => count === 0)).toBe(true);
    await stopNow(registry, clock);
  });
});

it('announces a load again when the batch that told it failed for good', () => {
  // The AgentLoadEvents of an engine with fakes around it: an agent at 1 of 2, a committer whose
  // batches the test fails or lets through.
  const announced: Array<Array<{ name: string; payload: unknown }>> = [];
  const callbacks: Array<(error: unknown) => void> = [];
  let inFlight = 1;
  const events = new AgentLoadEvents({
    outlet: { wants: () => true } as never,
    clock: createTestClock(5),
    committer: {
      hasRowsStaged: () => true,
      announce: (_taskId, build) => void announced.push(build()),
      afterCommit: (callback) => void callbacks.push(callback),
    },
    agent: () =>
      ({ getSnapshot: () => ({ context: { inFlight, maxConcurrency: 2 }, value: 'busy' }) }) as never,
  });
  events.changed('writer');
  events.flush();
  expect(announced.map((drafts) => drafts.map((d) => (d.payload as { inFlight: number }).inFlight))).toEqual([
    [1],
  ]);
  callbacks.shift()!(new Error('the store stayed unreachable'));
  // Nothing changed since, yet the load was never told: the next batch carries it.
  events.flush();
  expect(announced).toHaveLength(2);
  expect((announced[1]![0]!.payload as { inFlight: number }).inFlight).toBe(1);
  // Once told, an unchanged load is not told again; a committed batch keeps it told.
  callbacks.shift()!(undefined);
  events.changed('writer');
  events.flush();
  expect(announced).toHaveLength(2);
  inFlight = 2;
  events.changed('writer');
  events.flush();
  expect(announced).toHaveLength(3);
});
