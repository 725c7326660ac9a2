import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, readStore, tempDir } from './helpers.js';

// `symphony run` on a workflow file with key / dependsOn / when runs it as a graph (issue 12).

let dir: { dir: string; db: string; cleanup: () => void };
beforeAll(() => {
  dir = tempDir();
});
afterAll(() => dir.cleanup());

describe('symphony run with a graph file', () => {
  it('runs examples/workflows/research-graph.yaml: dependencies first, the branch not taken SKIPPED, exit 0', async () => {
    const { code, stdout, stderr } = await cli([
      'run',
      'examples/workflows/research-graph.yaml',
      '--db',
      dir.db,
      '--json',
    ]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const summary = JSON.parse(stdout) as {
      workflow: { id: string; status: string };
      tasks: { byStatus: Record<string, number> };
    };
    expect(summary.workflow.status).toBe('COMPLETED');
    expect(summary.tasks.byStatus).toMatchObject({ COMPLETED: 5, SKIPPED: 1 });
    const tasks = await readStore(dir.db, (store) =>
      store.tasks.find({ where: { workflowId: summary.workflow.id } }),
    );
    const byName = new Map(tasks.map((task) => [task.name, task]));
    expect(byName.get('Escalate to legal')!.status).toBe('SKIPPED');
    const review = byName.get('Review the summaries')!;
    // The review started after both summaries finished, and saw both of their outputs.
    for (const name of ['Summarise paper A', 'Summarise paper B']) {
      expect(review.startedAt!).toBeGreaterThanOrEqual(byName.get(name)!.finishedAt!);
    }
    expect((review.outputData as { summaries: string[] }).summaries.sort()).toEqual([
      'paper-a: graph engines work',
      'paper-b: graph engines work',
    ]);
    expect(byName.get('Summarise paper A')!.graph).toEqual({
      dependsOn: [byName.get('Fetch the documents')!.id],
      key: 'summary_a',
      when: null,
    });
    expect(review.graph!.dependsOn).toHaveLength(2);
    const completions = await readStore(dir.db, (store) => store.completions());
    const ids = new Set(tasks.filter((t) => t.status === 'COMPLETED').map((t) => t.id));
    expect(completions.filter((c) => ids.has(c.taskId))).toHaveLength(5);
    expect(completions.some((c) => c.taskId === byName.get('Escalate to legal')!.id)).toBe(false);
  });
});
