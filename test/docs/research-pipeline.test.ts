import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { main } from '../../examples/research-pipeline.js';
import { loadWorkflowFile } from '../../src/cli/workflow-file/load.js';

// docs/workflows.md's loop and wait example: a fan-out, a review loop until approval, an escalation
// branch by condition, and a wait for a human approval that the example signals itself.

const read = (path: string) => readFile(new URL(`../../${path}`, import.meta.url), 'utf8');

describe('examples/research-pipeline.ts', () => {
  it('loops until the reviewer approves, skips the escalation, and publishes once the approval signal comes', async () => {
    const lines: string[] = [];
    const outcome = await main((line) => lines.push(line));
    expect(outcome.result.status).toBe('COMPLETED');
    expect(outcome.statuses).toEqual({
      fetch: 'COMPLETED',
      summarise: 'COMPLETED',
      'summarise [0]': 'COMPLETED',
      'summarise [1]': 'COMPLETED',
      'summarise [2]': 'COMPLETED',
      review: 'COMPLETED',
      'review [iteration 0]': 'COMPLETED',
      'review [iteration 1]': 'COMPLETED',
      'review [iteration 2]': 'COMPLETED',
      escalate: 'SKIPPED',
      approval: 'COMPLETED',
      publish: 'COMPLETED',
    });
    expect(outcome.iterations.map(({ name, output }) => [name, output])).toEqual([
      ['review [iteration 0]', expect.objectContaining({ version: 1, approved: false })],
      ['review [iteration 1]', expect.objectContaining({ version: 2, approved: false })],
      ['review [iteration 2]', expect.objectContaining({ version: 3, approved: true })],
    ]);
    // The loop completes unrun with the approved iteration's output.
    expect(outcome.review.attempts).toBe(0);
    expect(outcome.review.outputData).toEqual(outcome.iterations[2]!.output);
    expect(outcome.review.graph?.children).toEqual([0, 1, 2].map((i) => `${outcome.review.id}-${i}`));
    expect(outcome.approval).toMatchObject({
      status: 'COMPLETED',
      attempts: 0,
      outputData: { signal: 'approval', payload: { approved: true, by: 'editor' } },
    });
    expect(outcome.signalTakenBy).toBe(outcome.approval.id);
    // The signal was sent after the wait began, and the loop ran before it.
    const waiting = lines.indexOf('approval: waiting for the signal "approval"');
    expect(waiting).toBeGreaterThan(lines.indexOf('review [iteration 2]: draft 3, approved'));
    expect(lines[waiting + 1]).toBe('approval: signal sent, {"approved":true,"by":"editor"}');
    expect(lines).toContain('publish: draft 3, approved by editor');
  });

  it('runs the escalation branch when the review flags a risk', async () => {
    const outcome = await main(() => {}, true);
    expect(outcome.result.status).toBe('COMPLETED');
    expect(outcome.statuses.escalate).toBe('COMPLETED');
    expect(outcome.statuses.publish).toBe('COMPLETED');
  });

  it("the blocks docs/workflows.md marks as excerpts are the example files' code, line for line", async () => {
    const doc = await read('docs/workflows.md');
    const marked = [...doc.matchAll(/<!-- excerpt: ([\w./-]+) -->\n\n```\w+\n([\s\S]*?)```/g)];
    expect(marked.map(([, path]) => path)).toEqual([
      'examples/research-pipeline.ts',
      'examples/research-pipeline.ts',
      'examples/research-pipeline.ts',
      'examples/workflows/research-pipeline.yaml',
    ]);
    // Compared without indentation: the doc shows a block dedented.
    const lines = (text: string) => text.split('\n').map((line) => line.trim());
    for (const [, path, block] of marked) {
      const file = lines(await read(path!)).join('\n');
      expect(file, `${path} no longer holds a block docs/workflows.md quotes; paste it again`).toContain(
        lines(block!).join('\n').trim(),
      );
    }
  });

  it('examples/workflows/research-pipeline.yaml loads with the same shape: fan-out, loop, escalation, wait', async () => {
    const file = await loadWorkflowFile(
      fileURLToPath(new URL('../../examples/workflows/research-pipeline.yaml', import.meta.url)),
    );
    const shape = Object.fromEntries(
      file.tasks.map((task) => [
        task.key,
        (['forEach', 'loop', 'when', 'waitFor'] as const).filter((option) => task[option] !== undefined),
      ]),
    );
    expect(shape).toEqual({
      fetch: [],
      summaries: ['forEach'],
      review: ['loop'],
      escalate: ['when'],
      approval: ['waitFor'],
      publish: ['when'],
    });
    expect(file.tasks.find((task) => task.key === 'review')!.loop).toEqual({
      until: 'outputs.review.approved == true',
      maxIterations: 4,
    });
  });

  it('docs/workflows.md links the example and its workflow file, which exist', async () => {
    const doc = await read('docs/workflows.md');
    for (const path of ['examples/research-pipeline.ts', 'examples/workflows/research-pipeline.yaml']) {
      expect(doc).toContain(`](../${path})`);
      await expect(read(path)).resolves.toBeDefined();
    }
  });
});
