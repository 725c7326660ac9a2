import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { main as payloads } from '../../examples/docs-payloads.js';
import { MAX_PAYLOAD_DEPTH } from '../../src/index.js';

describe('docs-payloads example (docs/api.md, "What payloads, names and ids may hold")', () => {
  it('stores undefined as JSON.stringify would and refuses what JSON cannot carry, with typed codes', async () => {
    const lines: string[] = [];
    const outcome = await payloads((line) => lines.push(line));
    expect(outcome.stored).toEqual({ query: 'hello', list: [1, null] });
    expect(outcome.output).toEqual({ echoed: 'hello' });
    expect(outcome.refusals).toEqual({
      'a Map': 'INPUT_NOT_SERIALIZABLE',
      'a getter that throws': 'INPUT_NOT_SERIALIZABLE',
      [`${MAX_PAYLOAD_DEPTH + 1} levels of nesting`]: 'INPUT_NOT_SERIALIZABLE',
      'a lone surrogate in a name': 'INVALID_ARGUMENT',
    });
    expect(lines[0]).toBe('stored inputData: {"query":"hello","list":[1,null]}');
  });

  it('docs/api.md states the depth limit the code enforces', async () => {
    const api = await readFile(new URL('../../docs/api.md', import.meta.url), 'utf8');
    expect(api).toContain(`\`MAX_PAYLOAD_DEPTH\` (${MAX_PAYLOAD_DEPTH})`);
  });
});
