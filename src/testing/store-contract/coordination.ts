import { describe, expect, it } from 'vitest';
import type { Task } from '../../domain/task.js';
import type { CoordinationFence } from '../../repositories/coordination.js';
import type { Store, WorkflowTasks } from '../../repositories/store.js';
import type { WorkflowPlan } from '../../repositories/workflow-runs.js';
import { sampleTask, sampleWorkflow, SAMPLE_TIME as T0 } from '../samples.js';
import type { ContractContext } from './shared.js';

const PLAN: WorkflowPlan = {
  agentKey: 'agent',
  agentKeys: {},
  retry: {
    maxAttempts: 1,
    initialDelayMs: 0,
    backoffFactor: 1,
    maxDelayMs: 0,
    jitter: 0,
    nonRetryableErrors: [],
    maxInterruptions: 1,
  },
  timeoutMs: 0,
  metadata: {},
  maxConcurrent: null,
};

/** COMPLETED once every stored task is, else RUNNING (enough for these tests). */
const allCompleted = (_row: unknown, tasks: WorkflowTasks) =>
  tasks.counts.COMPLETED > 0 &&
  Object.entries(tasks.counts).every(([status, n]) => status === 'COMPLETED' || n === 0)
    ? ('COMPLETED' as const)
    : ('RUNNING' as const);

/** A fan-out `fan` of workflow `wf` and the items its coordinator `by` made of it. */
function fanOut(by: string, items: readonly string[], status: Task['status'] = 'PENDING') {
  const graph = { dependsOn: [], key: null, when: null };
  const maker = sampleTask('fan', {
    workflowId: 'wf',
    status,
    graph: { ...graph, forEach: { cel: 'input.items' }, children: items.map((_, i) => `fan-${i}`) },
  });
  const made = items.map((item, index) =>
    sampleTask(`fan-${index}`, {
      name: `${item} by ${by}`,
      workflowId: 'wf',
      status,
      graph: { ...graph, item: { of: 'fan', index } },
    }),
  );
  return [maker, ...made];
}

const fence = (engineId: string): CoordinationFence => ({ engineId, workflowIds: ['wf'] });

/**
 * The coordinator fence (`StoreBatch.coordination`): for stores that hand workflows to workers
 * (`submitWorkflow`), a batch written as a workflow's coordinator applies to that workflow only while
 * the store names that engine its coordinator (issue 13: a coordinator paused past its liveness
 * window, then resumed, makes no node of a workflow another worker took over).
 */
