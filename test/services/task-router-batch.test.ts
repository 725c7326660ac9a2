import { describe, expect, it } from 'vitest';
import type { InspectionEvent } from 'xstate';
import { NoAgentAvailableError, type AgentConfig, type RoutingStrategy, type Task } from '../../src/index.js';
import { flushEngine, manualAgent, succeedingAgent } from '../../src/testing/index.js';
import { useTestKit } from '../support/kit.js';

const tests = useTestKit((k) => {
  k.agentFactory.registerAgentType('echo', (config) => succeedingAgent(`impl-${config.id}`, config.name));
});
const { setup } = tests;

async function configs(
  ...inputs: Array<{ name: string; capabilities?: string[]; maxConcurrency?: number }>
): Promise<AgentConfig[]> {
  const made: AgentConfig[] = [];
  for (const input of inputs)
    made.push(await tests.kit.agentFactory.createAgentConfig({ type: 'echo', ...input }));
  return made;
}

/** An inspector collecting the agent ids of every ROUTED event the router actor receives. */
function routedEvents(into: string[]): (event: InspectionEvent) => void {
  return (event) => {
    if (event.type !== '@xstate.event' || event.event.type !== 'ROUTED') return;
    if ((event.actorRef as { id?: string }).id !== 'router') return;
    for (const agentId of event.event.agentIds as string[]) into.push(agentId);
  };
}

async function newTasks(n: number, fields: { tags?: string[] } = {}): Promise<Task[]> {
  const made: Task[] = [];
  for (let i = 0; i < n; i += 1)
    made.push(await tests.kit.taskManager.createTask({ name: `t${i}`, ...fields }));
  return made;
}

