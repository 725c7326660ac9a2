import { readFile } from 'node:fs/promises';
import { expect, it } from 'vitest';
import { main } from '../../examples/policies-time-limits.js';

const read = (path: string) => readFile(new URL(`../../${path}`, import.meta.url), 'utf8');

it('policies-time-limits: a delayed start, a deadline, a close limit and a heartbeat timeout', async () => {
  const lines: string[] = [];
  await main((line) => lines.push(line));
  expect(lines).toEqual([
    'delayed: started at +1000 ms',
    'deadline: FAILED DEADLINE_EXCEEDED after 0 attempts',
    'close: FAILED SCHEDULE_TO_CLOSE_TIMEOUT',
    'heartbeat: COMPLETED, attempt 2 resumed after page 1 (HEARTBEAT_TIMEOUT before)',
  ]);
});

it.each(['examples/policies-time-limits.ts', 'examples/workflows/time-limits.yaml'])(
  'docs/policies.md quotes %s as it is',
  async (file) => {
    const doc = await read('docs/policies.md');
    const fence = file.endsWith('.ts') ? 'ts' : 'yaml';
    const match = new RegExp(
      `<!-- example: ${file} -->\\n\\n\`\`\`${fence}\\n([\\s\\S]*?)\`\`\`\\n\\n<!-- end example -->`,
    ).exec(doc);
    expect(match).not.toBeNull();
    expect(match![1]).toBe(await read(file));
  },
);
