import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { main as fairnessKeys } from '../../examples/policy-fairness-keys.js';
import { main as keyRateLimits } from '../../examples/policy-key-rate-limits.js';
import { main as rateLimits } from '../../examples/policy-rate-limits.js';

const read = (path: string) => readFile(new URL(`../../${path}`, import.meta.url), 'utf8');

describe('docs/policies.md examples', () => {
  it('policy-rate-limits starts at the rate, highest priority first, and waits out a retry-after', async () => {
    const lines: string[] = [];
    const starts = await rateLimits((line) => lines.push(line));
    expect(starts).toEqual([
      ['p1', 0],
      ['p5', 0],
      ['p4', 500],
      ['p3', 1_000],
      ['p2', 1_500],
      ['p9', 2_000],
      // p9's 429 emptied the bucket until 5,000 ms; its retry outranks p0 for the next token.
      ['p9', 5_500],
      ['p0', 6_000],
    ]);
    expect(lines).toHaveLength(8);
  });

  it("policy-key-rate-limits starts a key at its rate and another key's task at once", async () => {
    const lines: string[] = [];
    const starts = await keyRateLimits((line) => lines.push(line));
    expect(starts).toEqual([
      ['big 0', 0],
      ['small 0', 500],
      ['big 1', 1_000],
      ['big 2', 2_000],
    ]);
    expect(lines).toEqual([
      'big 0 started at 0 ms',
      'small 0 started at 500 ms',
      'big 1 started at 1000 ms',
      'big 2 started at 2000 ms',
    ]);
  });

  it('policy-fairness-keys runs the small key beside the big one, the big one 2 at a time', async () => {
    const lines: string[] = [];
    const rounds = await fairnessKeys((line) => lines.push(line));
    expect(rounds).toEqual([
      ['big 0', 'big 1', 'small 0'],
      ['big 2', 'big 3', 'big 4', 'big 5'],
    ]);
    expect(lines).toEqual(['running first: big 0, big 1, small 0', 'then: big 2, big 3, big 4, big 5']);
  });

  it.each([
    'examples/policy-rate-limits.ts',
    'examples/policy-key-rate-limits.ts',
    'examples/policy-fairness-keys.ts',
  ])('quotes %s as it is', async (file) => {
    const doc = await read('docs/policies.md');
    const match = new RegExp(
      `<!-- example: ${file} -->\\n\\n\`\`\`ts\\n([\\s\\S]*?)\`\`\`\\n\\n<!-- end example -->`,
    ).exec(doc);
    expect(match).not.toBeNull();
    expect(match![1]).toBe(await read(file));
  });

  it('quotes examples/workflows/llm-policies.yaml as it is', async () => {
    const doc = await read('docs/policies.md');
    const match =
      /<!-- example: examples\/workflows\/llm-policies.yaml -->\n\n```yaml\n([\s\S]*?)```\n\n<!-- end example -->/.exec(
        doc,
      );
    expect(match).not.toBeNull();
    expect(match![1]).toBe(await read('examples/workflows/llm-policies.yaml'));
  });
});
