import { readFile, readdir } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { main as basicWorkflow } from '../../examples/docs-basic-workflow.js';
import { main as batch } from '../../examples/docs-batch.js';
import { main as routing } from '../../examples/docs-routing.js';
import { emptyCounts, type TaskCounts } from '../../machines/workflow.machine.js';
import { TASK_STATUSES, type TaskStatus } from '../../machines/status.js';
import * as api from '../../src/index.js';
import { markdownTableRows } from '../support/markdown-table.js';

const docsDir = new URL('../../docs/', import.meta.url);
const readDoc = (name: string) => readFile(new URL(name, docsDir), 'utf8');

function collect(): { lines: string[]; log: (line: string) => void } {
  const lines: string[] = [];
  return { lines, log: (line) => lines.push(line) };
}

function parseCounts(cell: string): TaskCounts {
  const counts = emptyCounts();
  if (cell === 'none') return counts;
  for (const part of cell.split(',')) {
    const [n, status] = part.trim().split(/\s+/);
    if (!TASK_STATUSES.includes(status as TaskStatus)) throw new Error(`Unknown status in "${cell}"`);
    counts[status as TaskStatus] += Number(n);
  }
  return counts;
}

const yes = (cell: string) => {
  if (cell !== 'yes' && cell !== 'no') throw new Error(`Expected yes or no, got "${cell}"`);
  return cell === 'yes';
};

describe('docs examples', () => {
  it('docs-basic-workflow completes its task in the workflow and reports the workflow COMPLETED', async () => {
    const { lines, log } = collect();
    const outcome = await basicWorkflow(log);
    expect(outcome.statusBefore).toBe('PENDING');
    expect(outcome.result.status).toBe('COMPLETED');
    expect(outcome.result.output).toEqual({ words: 3, attempt: 1 });
    expect(outcome.result.attempts).toBe(1);
    expect(outcome.result.errors).toEqual([]);
    expect(outcome.result.workflowId).not.toBeNull();
    expect(outcome.result.metadata).toEqual({ requestedBy: 'docs' });
    expect(outcome.task.status).toBe('COMPLETED');
    expect(outcome.task.workflowId).toBe(outcome.result.workflowId);
    expect(outcome.task.outputData).toEqual({ words: 3, attempt: 1 });
    expect(outcome.statusAfter).toBe('COMPLETED');
    expect(lines.at(-1)).toBe('Workflow "Example Workflow" is COMPLETED');
  });

  it('docs-routing routes by capability and by content, and the load table counts the execution', async () => {
    const { lines, log } = collect();
    const outcome = await routing(log);
    expect(outcome.byCapability).toBe('Translator');
    expect(outcome.byContent).toBe('Summarizer');
    expect(outcome.result.status).toBe('COMPLETED');
    expect(outcome.result.output).toEqual({
      translatedBy: 'Translator',
      text: '[fr] The library opens at nine.',
    });
    expect(outcome.completedByChosen).toBe(1);
    expect(lines[0]).toMatch(/^CAPABILITY_MATCH: /);
  });

  it('docs-batch runs at most 3 at once, keeps input order and lets one failure not stop the rest', async () => {
    const { lines, log } = collect();
    const outcome = await batch(log);
    expect(outcome.results.map((result) => result.status)).toEqual([
      'COMPLETED',
      'COMPLETED',
      'COMPLETED',
      'FAILED',
      'COMPLETED',
    ]);
    expect(outcome.results.map((result) => result.output)).toEqual([
      { processed: 0 },
      { processed: 1 },
      { processed: 2 },
      null,
      { processed: 4 },
    ]);
    const failed = outcome.results[3]!;
    expect(failed.attempts).toBe(1);
    expect(failed.error).toMatchObject({
      code: 'NON_RETRYABLE',
      name: 'NonRetryableError',
      retryable: false,
    });
    expect(outcome.peakConcurrency).toBe(3);
    expect(outcome.workflowStatus).toBe('FAILED');
    expect(lines).toHaveLength(6);
  });
});

describe('docs stay true to the code', () => {
  it('every row of the workflow status table in status-rules.md is what deriveWorkflowStatus says', async () => {
    const rows = markdownTableRows(await readDoc('status-rules.md'), 'paused');
    expect(rows.length).toBeGreaterThanOrEqual(10);
    for (const [paused, cancelled, started, tasks, status] of rows) {
      const context = {
        paused: yes(paused!),
        cancelled: yes(cancelled!),
        started: yes(started!),
        counts: parseCounts(tasks!),
      };
      expect({ row: [paused, cancelled, started, tasks], status: api.deriveWorkflowStatus(context) }).toEqual(
        {
          row: [paused, cancelled, started, tasks],
          status,
        },
      );
    }
  });

  it('errors.md names every error code and every exported error class', async () => {
    const errors = await readDoc('errors.md');
    for (const code of Object.values(api.ErrorCode)) expect(errors).toContain(`\`${code}\``);
    const classes = Object.keys(api).filter((name) => name.endsWith('Error'));
    expect(classes.length).toBeGreaterThan(10);
    for (const name of classes) expect(errors).toContain(`\`${name}\``);
  });

  it('api.md names every value exported by src/index.ts', async () => {
    const doc = await readDoc('api.md');
    const missing = Object.keys(api).filter((name) => !name.endsWith('Error') && !doc.includes(`\`${name}`));
    expect(missing).toEqual([]);
  });

  it('api.md links every docs example, and every link points at a file that exists', async () => {
    const doc = await readDoc('api.md');
    const examples = (await readdir(new URL('../../examples/', import.meta.url))).filter((name) =>
      name.startsWith('docs-'),
    );
    expect(examples.length).toBeGreaterThanOrEqual(6);
    for (const name of examples) expect(doc).toContain(`](../examples/${name})`);
  });
});