describe('TaskRouter.routeTasks', () => {
  it('LOAD_BALANCED spreads a batch over equal agents, in input order, ids and Tasks alike', async () => {
    const { router } = setup({ routingStrategy: 'LOAD_BALANCED' });
    const [a, b, c] = await configs({ name: 'A' }, { name: 'B' }, { name: 'C' });
    const batch = await newTasks(7);
    const chosen = await router.routeTasks(batch.map((task, i) => (i % 2 === 0 ? task.id : task)));
    expect(chosen).toEqual([a, b, c, a, b, c, a].map((config) => config!.id));
    // Planning reserves nothing: the live load is unchanged.
    expect([...(await router.getLoad())]).toEqual([]);
  });

  it('routeTask of the same tasks one by one (nothing queued yet) picks one agent every time', async () => {
    const { router } = setup({ routingStrategy: 'LOAD_BALANCED' });
    const [a] = await configs({ name: 'A' }, { name: 'B' });
    const picks = new Set<string>();
    for (const task of await newTasks(4)) picks.add(await router.routeTask(task));
    expect([...picks]).toEqual([a!.id]);
  });

  it('CAPABILITY_MATCH spreads within the best tier only', async () => {
    const { router } = setup();
    const [pdf1, , pdf2] = await configs(
      { name: 'pdf-1', capabilities: ['pdf'] },
      { name: 'text', capabilities: ['text'], maxConcurrency: 9 },
      { name: 'pdf-2', capabilities: ['pdf', 'ocr'] },
    );
    const chosen = await router.routeTasks(await newTasks(4, { tags: ['pdf'] }));
    const expected = [pdf1!.id, pdf2!.id].sort();
    expect(chosen).toEqual([expected[0], expected[1], expected[0], expected[1]]);
  });

  it('ROUND_ROBIN advances the router cursor once per task, as routeTask does', async () => {
    const routed: string[] = [];
    const { router } = setup({ routingStrategy: 'ROUND_ROBIN', inspect: routedEvents(routed) });
    const [a, b, c] = await configs({ name: 'A' }, { name: 'B' }, { name: 'C' });
    const [first, ...rest] = await newTasks(5);
    expect(await router.routeTask(first!)).toBe(a!.id);
    expect(await router.routeTasks(rest)).toEqual([b, c, a, b].map((config) => config!.id));
    expect(await router.routeTask(first!)).toBe(c!.id);
    expect(routed).toEqual([a, b, c, a, b, c].map((config) => config!.id));
  });

  it('rejects with NO_AGENT_AVAILABLE naming the first task without an agent, lists them all, and records nothing', async () => {
    const routed: string[] = [];
    const { router } = setup({ inspect: routedEvents(routed) });
    const [a] = await configs({ name: 'A', capabilities: ['pdf'] }, { name: 'B', capabilities: ['text'] });
    const [ok, orphan, other] = await newTasks(3);
    const tagged = [ok!, { ...orphan!, tags: ['audio'] }, { ...other!, tags: ['video'] }];
    const error = (await router
      .routeTasks(tagged, { strategy: 'CAPABILITY_MATCH' })
      .catch((e: unknown) => e)) as NoAgentAvailableError;
    expect(error).toBeInstanceOf(NoAgentAvailableError);
    expect(error).toMatchObject({ code: 'NO_AGENT_AVAILABLE', retryable: true });
    expect(error.message).toContain(JSON.stringify(orphan!.id));
    expect(error.message).toContain('index 1 in a batch of 3; 1 more task of it cannot be routed either');
    expect(error.details).toMatchObject({
      taskId: orphan!.id,
      index: 1,
      reason: 'missing-capabilities',
      unroutable: [
        expect.objectContaining({ index: 1, taskId: orphan!.id, reason: 'missing-capabilities' }),
        expect.objectContaining({ index: 2, taskId: other!.id, reason: 'missing-capabilities' }),
      ],
    });
    // The failed plan told the router actor nothing, not even about the task it could route.
    expect(routed).toEqual([]);
    expect(await router.routeTasks([ok!])).toEqual([a!.id]);
    expect(routed).toEqual([a!.id]);
  });

  it('validates its arguments with typed errors', async () => {
    const { router } = setup();
    await configs({ name: 'A' });
    const [task] = await newTasks(1);
    const invalid = { code: 'INVALID_ARGUMENT' };
    await expect(router.routeTasks('nope' as unknown as string[])).rejects.toMatchObject(invalid);
    await expect(router.routeTasks([42 as unknown as string])).rejects.toMatchObject({
      ...invalid,
      message: expect.stringContaining('`tasks[0]`'),
    });
    await expect(router.routeTasks([''])).rejects.toMatchObject(invalid);
    await expect(router.routeTasks([task!.id, task!])).rejects.toMatchObject({
      ...invalid,
      message: expect.stringContaining('appears twice'),
    });
    await expect(
      router.routeTasks([task!], { strategy: 'FASTEST' as RoutingStrategy }),
    ).rejects.toMatchObject(invalid);
    await expect(
      router.routeTasks([task!], { candidates: 'A' as unknown as string[] }),
    ).rejects.toMatchObject({ ...invalid, message: expect.stringContaining('`candidates`') });
    await expect(router.routeTask(task!, { candidates: 'A' as unknown as string[] })).rejects.toMatchObject(
      invalid,
    );
    await expect(router.routeTasks([task!.id, 'missing'])).rejects.toMatchObject({
      code: 'TASK_NOT_FOUND',
      details: { taskId: 'missing' },
    });
    expect(await router.routeTasks([])).toEqual([]);
  });
});

