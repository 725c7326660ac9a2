import { afterEach, describe, expect, it } from 'vitest';
import {
  InvalidArgumentError,
  InvalidStateError,
  ServiceRegistry,
  SymphonyError,
  TaskNotFoundError,
  type Agent,
  type ExecuteOptions,
} from '../../src/index.js';
import {
  createTestRegistry,
  flushEngine,
  manualAgent,
  succeedingAgent,
  type TestRegistry,
} from '../../src/testing/index.js';

let kit: TestRegistry;

function setup(): TestRegistry {
  kit = createTestRegistry();
  return kit;
}

afterEach(async () => {
  await kit?.stop();
});

describe('misuse rejects with typed errors and stable codes', () => {
  it('an unknown task id: TaskNotFoundError, TASK_NOT_FOUND', async () => {
    const { executor, taskManager } = setup();
    const error = await executor.executeTask('missing', succeedingAgent('a')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TaskNotFoundError);
    expect(SymphonyError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ name: 'TaskNotFoundError', code: 'TASK_NOT_FOUND', taskId: 'missing' });
    await expect(taskManager.getTask('missing')).rejects.toMatchObject({ code: 'TASK_NOT_FOUND' });
    await expect(taskManager.cancelTask('missing')).rejects.toMatchObject({ code: 'TASK_NOT_FOUND' });
    await expect(taskManager.pauseTask('missing')).rejects.toMatchObject({ code: 'TASK_NOT_FOUND' });
  });

  it('executing a COMPLETED task: InvalidStateError, INVALID_STATE', async () => {
    const { executor, taskManager } = setup();
    const task = await taskManager.createTask({ name: 't' });
    await executor.executeTask(task.id, succeedingAgent('a'));
    const error = await executor.executeTask(task.id, succeedingAgent('a')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidStateError);
    expect(error).toMatchObject({ code: 'INVALID_STATE', message: expect.stringContaining('COMPLETED') });
  });

  it('executing a task that is already running: INVALID_STATE, and the first run is unaffected', async () => {
    const { executor, taskManager } = setup();
    const task = await taskManager.createTask({ name: 't' });
    const agent = manualAgent('m');
    const first = executor.executeTask(task.id, agent);
    await flushEngine();
    await expect(executor.executeTask(task.id, agent)).rejects.toMatchObject({
      code: 'INVALID_STATE',
      message: expect.stringContaining('already being executed'),
    });
    await expect(executor.batchExecute([[task.id, agent]])).rejects.toMatchObject({ code: 'INVALID_STATE' });
    agent.resolveNext('once');
    expect(await first).toMatchObject({ status: 'COMPLETED', output: 'once' });
    expect(agent.calls).toHaveLength(1);
  });

  // Regression: prepare checked for a live execution after its last await, but the execution was
  // registered an await hop later, so two calls in one turn both passed and the agent ran twice.
  it('two executeTask calls for one task in the same turn: one rejects with INVALID_STATE', async () => {
    const { executor, taskManager } = setup();
    const task = await taskManager.createTask({ name: 't' });
    const agent = succeedingAgent('a');
    const outcomes = await Promise.allSettled([
      executor.executeTask(task.id, agent),
      executor.executeTask(task.id, agent),
    ]);
    expect(outcomes.map((o) => o.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect(agent.calls).toHaveLength(1);
  });

  it.each<[string, ExecuteOptions | unknown, string]>([
    ['timeoutMs', { timeoutMs: -1 }, '`timeoutMs`'],
    ['timeoutMs', { timeoutMs: Number.NaN }, '`timeoutMs`'],
    ['retry', { retry: 3 }, '`retry`'],
    ['retry.maxAttempts', { retry: { maxAttempts: 0 } }, '`retry.maxAttempts`'],
    ['retry.initialDelayMs', { retry: { initialDelayMs: -5 } }, '`retry.initialDelayMs`'],
    ['retry.backoffFactor', { retry: { backoffFactor: 0.5 } }, '`retry.backoffFactor`'],
    ['retry.jitter', { retry: { jitter: 2 } }, '`retry.jitter`'],
    [
      'retry.nonRetryableErrors',
      { retry: { nonRetryableErrors: 'TypeError' } },
      '`retry.nonRetryableErrors`',
    ],
    ['metadata', { metadata: 'x' }, '`metadata`'],
    ['priority', { priority: 1.5 }, '`priority`'],
    ['signal', { signal: 'abort' }, '`signal`'],
    ['options', 'fast', '`options`'],
  ])('bad option %s: InvalidArgumentError naming the field', async (_field, options, named) => {
    const { executor, taskManager } = setup();
    const task = await taskManager.createTask({ name: 't' });
    const agent = succeedingAgent('a');
    const error = await executor
      .executeTask(task.id, agent, null, options as ExecuteOptions)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect((error as Error).message).toContain(named);
    expect(agent.calls).toHaveLength(0);
    expect((await executor.executeTask(task.id, agent)).status).toBe('COMPLETED');
  });

  it.each<[string, unknown, string]>([
    ['not an object', null, '`agent`'],
    ['without execute', { id: 'x' }, '`agent`'],
    ['with an empty id', { id: '', execute: async () => null }, '`agent.id`'],
    [
      'with maxConcurrency 0',
      { id: 'x', maxConcurrency: 0, execute: async () => null },
      '`agent.maxConcurrency`',
    ],
  ])('an agent %s: INVALID_ARGUMENT naming the field', async (_label, agent, named) => {
    const { executor, taskManager } = setup();
    const task = await taskManager.createTask({ name: 't' });
    await expect(executor.executeTask(task.id, agent as Agent)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining(named),
    });
  });

  it('a task id that is not a string: INVALID_ARGUMENT naming `taskId`', async () => {
    const { executor } = setup();
    await expect(executor.executeTask(42 as unknown as string, succeedingAgent('a'))).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('`taskId`'),
    });
  });

  it('bad task and workflow input: INVALID_ARGUMENT naming the field', async () => {
    const { taskManager, workflowTracker } = setup();
    await expect(taskManager.createTask({} as never)).rejects.toThrow(/`name`/);
    await expect(taskManager.createTask({ name: 't', tags: 'x' } as never)).rejects.toThrow(/`tags`/);
    await expect(taskManager.createTask({ name: 't', priority: 0.5 })).rejects.toThrow(/`priority`/);
    await expect(workflowTracker.createWorkflow({ name: 3 } as never)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('`name`'),
    });
    expect(await taskManager.listTasks()).toEqual([]);
  });

  it('bad registry options throw at construction: INVALID_ARGUMENT naming the field', () => {
    expect(() => new ServiceRegistry({ maxConcurrency: 0 })).toThrow(/`maxConcurrency`/);
    expect(() => new ServiceRegistry({ timeoutMs: -1 })).toThrow(/`timeoutMs`/);
    expect(() => new ServiceRegistry({ retry: { maxAttempts: 1.5 } })).toThrow(/`retry.maxAttempts`/);
    expect(() => new ServiceRegistry({ maxConcurrency: 0 })).toThrow(InvalidArgumentError);
  });

  it('error messages say what was expected and what came', async () => {
    const { executor, taskManager } = setup();
    const task = await taskManager.createTask({ name: 't' });
    await expect(
      executor.executeTask(task.id, succeedingAgent('a'), null, { retry: { maxAttempts: 0 } }),
    ).rejects.toThrow('Expected `retry.maxAttempts` to be an integer >= 1, got 0');
  });
});
