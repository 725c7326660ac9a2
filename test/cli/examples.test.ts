import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, EXAMPLES, readStore, tempDir } from './helpers.js';

const { db, cleanup } = tempDir();
afterAll(() => cleanup());

const files = readdirSync(EXAMPLES).filter((file) => /\.(ya?ml|json)$/.test(file));

describe('examples/workflows', () => {
  it('has YAML and JSON examples', () => {
    expect(files.some((file) => file.endsWith('.yaml'))).toBe(true);
    expect(files.some((file) => file.endsWith('.json'))).toBe(true);
  });

  it.each(files)('symphony run examples/workflows/%s completes every task', async (file) => {
    const { code, stdout, stderr } = await cli(['run', join(EXAMPLES, file), '--db', db, '--json']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const summary = JSON.parse(stdout) as {
      workflow: { id: string; status: string };
      tasks: { total: number };
    };
    expect(summary.workflow.status).toBe('COMPLETED');
    const tasks = await readStore(db, (store) =>
      store.tasks.find({ where: { workflowId: summary.workflow.id } }),
    );
    expect(tasks).toHaveLength(summary.tasks.total);
    // A graph's branch not taken ends SKIPPED (research-graph.yaml: the escalation); every other task ran.
    const ran = tasks.filter((task) => task.status !== 'SKIPPED');
    expect(ran.every((task) => task.status === 'COMPLETED' && task.outputData !== null)).toBe(true);
    expect(tasks.filter((task) => task.status === 'SKIPPED').every((task) => task.graph?.when !== null)).toBe(
      true,
    );
  });
});