describe('queued load', () => {
  it('getLoad counts executions waiting in an agent queue; routing avoids the agent with the longer queue', async () => {
    const { router, taskManager, executor } = setup({ routingStrategy: 'LOAD_BALANCED' });
    const [a, b] = await configs({ name: 'A', maxConcurrency: 5 }, { name: 'B', maxConcurrency: 5 });
    // A's agent takes one at a time: one runs, two wait. B's takes two: both run.
    const slowA = manualAgent('slow-a', { configId: a!.id, maxConcurrency: 1 });
    const slowB = manualAgent('slow-b', { configId: b!.id, maxConcurrency: 2 });
    const onA = (await newTasks(3)).map((task) => executor.executeTask(task.id, slowA));
    const onB = (await newTasks(2)).map((task) => executor.executeTask(task.id, slowB));
    await flushEngine();
    const load = await router.getLoad();
    expect(load.get(a!.id)).toEqual({ inFlight: 1, queued: 2, completed: 0, failed: 0 });
    expect(load.get(b!.id)).toEqual({ inFlight: 2, queued: 0, completed: 0, failed: 0 });

    // By inFlight alone A (1) would win over B (2); with its queue A has 3.
    const task = await taskManager.createTask({ name: 'next' });
    expect(await router.routeTask(task)).toBe(b!.id);
    expect(await router.routeTasks([task])).toEqual([b!.id]);

    slowA.resolveNext('done');
    await flushEngine();
    expect((await router.getLoad()).get(a!.id)).toEqual({ inFlight: 1, queued: 1, completed: 1, failed: 0 });
    // The snapshot taken earlier does not change.
    expect(load.get(a!.id)).toMatchObject({ inFlight: 1, queued: 2 });
    // A now has 2 assigned, B 2: equal, and A's ratio is the same, so the lower id decides.
    expect(await router.routeTask(task)).toBe([a!.id, b!.id].sort()[0]);

    while (slowA.waiting.length > 0 || slowB.waiting.length > 0) {
      for (const agent of [slowA, slowB]) if (agent.waiting.length > 0) agent.resolveNext('done');
      await flushEngine();
    }
    await Promise.all([...onA, ...onB]);
    expect((await router.getLoad()).get(a!.id)).toEqual({ inFlight: 0, queued: 0, completed: 3, failed: 0 });
  });

  it('counts the executions a batch reserved for a later lane; paused ones do not count', async () => {
    const { router, taskManager, executor } = setup();
    const [a] = await configs({ name: 'A', maxConcurrency: 5 });
    const slow = manualAgent('slow', { configId: a!.id });
    const batch = await newTasks(4);
    const done = executor.batchExecute(
      batch.map((task) => [task.id, slow] as const),
      { maxConcurrent: 1 },
    );
    await flushEngine();
    expect((await router.getLoad()).get(a!.id)).toMatchObject({ inFlight: 1, queued: 3 });
    await taskManager.pauseTask(batch[3]!.id);
    await flushEngine();
    expect((await router.getLoad()).get(a!.id)).toMatchObject({ inFlight: 1, queued: 2 });
    await taskManager.resumeTask(batch[3]!.id);
    while ((await router.getLoad()).get(a!.id)!.completed < 4) {
      if (slow.waiting.length > 0) slow.resolveNext('done');
      await flushEngine();
    }
    expect((await done).map((result) => result.status)).toEqual(Array(4).fill('COMPLETED'));
  });

  it('does not count the queue of a paused workflow', async () => {
    const { router, executor, workflowTracker } = setup();
    const [a] = await configs({ name: 'A', maxConcurrency: 5 });
    const slow = manualAgent('slow', { configId: a!.id, maxConcurrency: 1 });
    const workflow = await workflowTracker.createWorkflow({ name: 'w' });
    const runs = (await newTasks(3)).map((task) => executor.executeTask(task.id, slow, workflow.id));
    await flushEngine();
    expect((await router.getLoad()).get(a!.id)).toMatchObject({ inFlight: 1, queued: 2 });
    await workflowTracker.pauseWorkflow(workflow.id);
    expect((await router.getLoad()).get(a!.id)).toMatchObject({ inFlight: 1, queued: 0 });
    await workflowTracker.resumeWorkflow(workflow.id);
    expect((await router.getLoad()).get(a!.id)).toMatchObject({ inFlight: 1, queued: 2 });
    for (let i = 0; i < 3; i += 1) {
      slow.resolveNext('done');
      await flushEngine();
    }
    expect((await Promise.all(runs)).map((result) => result.status)).toEqual(Array(3).fill('COMPLETED'));
  });
});