export function describeCoordination(ctx: ContractContext): void {
  describe('coordinator fence', () => {
    /** `wf` (a fan-out, submitted) claimed by A, whose beat then expired, and taken over by B. */
    async function takenOver(store: Store): Promise<void> {
      await store.commit({
        workflows: [sampleWorkflow('wf'), sampleWorkflow('free')],
        tasks: [sampleTask('fan', { workflowId: 'wf' }), sampleTask('f1', { workflowId: 'free' })],
      });
      await store.submitWorkflow!('wf', PLAN, T0);
      const byA = await store.claimWorkflows!({ engineId: 'A', limit: 10, running: [] });
      expect(byA.map((run) => [run.coordinator, run.takenFrom])).toEqual([['A', null]]);
      // A beat with no time to live: gone at once by the store's clock, as if paused past its window.
      await store.commit({ beats: [{ engineId: 'A', ttlMs: 0, stopped: false }] });
      const byB = await store.claimWorkflows!({ engineId: 'B', limit: 10, running: [] });
      // The claim says whom it took the workflow from: B takes A's tasks of it, alive again or not.
      expect(byB.map((run) => [run.workflowId, run.coordinator, run.takenFrom])).toEqual([['wf', 'B', 'A']]);
    }

    it('applies nothing of a workflow its engine lost, and the rest of the batch', async () => {
      const store = ctx.store;
      if (!store.submitWorkflow || !store.claimWorkflows) return;
      await takenOver(store);
      // B, the coordinator now, makes the fan-out's two items with their maker's row.
      const ofB = await store.commit({ tasks: fanOut('B', ['d1', 'd2']), coordination: fence('B') });
      expect(ofB?.lost).toBeUndefined();
      // A wakes up and makes the items of its own (older) list, three of them, with a completion,
      // an event, a workflow row, and a write of another workflow and a beat in the same batch.
      const [, ...itemsOfA] = fanOut('A', ['d1', 'd2', 'd3']);
      const ofA = await store.commit({
        tasks: fanOut('A', ['d1', 'd2', 'd3']),
        taskStates: [sampleTask('f1', { workflowId: 'free', status: 'RUNNING', attempts: 1 })],
        workflows: [sampleWorkflow('wf', { status: 'RUNNING', name: 'renamed by A' })],
        completions: [{ taskId: 'fan-0', executionId: 'x-A', attempt: 1, completedAt: T0 }],
        beats: [{ engineId: 'A', ttlMs: 600_000, stopped: false }],
        coordination: fence('A'),
      });
      expect(ofA?.lost).toEqual(['wf']);
      expect([...(ofA?.fenced ?? [])].sort()).toEqual(['fan', ...itemsOfA.map((task) => task.id)].sort());
      const tasks = await store.tasks.find({ where: { workflowId: 'wf' } });
      expect(tasks.map((task) => [task.id, task.name]).sort()).toEqual([
        ['fan', 'task fan'],
        ['fan-0', 'd1 by B'],
        ['fan-1', 'd2 by B'],
      ]);
      expect((await store.tasks.get('fan'))?.graph?.children).toEqual(['fan-0', 'fan-1']);
      expect((await store.workflows.get('wf'))?.name).toBe('workflow wf');
      expect(await store.completions('fan-0')).toEqual([]);
      // What the batch wrote of other workflows, and its control records, applied.
      expect((await store.tasks.get('f1'))?.status).toBe('RUNNING');
      expect((await store.engineBeats()).find((beat) => beat.engineId === 'A')?.alive).toBe(true);
      // A's beat is back, but the workflow stays B's: A's next write of it changes nothing either.
      const again = await store.commit({ tasks: fanOut('A', ['d1']), coordination: fence('A') });
      expect(again?.lost).toEqual(['wf']);
      expect((await store.submittedWorkflows!())[0]?.coordinator).toBe('B');

      // B completes the graph: exactly its nodes, once each.
      const done = fanOut('B', ['d1', 'd2'], 'COMPLETED');
      const end = await store.commit({
        taskStates: done,
        completions: done.map((task) => ({
          taskId: task.id,
          executionId: `x-${task.id}`,
          attempt: 1,
          completedAt: T0,
        })),
        workflows: [sampleWorkflow('wf', { status: 'RUNNING' })],
        deriveWorkflows: { workflowIds: ['wf'], status: allCompleted, at: T0 + 1 },
        coordination: fence('B'),
      });
      expect(end?.lost).toBeUndefined();
      expect((await store.workflows.get('wf'))?.status).toBe('COMPLETED');
      const records = await store.completions();
      expect(records.map((record) => [record.taskId, record.executionId]).sort()).toEqual([
        ['fan', 'x-fan'],
        ['fan-0', 'x-fan-0'],
        ['fan-1', 'x-fan-1'],
      ]);
    });

    it('refuses the writes of a workflow its engine let go, or that no engine coordinates', async () => {
      const store = ctx.store;
      if (!store.submitWorkflow || !store.claimWorkflows || !store.releaseWorkflow) return;
      await takenOver(store);
      await store.releaseWorkflow('wf', 'B', null);
      const late = await store.commit({ tasks: fanOut('B', ['d1']), coordination: fence('B') });
      expect(late?.lost).toEqual(['wf']);
      expect(await store.tasks.get('fan-0')).toBeUndefined();
      // Without a fence the same writes apply (an engine that does not coordinate it: a submitter).
      const plain = await store.commit({ tasks: fanOut('B', ['d1']) });
      expect(plain?.lost).toBeUndefined();
      expect((await store.tasks.get('fan-0'))?.name).toBe('d1 by B');
    });
  });
}
