import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { main } from '../../examples/workflow-graph.js';

// docs/workflows.md's example: a research pipeline with parallel summaries, a review that reads
// both, and two conditional branches (CEL and a function).

describe('docs/workflows.md example', () => {
  it('runs the branch the review allows and skips the other with everything after it', async () => {
    const lines: string[] = [];
    const outcome = await main((line) => lines.push(line));
    expect(outcome.result.status).toBe('COMPLETED');
    expect(outcome.statuses).toEqual({
      fetch: 'COMPLETED',
      'summarise A': 'COMPLETED',
      'summarise B': 'COMPLETED',
      review: 'COMPLETED',
      escalate: 'SKIPPED',
      'notify legal': 'SKIPPED',
      publish: 'COMPLETED',
    });
    expect(outcome.ran[0]).toBe('fetch');
    expect(outcome.ran.slice(3)).toEqual(['review', 'publish']);
    expect(outcome.reviewSaw).toEqual({
      a: { summary: 'A: graph engines works' },
      b: { summary: 'B: graph engines works' },
    });
    expect(outcome.result.results.map((r) => r.status)).toEqual(Array(5).fill('COMPLETED'));
  });

  it('takes the other branch when the review flags a risk', async () => {
    const outcome = await main(() => {}, true);
    expect(outcome.statuses.escalate).toBe('COMPLETED');
    expect(outcome.statuses['notify legal']).toBe('COMPLETED');
    expect(outcome.statuses.publish).toBe('SKIPPED');
  });

  it('the doc links the example files, which exist', async () => {
    const doc = await readFile(new URL('../../docs/workflows.md', import.meta.url), 'utf8');
    for (const path of ['examples/workflow-graph.ts', 'examples/workflows/research-graph.yaml']) {
      expect(doc).toContain(`](../${path})`);
      await expect(readFile(new URL(`../../${path}`, import.meta.url))).resolves.toBeDefined();
    }
  });
});
