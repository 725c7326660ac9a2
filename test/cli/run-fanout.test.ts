import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, readStore, tempDir } from './helpers.js';

// `symphony run` on a workflow file with a fan-out (forEach): one task per item, outputs in order.

let dir: { dir: string; db: string; cleanup: () => void };
beforeAll(() => {
  dir = tempDir();
});
afterAll(() => dir.cleanup());

describe('symphony run with a fan-out', () => {
  it('runs examples/workflows/research-fanout.yaml: one task per document, the review gets their outputs in order', async () => {
    const { code, stdout, stderr } = await cli([
      'run',
      'examples/workflows/research-fanout.yaml',
      '--db',
      dir.db,
      '--json',
    ]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const summary = JSON.parse(stdout) as {
      workflow: { id: string; status: string };
      tasks: { total: number; byStatus: Record<string, number> };
    };
    expect(summary.workflow.status).toBe('COMPLETED');
    // fetch, the fan-out, its 3 tasks, review, publish.
    expect(summary.tasks).toMatchObject({ total: 7, byStatus: { COMPLETED: 7 } });
    const tasks = await readStore(dir.db, (store) =>
      store.tasks.find({ where: { workflowId: summary.workflow.id } }),
    );
    const byName = new Map(tasks.map((task) => [task.name, task]));
    const fetch = byName.get('Fetch the documents')!;
    const fanOut = byName.get('Summarise')!;
    const review = byName.get('Review the summaries')!;
    const documents = ['paper-a', 'paper-b', 'paper-c'];
    expect(fetch.outputData).toEqual({ documents });

    const items = documents.map((_, index) => byName.get(`Summarise [${index}]`)!);
    expect(fanOut.graph).toMatchObject({
      dependsOn: [fetch.id],
      key: 'summaries',
      forEach: { cel: 'outputs.fetch.documents' },
      children: items.map((item) => item.id),
    });
    // The fan-out ran no agent: it completed with its tasks' outputs, in the items' order.
    expect(fanOut.attempts).toBe(0);
    items.forEach((item, index) => {
      expect(item.graph?.item).toEqual({ of: fanOut.id, index });
      expect(item.inputData).toMatchObject({ step: 'summarise', item: documents[index], index });
      expect(item.attempts).toBe(1);
      expect(review.startedAt!).toBeGreaterThanOrEqual(item.finishedAt!);
    });
    const summaries = documents.map((document) => `${document}: graph engines work`);
    expect(fanOut.outputData).toEqual(summaries.map((text) => ({ summary: text })));
    expect(review.graph!.dependsOn).toEqual([fanOut.id]);
    expect(review.outputData).toEqual({ risk: false, summaries });
    expect(byName.get('Publish the digest')!.status).toBe('COMPLETED');
  });
});
