/**
 * Found by test/cli/graph-resume.test.ts (brief E): `executeWorkflow` resolves while the workflow is
 * still RUNNING when the last node to run completes and a dependent of it is skipped (another of its
 * dependencies was skipped): the graph marks the dependent skipped at once, its SKIP is written
 * later (Graphs.finishUnrun), and WorkflowRun.isStalled (6b8b3e5) sees nothing running or deciding
 * in between, so the run resolves with status RUNNING and the task still PENDING.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStore, ServiceRegistry, type Agent, type Store } from '../../src/index.js';
import { SqliteStore } from '../../src/repositories/sqlite/sqlite-store.js';

const registries: ServiceRegistry[] = [];
afterEach(async () => {
  await Promise.all(registries.splice(0).map((registry) => registry.stop()));
});

const agent: Agent = { id: 'echo', execute: async (task) => ({ from: task.name }) };

async function skippedAfterLastRun(store: Store) {
  const registry = new ServiceRegistry({ store, controlPollMs: 0, retry: { maxAttempts: 1 } });
  registries.push(registry);
  const tasks = registry.getTaskManager();
  const tracker = registry.getWorkflowTracker();
  const wf = await tracker.createWorkflow({ name: 'skip after the last run' });
  const [a, s, b, c] = [
    await tasks.createTask({ name: 'a' }),
    await tasks.createTask({ name: 's' }),
    await tasks.createTask({ name: 'b' }),
    await tasks.createTask({ name: 'c' }),
  ];
  await tracker.addTaskToWorkflow(wf.id, a!.id, { key: 'a' });
  await tracker.addTaskToWorkflow(wf.id, s!.id, { dependsOn: [a!.id], when: 'false' });
  await tracker.addTaskToWorkflow(wf.id, b!.id, { dependsOn: [a!.id] });
  // c is skipped (s was) only once b, the last node to run, has completed.
  await tracker.addTaskToWorkflow(wf.id, c!.id, { dependsOn: [b!.id, s!.id] });
  const result = await registry.getEnhancedExecutor().executeWorkflow(wf.id, { agent });
  return { result, workflowId: wf.id, tracker };
}

describe('executeWorkflow when the last run skips a dependent', () => {
  for (const [name, make] of [
    ['memory', () => new MemoryStore()],
    [
      'sqlite',
      () => new SqliteStore({ path: join(mkdtempSync(join(tmpdir(), 'symphony-skip-race-')), 'r.db') }),
    ],
  ] as const) {
    it(`${name}: resolves COMPLETED, with the dependent SKIPPED (resolved RUNNING before the fix)`, async () => {
      const { result, workflowId, tracker } = await skippedAfterLastRun(make());
      const statuses = Object.fromEntries(
        (await tracker.getWorkflowTasks(workflowId)).map((task) => [task.name, task.status]),
      );
      expect({ status: result.status, c: statuses.c }).toEqual({ status: 'COMPLETED', c: 'SKIPPED' });
    });
  }
});
