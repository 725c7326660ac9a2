import { describe, expect, it } from 'vitest';
import type { Runtime } from '../../src/engine/runtime.js';
import { MemoryStore, type ServiceRegistry } from '../../src/index.js';
import type { StoreBatch } from '../../src/repositories/store.js';
import { createTestRegistry, flushEngine, manualAgent } from '../../src/testing/index.js';

/** A memory store whose commits wait, while `hold` is set, until `release()` is called. */
class GatedStore extends MemoryStore {
  hold = false;
  private waiting: Array<() => void> = [];
  override async commit(batch: StoreBatch): ReturnType<MemoryStore['commit']> {
    if (this.hold) await new Promise<void>((resolve) => this.waiting.push(resolve));
    return super.commit(batch);
  }
  release(): void {
    this.hold = false;
    for (const resolve of this.waiting.splice(0)) resolve();
  }
}

async function runtimeOf(registry: ServiceRegistry): Promise<Runtime> {
  return (registry as unknown as { runtime(): Promise<Runtime> }).runtime();
}

/**
 * Review: the last execution of a workflow ends, and its actor is to be unloaded once that commit
 * lands (LiveExecutions.leaveWorkflow -> afterCommit -> WorkflowActors.unload). A change to the
 * workflow staged while that commit is in flight makes `unload` skip (the entry is dirty), and
 * nothing tries again: the workflow actor stays in memory, and in the actor system, with no
 * execution here, and later reads use its cached row.
 */
describe('review: workflow unload skipped while a change is pending', () => {
  it('unloads the workflow once its pending change has committed', async () => {
    const store = new GatedStore();
    const { registry, taskManager, workflowTracker, executor } = createTestRegistry({ store });
    const runtime = await runtimeOf(registry);
    const workflow = await workflowTracker.createWorkflow({ name: 'w' });
    const task = await taskManager.createTask({ name: 't1', workflowId: workflow.id });
    const agent = manualAgent('m');
    const done = executor.executeTask(task.id, agent);
    await flushEngine();
    expect(runtime.hasLive(workflow.id)).toBe(true);

    store.hold = true;
    agent.resolveNext('ok');
    await flushEngine(); // the completion is in flight, held by the store
    const more = taskManager.createTask({ name: 't2', workflowId: workflow.id }); // changes the workflow meanwhile
    await flushEngine();
    store.release();
    expect((await done).status).toBe('COMPLETED');
    await more;
    await flushEngine();

    expect(runtime.hasLive(workflow.id)).toBe(false);
    expect(runtime.workflows.peek(workflow.id)).toBeUndefined();
    expect(runtime.engine.system.get(`workflow:${workflow.id}`)).toBeUndefined();
    await registry.stop();
  });
});
