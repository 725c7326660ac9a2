import { describe, expect, it } from 'vitest';
import type { Task } from '../../src/domain/task.js';
import type { Workflow } from '../../src/domain/workflow.js';
import { MemoryRepository } from '../../src/repositories/memory/memory-repository.js';
import type { Repository } from '../../src/repositories/repository.js';
import { RepositoryStore, withGetMany } from '../../src/repositories/repository-store.js';
import { sampleTask } from '../../src/testing/samples.js';

/** A repository written before getMany existed. */
function legacyRepository(): Omit<Repository<Task>, 'getMany'> & { gets: number } {
  const inner = new MemoryRepository<Task>('task');
  return {
    gets: 0,
    get(id) {
      this.gets += 1;
      return inner.get(id);
    },
    find: (query) => inner.find(query),
    count: (where) => inner.count(where),
    create: (entity) => inner.create(entity),
    saveMany: (entities) => inner.saveMany(entities),
    delete: (id) => inner.delete(id),
  };
}

describe('RepositoryStore', () => {
  it('gives a repository without getMany one made of get calls, and keeps one that has it', async () => {
    const legacy = legacyRepository();
    const workflows = new MemoryRepository<Workflow>('workflow');
    const store = new RepositoryStore(
      legacy as unknown as Repository<Task>,
      workflows,
      new MemoryRepository(),
    );
    expect(store.workflows).toBe(workflows);
    await store.commit({ tasks: [sampleTask('a'), sampleTask('b')] });
    expect((await store.tasks.getMany(['b', 'x', 'a', 'b'])).map((task) => task.id)).toEqual(['b', 'a']);
    expect(legacy.gets).toBe(3);
    await expect(store.tasks.getMany([1] as unknown as string[])).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    await expect(store.tasks.count()).resolves.toBe(2);
    const withIt = new MemoryRepository<Task>('task');
    expect(withGetMany(withIt)).toBe(withIt);
  });
});
