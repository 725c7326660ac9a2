import { describe, expect, it } from 'vitest';
import type { Agent } from '../../src/index.js';
import { failingAgent, manualAgent, succeedingAgent, throwingAgent } from '../../src/testing/index.js';
import { describeEveryStore } from '../durability/backends.js';
import { finishOneByOne, fullLanes, useStoreKit } from '../support/store-kit.js';

describeEveryStore('batchExecute', (backend) => {
  const { setup, createTasks, flush } = useStoreKit(backend);

  // Calls finish one at a time, each after the engine settled: the lanes in use are counted
  // whatever time the store takes to answer.
  it('never runs more than maxConcurrent at once, and fills every lane', async () => {
    const { executor } = setup();
    const agent = manualAgent('a');
    const ids = await createTasks(12);
    const batch = executor.batchExecute(
      ids.map((id) => [id, agent] as const),
      { maxConcurrent: 4 },
    );
    expect(await finishOneByOne([agent], flush)).toEqual(fullLanes(12, 4));
    const results = await batch;
    expect(agent.maxInFlight).toBe(4);
    expect(agent.calls).toHaveLength(12);
    expect(results.every((r) => r.status === 'COMPLETED')).toBe(true);
    expect(results.map((r) => r.output)).toEqual(ids.map((_, i) => `t${i}`));
  });

  it('returns results in input order even when tasks finish in another order', async () => {
    const { executor } = setup();
    const ids = await createTasks(6);
    const agent = manualAgent('a');
    const batch = executor.batchExecute(ids.map((id) => [id, agent] as const));
    await flush();
    expect(agent.waiting).toHaveLength(6);
    const finished: string[] = [];
    for (const call of [...agent.waiting].reverse()) {
      finished.push(call.task.id);
      call.resolve(call.task.id);
      await flush();
    }
    const results = await batch;
    expect(finished).toEqual([...ids].reverse());
    expect(results.map((r) => r.taskId)).toEqual(ids);
    expect(results.map((r) => r.output)).toEqual(ids);
  });

  it('a failing or throwing task does not stop the rest', async () => {
    const { executor, taskManager } = setup({ retry: { maxAttempts: 1 } });
    const ids = await createTasks(5);
    const agents: Agent[] = [
      succeedingAgent('ok', 1),
      failingAgent('fails', Infinity),
      throwingAgent('throws', undefined),
      throwingAgent('rejects', 'nope', { mode: 'reject' }),
      succeedingAgent('ok2', 2),
    ];
    const results = await executor.batchExecute(
      ids.map((id, i) => [id, agents[i]!] as const),
      { maxConcurrent: 1 },
    );
    expect(results.map((r) => r.status)).toEqual(['COMPLETED', 'FAILED', 'FAILED', 'FAILED', 'COMPLETED']);
    expect(results[4]!.output).toBe(2);
    const rows = await Promise.all(ids.map((id) => taskManager.getTask(id)));
    expect(rows.map((row) => row.status)).toEqual(results.map((r) => r.status));
  });

  it('takes the smaller of maxConcurrent and the engine limit', async () => {
    const { executor } = setup({ maxConcurrency: 2 });
    const agent = manualAgent('a');
    const ids = await createTasks(8);
    const batch = executor.batchExecute(
      ids.map((id) => [id, agent] as const),
      { maxConcurrent: 6 },
    );
    expect(await finishOneByOne([agent], flush)).toEqual(fullLanes(8, 2));
    await batch;
    expect(agent.maxInFlight).toBe(2);
  });

  it('adds the tasks to the given workflow and derives its status', async () => {
    const { executor, workflowTracker } = setup();
    const workflow = await workflowTracker.createWorkflow({ name: 'w' });
    const ids = await createTasks(3);
    const results = await executor.batchExecute(
      ids.map((id) => [id, succeedingAgent('a')] as const),
      { workflowId: workflow.id, maxConcurrent: 2 },
    );
    expect(results.map((r) => r.workflowId)).toEqual([workflow.id, workflow.id, workflow.id]);
    expect((await workflowTracker.getWorkflowTasks(workflow.id)).map((t) => t.id)).toEqual(ids);
    expect(await workflowTracker.getWorkflowStatus(workflow.id)).toBe('COMPLETED');
  });

  // Regression: a task joined the batch's workflow while the batch was being prepared, so a batch
  // refused on a later pair left the workflow counting a task it did not have (RUNNING forever).
  it('a refused batch adds nothing to its workflow; run again, the workflow completes', async () => {
    const { executor, workflowTracker, taskManager } = setup();
    const workflow = await workflowTracker.createWorkflow({ name: 'w' });
    const [id] = await createTasks(1);
    const agent = succeedingAgent('a');
    await expect(
      executor.batchExecute(
        [
          [id!, agent],
          ['missing', agent],
        ],
        { workflowId: workflow.id },
      ),
    ).rejects.toMatchObject({ code: 'TASK_NOT_FOUND' });
    expect((await taskManager.getTask(id!)).workflowId).toBeNull();
    expect(await workflowTracker.getWorkflowTasks(workflow.id)).toEqual([]);

    await executor.batchExecute([[id!, agent]], { workflowId: workflow.id });
    expect(await workflowTracker.getWorkflowStatus(workflow.id)).toBe('COMPLETED');
  });

  it('two overlapping batches: one is refused whole (INVALID_STATE), no task runs twice', async () => {
    const { executor } = setup();
    const ids = await createTasks(2);
    const agent = succeedingAgent('a');
    const outcomes = await Promise.allSettled([
      executor.batchExecute(ids.map((id) => [id, agent] as const)),
      executor.batchExecute([[ids[1]!, agent]]),
    ]);
    const rejected = outcomes.filter((o) => o.status === 'rejected');
    expect(rejected).toHaveLength(1);
    expect((rejected[0] as PromiseRejectedResult).reason).toMatchObject({ code: 'INVALID_STATE' });
    // The refused batch runs none of its tasks; the admitted one runs each of its tasks once.
    const ran = agent.calls.map((call) => call.task.id);
    expect(new Set(ran).size).toBe(ran.length);
    expect(ran).toContain(ids[1]);
  });

  it('an empty batch resolves to no results', async () => {
    const { executor } = setup();
    expect(await executor.batchExecute([], { maxConcurrent: 3 })).toEqual([]);
  });

  // The batch's options are checked once for all its tasks; each task still gets metadata of its own.
  it('gives each task of a batch its own copy of the metadata (no nested object is shared)', async () => {
    const { executor } = setup();
    const ids = await createTasks(3);
    const nested = new Set<unknown>();
    const agent: Agent = {
      id: 'meta',
      execute: (_task, context) => {
        nested.add(context.metadata.nested);
        return Promise.resolve(null);
      },
    };
    const results = await executor.batchExecute(
      ids.map((id) => [id, agent] as const),
      { maxConcurrent: 3, metadata: { nested: { level: 1 } } },
    );
    expect(results.map((r) => r.status)).toEqual(['COMPLETED', 'COMPLETED', 'COMPLETED']);
    expect(nested.size).toBe(3);
    expect([...nested]).toEqual([{ level: 1 }, { level: 1 }, { level: 1 }]);
  });

  describe('rejects up front, before any task runs', () => {
    const agent = succeedingAgent('shared');

    it.each([
      ['pairs that are not an array', () => 'nope', /`pairs`/],
      ['a pair that is not [taskId, agent]', (ids: string[]) => [[ids[0]]], /\[taskId, agent\]/],
      [
        'an agent without execute()',
        (ids: string[]) => [
          [ids[0], agent],
          [ids[1], { id: 'x' }],
        ],
        /`agent`/,
      ],
      [
        'an empty task id',
        (ids: string[]) => [
          [ids[0], agent],
          ['', agent],
        ],
        /`taskId`/,
      ],
      [
        'a task twice',
        (ids: string[]) => [
          [ids[0], agent],
          [ids[0], agent],
        ],
        /twice/,
      ],
    ] as const)('%s: INVALID_ARGUMENT', async (_label, pairs, message) => {
      const { executor, taskManager } = setup();
      const ids = await createTasks(2);
      agent.reset();
      const rejection = executor.batchExecute(pairs(ids) as never);
      await expect(rejection).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        name: 'InvalidArgumentError',
      });
      await expect(rejection).rejects.toThrow(message);
      expect(agent.calls).toHaveLength(0);
      expect((await taskManager.getTask(ids[0]!)).status).toBe('PENDING');
    });

    it.each([0, -1, 1.5, '3'])('maxConcurrent %s: INVALID_ARGUMENT naming the field', async (value) => {
      const { executor } = setup();
      const ids = await createTasks(1);
      await expect(
        executor.batchExecute([[ids[0]!, agent]], { maxConcurrent: value as number }),
      ).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: expect.stringContaining('`maxConcurrent`'),
      });
    });

    it('an unknown task id: TASK_NOT_FOUND, and the valid tasks stay executable', async () => {
      const { executor, taskManager } = setup();
      const ids = await createTasks(2);
      agent.reset();
      await expect(
        executor.batchExecute([
          [ids[0]!, agent],
          ['missing', agent],
          [ids[1]!, agent],
        ]),
      ).rejects.toMatchObject({ code: 'TASK_NOT_FOUND' });
      expect(agent.calls).toHaveLength(0);
      expect((await taskManager.getTask(ids[0]!)).status).toBe('PENDING');
      expect((await executor.executeTask(ids[0]!, agent)).status).toBe('COMPLETED');
    });
  });
});
