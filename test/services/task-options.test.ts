/**
 * Options of single tasks of a workflow run (`taskOptions` of executeWorkflow and enqueueWorkflow,
 * issue 14): merged over the run's by one rule, checked as the execution plan checks them, and
 * honoured in one engine, in the plans enqueued for workers, and in the plan of a workflow handed
 * to workers as a whole. On every store.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors/codes.js';
import { withTaskOptions } from '../../src/services/task-options.js';
import { manualAgent } from '../../src/testing/index.js';
import { describeEveryStore } from '../durability/backends.js';
import { useStoreKit } from '../support/store-kit.js';

describe('withTaskOptions', () => {
  it("lays a task's options over the run's: retry field by field, a delayed start and a key as a whole", () => {
    const run = {
      timeoutMs: 1000,
      retry: { maxAttempts: 5, initialDelayMs: 10 },
      delayMs: 50,
      deadline: 9,
      concurrencyKey: 'acme',
      keyConcurrency: 2,
      keyRateLimits: [{ requests: 1, per: 1000 }],
      metadata: { run: true },
    };
    expect(withTaskOptions(run, undefined)).toBe(run);
    expect(
      withTaskOptions(run, { timeoutMs: 5, retry: { maxAttempts: 1 }, runAt: 7, scheduleToStartMs: 3 }),
    ).toEqual({
      timeoutMs: 5,
      retry: { maxAttempts: 1, initialDelayMs: 10 },
      runAt: 7,
      scheduleToStartMs: 3,
      concurrencyKey: 'acme',
      keyConcurrency: 2,
      keyRateLimits: [{ requests: 1, per: 1000 }],
      metadata: { run: true },
    });
    // Its own key comes with its own limits; a limit alone limits the run's key for it.
    expect(withTaskOptions(run, { concurrencyKey: 'globex' })).toMatchObject({ concurrencyKey: 'globex' });
    expect(withTaskOptions(run, { concurrencyKey: 'globex' })).not.toHaveProperty('keyConcurrency');
    expect(withTaskOptions(run, { concurrencyKey: 'globex' })).not.toHaveProperty('keyRateLimits');
    expect(withTaskOptions(run, { keyConcurrency: 1 })).toMatchObject({
      concurrencyKey: 'acme',
      keyConcurrency: 1,
    });
  });
});

describeEveryStore('taskOptions', (backend) => {
  const tests = useStoreKit(backend);

  /** A workflow of tasks `names`, each joined with its name as key; their ids by name. */
  async function workflowOf(names: string[], dependsOn: Record<string, string> = {}) {
    const { workflowTracker, taskManager } = tests.kit;
    const workflow = await workflowTracker.createWorkflow({ name: 'w' });
    const ids: Record<string, string> = {};
    for (const name of names) ids[name] = (await taskManager.createTask({ name })).id;
    await workflowTracker.addTasksToWorkflow(
      workflow.id,
      names.map((name) => ({
        taskId: ids[name]!,
        key: name,
        ...(dependsOn[name] === undefined ? {} : { dependsOn: [ids[dependsOn[name]]!] }),
      })),
    );
    return { workflowId: workflow.id, ids };
  }

  it("a task's own timeoutMs aborts its attempt only (EXECUTION_TIMEOUT); the other runs on", async () => {
    const { executor, clock, workflowTracker, taskManager } = tests.setup({ retry: { maxAttempts: 1 } });
    // A workflow without graph parts: its tasks are named by id.
    const { id: workflowId } = await workflowTracker.createWorkflow({ name: 'w' });
    const ids = {
      fetch: (await taskManager.createTask({ name: 'fetch', workflowId })).id,
      write: (await taskManager.createTask({ name: 'write', workflowId })).id,
    };
    const agent = manualAgent('m', { maxConcurrency: 2 });
    const run = executor.executeWorkflow(workflowId, {
      agent,
      timeoutMs: 60_000,
      taskOptions: { [ids.fetch]: { timeoutMs: 100 } },
    });
    await tests.flush();
    expect(agent.waiting.map((call) => call.task.name).sort()).toEqual(['fetch', 'write']);
    await tests.advance(clock, 100);
    expect(agent.waiting.map((call) => call.task.name)).toEqual(['write']);
    await tests.advance(clock, 10_000);
    agent.resolveNext('written');
    const result = await run;
    expect(result.status).toBe('FAILED');
    const byId = Object.fromEntries(result.results.map((r) => [r.taskId, r]));
    const byName = { fetch: byId[ids.fetch], write: byId[ids.write] };
    expect(byName.fetch).toMatchObject({ status: 'FAILED', error: { code: ErrorCode.EXECUTION_TIMEOUT } });
    expect(byName.write).toMatchObject({ status: 'COMPLETED' });
  });

  it("a fan-out's items run under their maker's options; other tasks under the run's", async () => {
    const { executor } = tests.setup();
    const { workflowTracker, taskManager } = tests.kit;
    const workflow = await workflowTracker.createWorkflow({ name: 'w' });
    const list = await taskManager.createTask({ name: 'list' });
    const each = await taskManager.createTask({ name: 'each' });
    await workflowTracker.addTasksToWorkflow(workflow.id, [
      { taskId: list.id, key: 'list' },
      { taskId: each.id, key: 'each', dependsOn: [list.id], forEach: 'outputs.list' },
    ]);
    const agent = manualAgent('m', { maxConcurrency: 4 });
    const run = executor.executeWorkflow(workflow.id, {
      agent,
      taskOptions: { each: { concurrencyKey: 'items', timeoutMs: 777 } },
    });
    await tests.flush();
    agent.resolveNext([1, 2]);
    await tests.flush();
    const items = agent.waiting.map((call) => call.task);
    expect(items.map((task) => task.execution?.concurrencyKey)).toEqual(['items', 'items']);
    expect(items.map((task) => task.execution?.timeoutMs)).toEqual([777, 777]);
    expect(agent.calls[0]!.task.execution).not.toHaveProperty('concurrencyKey');
    while (agent.waiting.length > 0) {
      agent.resolveNext('ok');
      await tests.flush();
    }
    expect((await run).status).toBe('COMPLETED');
  });

  it("a child-workflow node's options apply to every task of its child", async () => {
    const { executor, workflowTracker, taskManager } = tests.setup();
    const workflow = await workflowTracker.createWorkflow({ name: 'w' });
    const plain = await taskManager.createTask({ name: 'plain' });
    const group = await taskManager.createTask({ name: 'group' });
    await workflowTracker.addTasksToWorkflow(workflow.id, [
      { taskId: plain.id, key: 'plain' },
      {
        taskId: group.id,
        key: 'group',
        workflow: {
          definition: { name: 'child', tasks: [{ key: 'one' }, { key: 'two', dependsOn: ['one'] }] },
        },
      },
    ]);
    const agent = manualAgent('m', { maxConcurrency: 4 });
    const run = executor.executeWorkflow(workflow.id, {
      agent,
      timeoutMs: 60_000,
      taskOptions: { group: { timeoutMs: 5_000, concurrencyKey: 'child' } },
    });
    const plans: Record<string, unknown> = {};
    for (let step = 0; step < 3; step += 1) {
      await tests.flush();
      for (const call of [...agent.waiting]) {
        plans[call.task.name] = call.task.execution;
        call.resolve('ok');
      }
    }
    expect((await run).status).toBe('COMPLETED');
    expect(Object.keys(plans).sort()).toEqual(['one', 'plain', 'two']);
    expect(plans.plain).toMatchObject({ timeoutMs: 60_000 });
    expect(plans.plain).not.toHaveProperty('concurrencyKey');
    for (const name of ['one', 'two']) {
      expect(plans[name]).toMatchObject({ timeoutMs: 5_000, concurrencyKey: 'child' });
    }
  });

  it('refuses an unknown task, an unknown field and a bad value: INVALID_ARGUMENT naming the task', async () => {
    const { executor } = tests.setup();
    const { workflowId } = await workflowOf(['fetch']);
    const agent = manualAgent('m');
    const refusal = (taskOptions: unknown) =>
      executor.executeWorkflow(workflowId, { agent, taskOptions: taskOptions as never });
    await expect(refusal({ nope: { timeoutMs: 1 } })).rejects.toMatchObject({
      code: ErrorCode.INVALID_ARGUMENT,
      message: `Expected \`taskOptions\` to name tasks of workflow ${workflowId} by key or id, got "nope"`,
    });
    await expect(refusal({ fetch: { priority: 1 } })).rejects.toMatchObject({
      code: ErrorCode.INVALID_ARGUMENT,
      message: expect.stringContaining('Expected `taskOptions.fetch` to set only timeoutMs, retry,'),
    });
    await expect(refusal({ fetch: { timeoutMs: -1 } })).rejects.toMatchObject({
      code: ErrorCode.INVALID_ARGUMENT,
      message: 'taskOptions.fetch: Expected `timeoutMs` to be a finite number >= 0, got -1',
    });
    await expect(refusal({ fetch: { keyConcurrency: 2 } })).rejects.toMatchObject({
      code: ErrorCode.INVALID_ARGUMENT,
      message: 'taskOptions.fetch: Expected `keyConcurrency` only with a `concurrencyKey`',
    });
    await expect(
      executor.enqueueWorkflow(workflowId, {
        agentKey: 'w',
        taskOptions: { fetch: { retry: { maxAttempts: 0 } } },
      }),
    ).rejects.toMatchObject({
      code: ErrorCode.INVALID_ARGUMENT,
      message: expect.stringMatching(/^taskOptions\.fetch: /),
    });
  });

  it("checkWorkflowOptions refuses what executeWorkflow would, the run's own options too, and runs nothing", async () => {
    const { executor } = tests.setup();
    const { workflowId, ids } = await workflowOf(['fetch']);
    const agent = manualAgent('m');
    const check = (options: Record<string, unknown>) =>
      executor.checkWorkflowOptions({ agent, ...options } as never);
    await expect(check({ taskOptions: { fetch: { timeoutMs: 1 } } })).resolves.toBeUndefined();
    // executeWorkflow checks these as each task's plan is made; the check, at once.
    await expect(check({ runAt: -1 })).rejects.toMatchObject({
      code: ErrorCode.INVALID_ARGUMENT,
      message: 'Expected `runAt` to be a whole number of milliseconds >= 0, got -1',
    });
    await expect(check({ concurrencyKey: 'k'.repeat(256) })).rejects.toMatchObject({
      code: ErrorCode.INVALID_ARGUMENT,
      message: expect.stringContaining('Expected `concurrencyKey` to be a non-empty string of at most 255'),
    });
    await expect(check({ fallback: { maxAgents: 1 } })).rejects.toMatchObject({
      code: ErrorCode.INVALID_ARGUMENT,
      message: 'Expected no `agent` with `fallback`: falling back routes each failed task',
    });
    await expect(check({ taskOptions: { fetch: { keyConcurrency: 2 } } })).rejects.toMatchObject({
      message: 'taskOptions.fetch: Expected `keyConcurrency` only with a `concurrencyKey`',
    });
    expect(agent.calls).toHaveLength(0);
    const { taskManager, workflowTracker } = tests.kit;
    expect(await taskManager.getTask(ids.fetch!)).toMatchObject({ status: 'PENDING', attempts: 0 });
    expect(await workflowTracker.getWorkflow(workflowId)).toMatchObject({ status: 'PENDING' });
  });

  it("enqueueWorkflow writes each task's own options into its execution plan", async () => {
    const { executor, workflowTracker, taskManager } = tests.setup();
    const workflow = await workflowTracker.createWorkflow({ name: 'w' });
    const first = await taskManager.createTask({ name: 'first', workflowId: workflow.id });
    const second = await taskManager.createTask({ name: 'second', workflowId: workflow.id });
    await executor.enqueueWorkflow(workflow.id, {
      agentKey: 'workers',
      timeoutMs: 60_000,
      concurrencyKey: 'acme',
      taskOptions: {
        [second.id]: { timeoutMs: 50, concurrencyKey: 'globex', keyConcurrency: 1, delayMs: 5 },
      },
    });
    await tests.flush();
    const stored = await tests.store.tasks.getMany([first.id, second.id]);
    const plan = (id: string) => stored.find((task) => task.id === id)!.execution;
    expect(plan(first.id)).toMatchObject({ timeoutMs: 60_000, concurrencyKey: 'acme' });
    expect(plan(first.id)).not.toHaveProperty('keyConcurrency');
    expect(plan(second.id)).toMatchObject({ timeoutMs: 50, concurrencyKey: 'globex', keyConcurrency: 1 });
    expect(stored.find((task) => task.id === second.id)!.runAfter).toBe(tests.kit.clock.now() + 5);
  });

  it("a workflow with graph parts keeps the tasks' own options in its plan; their time limits are refused", async () => {
    const { executor } = tests.setup();
    const { workflowId } = await workflowOf(['fetch', 'write'], { write: 'fetch' });
    await expect(
      executor.enqueueWorkflow(workflowId, { agentKey: 'workers', taskOptions: { write: { delayMs: 5 } } }),
    ).rejects.toMatchObject({
      code: ErrorCode.INVALID_ARGUMENT,
      message: expect.stringMatching(/^taskOptions\.write: Expected no time limits/),
    });
    await executor.enqueueWorkflow(workflowId, {
      agentKey: 'workers',
      taskOptions: { write: { timeoutMs: 50, concurrencyKey: 'globex' } },
    });
    const [submitted] = (await tests.store.submittedWorkflows?.()) ?? [];
    expect(submitted!.plan.taskOptions).toEqual({ write: { timeoutMs: 50, concurrencyKey: 'globex' } });
  });

  it("a schedule's template gives each task of every workflow it starts its own options, by key", async () => {
    const { registry } = tests.setup();
    const scheduler = registry.getScheduler();
    const workflow = { name: 'nightly', tasks: [{ key: 'fetch' }, { key: 'write' }] };
    await expect(
      scheduler.create({
        id: 'bad',
        cron: '0 3 * * *',
        template: { workflow, agentKey: 'workers', taskOptions: { nope: { timeoutMs: 5 } } },
      }),
    ).rejects.toMatchObject({
      code: ErrorCode.INVALID_ARGUMENT,
      message: 'Expected `template.taskOptions` to name tasks of the template by key, got "nope"',
    });
    await scheduler.create({
      id: 'nightly',
      cron: '0 3 * * *',
      template: {
        workflow,
        agentKey: 'workers',
        timeoutMs: 60_000,
        taskOptions: { write: { timeoutMs: 50 } },
      },
    });
    const { workflowId } = await scheduler.trigger('nightly');
    await tests.flush();
    const tasks = await tests.store.tasks.find({ where: { workflowId } });
    const planOf = (key: string) => tasks.find((task) => task.id === `${workflowId}-${key}`)!.execution;
    expect(planOf('fetch')).toMatchObject({ timeoutMs: 60_000 });
    expect(planOf('write')).toMatchObject({ timeoutMs: 50 });
  });
});
