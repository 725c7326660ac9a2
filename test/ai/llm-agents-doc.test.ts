import { readFileSync } from 'node:fs';
import { APICallError } from 'ai';
import { MockLanguageModelV3 } from 'ai/test';
import { describe, expect, it, vi } from 'vitest';
import * as aiEntry from '../../src/ai/index.js';
import { createAiSdkAgent } from '../../src/ai/index.js';
import { advance, createTestRegistry } from '../../src/testing/index.js';

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

  it('shows a provider error as the adapter records it (issue #9)', async () => {
    const doc = read('../../docs/llm-agents.md');
    const shown = JSON.parse(/recorded like this[\s\S]*?```json\n([\s\S]*?)```/.exec(doc)![1]!) as unknown;
    let calls = 0;
    const model = new MockLanguageModelV3({
      doGenerate: async () => {
        calls += 1;
        if (calls > 1) throw new Error('only one call expected');
        throw new APICallError({
          message: 'Service Unavailable',
          url: 'https://api.example.invalid/v1/chat/completions',
          requestBodyValues: {},
          statusCode: 503,
          responseHeaders: { 'retry-after': '2', 'x-request-id': 'req-42' },
          responseBody: '{"error":{"message":"overloaded"}}',
        });
      },
    });
    const kit = createTestRegistry();
    const task = await kit.taskManager.createTask({ name: 'ask' });
    const done = kit.executor.executeTask(task.id, createAiSdkAgent({ id: 'llm', model }), null, {
      retry: { maxAttempts: 2 },
    });
    await advance(kit.clock, 2_000);
    const { errors } = await done;
    const { stack: _stack, at: _at, ...recorded } = errors[0]!;
    expect(recorded).toEqual(shown);
    await kit.stop();
  });

  it('lists every export of symphony-engine/ai', () => {
    const doc = read('../../docs/llm-agents.md');
    const section = doc.slice(doc.indexOf('## What `symphony-engine/ai` exports'));
    for (const name of Object.keys(aiEntry)) expect(section, name).toContain(`\`${name}`);
  });
});
