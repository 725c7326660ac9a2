import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';

// docs/llm-agents.md shows test/ai/fixtures/llm-agents-example.ts verbatim (imports named as a
// user writes them); this runs it.

const read = (path: string) => readFileSync(new URL(path, import.meta.url), 'utf8');

describe('docs/llm-agents.md', () => {
  it('shows the example fixture as written', () => {
    const doc = read('../../docs/llm-agents.md');
    const fixture = read('./fixtures/llm-agents-example.ts')
      .replace("'../../../src/index.js'", "'symphony-engine'")
      .replace("'../../../src/ai/index.js'", "'symphony-engine/ai'");
    const blocks = [...doc.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]);
    expect(blocks, 'update docs/llm-agents.md from test/ai/fixtures/llm-agents-example.ts').toContain(
      fixture,
    );
  });

  it('runs the example: the answer, the usage and the routed agent come out as the comments say', async () => {
    const lines: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
      lines.push(args.map(String).join(' '));
    });
    try {
      await import('./fixtures/llm-agents-example.js');
    } finally {
      log.mockRestore();
    }
    expect(lines).toEqual(['COMPLETED', 'Symphony runs agent work as state machines.', '49', 'true 42']);
  });
});
