import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, readStore, tempDir } from './helpers.js';

// `symphony run` of a workflow file with `fallback` (issue 14, fallback agents).

let dir: { dir: string; db: string; cleanup: () => void };
beforeAll(() => {
  dir = tempDir();
});
afterAll(() => dir.cleanup());

describe('symphony run with fallback agents', () => {
  it('runs examples/workflows/fallback.yaml: each task fails on the primary model and completes on the backup', async () => {
    const { code, stdout, stderr } = await cli(['run', 'examples/workflows/fallback.yaml', '--db', dir.db]);
    expect(code, stdout + stderr).toBe(0);
    const { tasks, configs } = await readStore(dir.db, async (store) => ({
      tasks: await store.tasks.find({}),
      configs: await store.agentConfigs.find(),
    }));
    const primary = configs.find((config) => config.name === 'Primary model')!;
    const backup = configs.find((config) => config.name === 'Backup model')!;
    expect(tasks).toHaveLength(2);
    for (const task of tasks) {
      expect(task.status).toBe('COMPLETED');
      expect(task.agentId).toBe(backup.id);
      expect(task.outputData).toEqual({ summary: `${String(task.inputData.query)} (by Backup model)` });
      // Two attempts on the primary (its retry policy), then a fresh budget on the backup.
      expect(task.errors.map((error) => [error.agentId, error.code])).toEqual([
        [primary.id, 'PROVIDER_ERROR'],
        [primary.id, 'PROVIDER_ERROR'],
      ]);
      expect(task.metadata).toMatchObject({ fallbackFrom: [primary.id], fallbackAgent: backup.id });
    }
  });
});
