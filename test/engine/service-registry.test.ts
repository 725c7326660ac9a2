import { afterEach, describe, expect, it } from 'vitest';
import {
  MemoryStore,
  ServiceRegistry,
  type Query,
  type Repository,
  type Task,
  type Where,
} from '../../src/index.js';
import { createTestRegistry, succeedingAgent } from '../../src/testing/index.js';

const registries: ServiceRegistry[] = [];

function track<T extends ServiceRegistry>(registry: T): T {
  registries.push(registry);
  return registry;
}

afterEach(async () => {
  await Promise.all(registries.splice(0).map((registry) => registry.stop()));
  await ServiceRegistry.resetInstance();
});

/** A plain Map-backed repository that counts its writes. */
class CountingRepository<T extends { id: string }> implements Repository<T> {
  readonly rows = new Map<string, T>();
  writes = 0;

  async get(id: string): Promise<T | undefined> {
    const row = this.rows.get(id);
    return row && structuredClone(row);
  }

  async getMany(ids: readonly string[]): Promise<T[]> {
    const found: T[] = [];
    for (const id of new Set(ids)) {
      const row = this.rows.get(id);
      if (row) found.push(structuredClone(row));
    }
    return found;
  }

  async find(query: Query<T> = {}): Promise<T[]> {
    const where = (query.where ?? {}) as Where<T>;
    const matches = [...this.rows.values()].filter((row) =>
      Object.entries(where).every(([key, value]) => row[key as keyof T] === value),
    );
    const from = query.offset ?? 0;
    return matches
      .slice(from, query.limit === undefined ? undefined : from + query.limit)
      .map((r) => structuredClone(r));
  }

  async count(where?: Where<T>): Promise<number> {
    return (await this.find({ where })).length;
  }

  async create(entity: T): Promise<T> {
    this.writes += 1;
    this.rows.set(entity.id, structuredClone(entity));
    return entity;
  }

  async saveMany(entities: readonly T[]): Promise<void> {
    this.writes += 1;
    for (const entity of entities) this.rows.set(entity.id, structuredClone(entity));
  }

  async delete(id: string): Promise<boolean> {
    return this.rows.delete(id);
  }
}

