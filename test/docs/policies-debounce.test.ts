import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { main as debounce } from '../../examples/policy-debounce.js';

const read = (path: string) => readFile(new URL(`../../${path}`, import.meta.url), 'utf8');

describe('docs/policies.md, Debounce and singleton', () => {
  it('policy-debounce runs only the last edit, after the quiet period, and refuses a second singleton', async () => {
    const lines: string[] = [];
    expect(await debounce((line) => lines.push(line))).toEqual(['edit-3 at 700 ms']);
    expect(lines).toEqual([
      'edit-1: CANCELLED',
      'edit-2: CANCELLED',
      'edit-3: COMPLETED',
      'ran: edit-3 at 700 ms',
      'sync-2: SINGLETON_ACTIVE',
    ]);
  });

  it('quotes the example as it is', async () => {
    const doc = await read('docs/policies.md');
    const file = 'examples/policy-debounce.ts';
    const match = new RegExp(
      `<!-- example: ${file} -->\\n\\n\`\`\`ts\\n([\\s\\S]*?)\`\`\`\\n\\n<!-- end example -->`,
    ).exec(doc);
    expect(match).not.toBeNull();
    expect(match![1]).toBe(await read(file));
  });
});

describe('docs/policies.md, Debounce and singleton in a workflow', () => {
  it('quotes examples/workflows/reindex.yaml as it is', async () => {
    const doc = await read('docs/policies.md');
    const file = 'examples/workflows/reindex.yaml';
    const match = new RegExp(
      `<!-- example: ${file} -->\\n\\n\`\`\`yaml\\n([\\s\\S]*?)\`\`\`\\n\\n<!-- end example -->`,
    ).exec(doc);
    expect(match).not.toBeNull();
    expect(match![1]).toBe(await read(file));
  });
});
