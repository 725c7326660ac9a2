import { expect, it } from 'vitest';
import { main } from '../../examples/policy-fallback.js';

it('policy-fallback fails on the primary and completes on the backup', async () => {
  const lines: string[] = [];
  await main((line) => lines.push(line));
  expect(lines).toEqual([
    'workflow: COMPLETED',
    'output: ask: answered by backup',
    'attempt 1 on primary: 503 from primary',
    'fell back from primary: true',
  ]);
});