describe('ServiceRegistry', () => {
  it('two registries share no state: tasks, workflows, agent configs, hooks, strategies', async () => {
    const one = track(new ServiceRegistry({ store: new MemoryStore() }));
    const two = track(new ServiceRegistry({ store: new MemoryStore() }));
    const task = await one.getTaskManager().createTask({ name: 'only in one' });
    await one.getWorkflowTracker().createWorkflow({ name: 'w' });
    one.getAgentFactory().registerAgentType('echo', () => succeedingAgent('e'));
    await one.getAgentFactory().createAgentConfig({ name: 'E', type: 'echo' });
    let hookCalls = 0;
    await one.getEnhancedExecutor().addPreHook(() => {
      hookCalls += 1;
    });
    await one.getTaskRouter().setStrategy('ROUND_ROBIN');

    expect(await two.getTaskManager().listTasks()).toEqual([]);
    await expect(two.getTaskManager().getTask(task.id)).rejects.toMatchObject({ code: 'TASK_NOT_FOUND' });
    expect(await two.getWorkflowTracker().listWorkflows()).toEqual([]);
    expect(await two.getAgentFactory().listAgentConfigs()).toEqual([]);
    expect(two.getAgentFactory().hasAgentType('echo')).toBe(false);
    expect(await two.getTaskRouter().getStrategy()).toBe('CAPABILITY_MATCH');
    const other = await two.getTaskManager().createTask({ name: 'in two' });
    await two.getEnhancedExecutor().executeTask(other.id, succeedingAgent('a'));
    expect(hookCalls).toBe(0);
    expect(await one.getTaskManager().listTasks()).toHaveLength(1);
  });

  it('makes ids of 21 letters and digits by default, so no id reads as a command-line option', async () => {
    const registry = track(new ServiceRegistry({ store: new MemoryStore() }));
    const ids: string[] = [];
    for (let n = 0; n < 200; n += 1)
      ids.push((await registry.getTaskManager().createTask({ name: `t${n}` })).id);
    for (const id of ids) expect(id).toMatch(/^[0-9A-Za-z]{21}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('getInstance returns the same instance until resetInstance', async () => {
    const first = ServiceRegistry.getInstance();
    expect(ServiceRegistry.getInstance()).toBe(first);
    expect(first.getTaskManager()).toBe(ServiceRegistry.getInstance().getTaskManager());
    await ServiceRegistry.resetInstance();
    const second = ServiceRegistry.getInstance();
    expect(second).not.toBe(first);
    expect(ServiceRegistry.getInstance()).toBe(second);
  });

  it('each getter returns the same service every time', () => {
    const registry = track(new ServiceRegistry({ store: new MemoryStore() }));
    expect(registry.getTaskManager()).toBe(registry.getTaskManager());
    expect(registry.getWorkflowTracker()).toBe(registry.getWorkflowTracker());
    expect(registry.getEnhancedExecutor()).toBe(registry.getEnhancedExecutor());
    expect(registry.getAgentFactory()).toBe(registry.getAgentFactory());
    expect(registry.getTaskRouter()).toBe(registry.getTaskRouter('ROUND_ROBIN'));
  });

  it('getRepository reads what the services wrote, from the store passed in', async () => {
    const store = new MemoryStore();
    const { registry, taskManager } = createTestRegistry({ store });
    track(registry);
    const task = await taskManager.createTask({ name: 't' });
    expect(registry.options.store).toBe(store);
    expect(registry.getRepository('tasks')).toBe(store.tasks);
    expect(await registry.getRepository('tasks').get(task.id)).toMatchObject({ id: task.id, name: 't' });
    expect(() => registry.getRepository('nope')).toThrow(
      expect.objectContaining({ code: 'REPOSITORY_NOT_FOUND' }),
    );
  });

  it('registerRepository: a custom tasks repository is the one the engine reads and writes', async () => {
    const tasks = new CountingRepository<Task>();
    // No store option: the other core repositories are in memory.
    const registry = track(new ServiceRegistry());
    const taskManager = registry.getTaskManager();
    const executor = registry.getEnhancedExecutor();
    registry.registerRepository('tasks', tasks);
    expect(registry.getRepository('tasks')).toBe(tasks);

    const task = await taskManager.createTask({ name: 'custom' });
    const result = await executor.executeTask(task.id, succeedingAgent('a', 'out'));

    expect(result.status).toBe('COMPLETED');
    expect(tasks.rows.get(task.id)).toMatchObject({ status: 'COMPLETED', outputData: 'out' });
    expect(tasks.writes).toBeGreaterThanOrEqual(2);
    expect(() => registry.registerRepository('tasks', new CountingRepository<Task>())).toThrow(
      expect.objectContaining({ code: 'INVALID_STATE' }),
    );
  });

  it('registerRepository: any other name is kept and returned as is; bad repositories are refused', () => {
    const registry = track(new ServiceRegistry({ store: new MemoryStore() }));
    const notes = new CountingRepository<{ id: string; text: string }>();
    registry.registerRepository('notes', notes);
    expect(registry.getRepository('notes')).toBe(notes);
    expect(() => registry.registerRepository('bad', {} as never)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
    expect(() => registry.registerRepository('', notes)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
  });

  it('construction does no I/O: the store opens on first use', async () => {
    let opened = 0;
    const store = new MemoryStore();
    const open = store.open.bind(store);
    store.open = async () => {
      opened += 1;
      await open();
    };
    const registry = track(new ServiceRegistry({ store }));
    registry.getTaskManager();
    expect(opened).toBe(0);
    await registry.getTaskManager().listTasks();
    await registry.getWorkflowTracker().listWorkflows();
    expect(opened).toBe(1);
  });

  it('after stop, new work is refused with ENGINE_STOPPED', async () => {
    const { registry, taskManager, executor } = createTestRegistry();
    const task = await taskManager.createTask({ name: 't' });
    await registry.stop();
    await expect(executor.executeTask(task.id, succeedingAgent('a'))).rejects.toMatchObject({
      code: 'ENGINE_STOPPED',
    });
  });
});
