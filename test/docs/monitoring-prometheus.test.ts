import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { main as prometheus } from '../../examples/monitoring-prometheus.js';
import { markdownTableRows } from '../support/markdown-table.js';

// An integration test (vitest.config.ts): the example serves /metrics on a local port.
const read = (file: string) => readFile(new URL(`../../${file}`, import.meta.url), 'utf8');

describe('docs/monitoring.md, Prometheus', () => {
  it('shows the Prometheus example as it is, and running it scrapes every documented metric', async () => {
    const doc = await read('docs/monitoring.md');
    const file = 'examples/monitoring-prometheus.ts';
    const match = new RegExp(
      `<!-- example: ${file} -->\\n\\n\`\`\`ts\\n([\\s\\S]*?)\`\`\`\\n\\n<!-- end example -->`,
    ).exec(doc);
    expect(match).not.toBeNull();
    expect(match![1]).toBe(await read(file));

    const lines = await prometheus(() => {});
    const scraped = new Set(lines.map((line) => line.split('{')[0]!));
    // The example's run fails no task for good: every other metric shows.
    const expected = markdownTableRows(doc, 'Metric')
      .map((row) => row[0]!.replace(/`/g, ''))
      .filter((name) => name !== 'symphony.task.failed');
    for (const name of expected) {
      const base = name.replace(/\./g, '_');
      const kind = markdownTableRows(doc, 'Metric').find((row) => row[0] === `\`${name}\``)![1];
      const series = kind === 'counter' ? `${base}_total` : kind === 'histogram' ? `${base}_count` : base;
      expect(scraped, series).toContain(series);
    }
    expect(lines).toContainEqual(
      expect.stringMatching(/^symphony_attempt_started_total\{.*symphony_agent_id="writer".*\} 4$/),
    );
    expect(lines).toContainEqual(
      expect.stringMatching(/^symphony_tokens_total\{.*gen_ai_token_type="input".*\} 360$/),
    );
  });
});
