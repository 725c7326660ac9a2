import { readFile } from 'node:fs/promises';
import { expect, it } from 'vitest';
import { loadWorkflowFile } from '../../src/cli/workflow-file/load.js';

const read = (path: string) => readFile(new URL(`../../${path}`, import.meta.url), 'utf8');
const FILE = 'examples/workflows/fair-customer.yaml';

it(`docs/policies.md quotes ${FILE} as it is, and the file is valid`, async () => {
  const doc = await read('docs/policies.md');
  const match = new RegExp(
    `<!-- example: ${FILE} -->\\n\\n\`\`\`yaml\\n([\\s\\S]*?)\`\`\`\\n\\n<!-- end example -->`,
  ).exec(doc);
  expect(match).not.toBeNull();
  expect(match![1]).toBe(await read(FILE));
  const loaded = await loadWorkflowFile(new URL(`../../${FILE}`, import.meta.url).pathname);
  expect(loaded).toMatchObject({ concurrencyKey: 'acme', keyConcurrency: 2, agingMs: 1_000 });
});

const OWN = 'examples/workflows/task-policies.yaml';

it(`docs/policies.md quotes ${OWN} as it is, and its tasks carry their own policies`, async () => {
  const doc = await read('docs/policies.md');
  const match = new RegExp(
    `<!-- example: ${OWN} -->\\n\\n\`\`\`yaml\\n([\\s\\S]*?)\`\`\`\\n\\n<!-- end example -->`,
  ).exec(doc);
  expect(match).not.toBeNull();
  expect(match![1]).toBe(await read(OWN));
  const loaded = await loadWorkflowFile(new URL(`../../${OWN}`, import.meta.url).pathname);
  expect(
    loaded.tasks.map(({ timeoutMs, retry, concurrencyKey, keyConcurrency }) => ({
      timeoutMs,
      retry,
      concurrencyKey,
      keyConcurrency,
    })),
  ).toEqual([
    { timeoutMs: undefined, retry: undefined, concurrencyKey: undefined, keyConcurrency: undefined },
    { timeoutMs: 5000, retry: { maxAttempts: 1 }, concurrencyKey: undefined, keyConcurrency: undefined },
    { timeoutMs: undefined, retry: undefined, concurrencyKey: 'globex', keyConcurrency: 1 },
  ]);
});
