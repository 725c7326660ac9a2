import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { main as events } from '../../examples/docs-events.js';
import { SYMPHONY_EVENT_NAMES } from '../../src/index.js';
import { markdownTableRows } from '../support/markdown-table.js';

const monitoring = () => readFile(new URL('../../docs/monitoring.md', import.meta.url), 'utf8');

describe('docs/monitoring.md', () => {
  it('lists exactly the events the engine publishes', async () => {
    const text = await monitoring();
    const names = [
      ...markdownTableRows(text, 'Event'),
      ...markdownTableRows(text.split('### Workflow events')[1]!, 'Event'),
    ].map((row) => row[0]!.replace(/`/g, ''));
    expect([...names].sort()).toEqual([...SYMPHONY_EVENT_NAMES].sort());
  });

  it('runs the events example: a failed attempt, a retry, a completion, seen by a listener and an iterator', async () => {
    const lines: string[] = [];
    const seen = await events((line) => lines.push(line));
    expect(seen).toEqual(['task.started', 'task.attemptFailed', 'task.started', 'task.completed']);
    expect(lines).toEqual([
      'Summarise: attempt 1 failed (provider hiccup), retry: true',
      'Summarise: done in 2 attempts',
      'iterator saw: task.started, task.attemptFailed, task.started, task.completed',
    ]);
  });
});
