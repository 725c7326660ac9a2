import { expect, it } from 'vitest';
import { main } from '../../examples/policy-circuit-breaker.js';

it('policy-circuit-breaker opens the breaker, routes around it, and closes it with a probe', async () => {
  const lines: string[] = [];
  await main((line) => lines.push(line));
  expect(lines.slice(1)).toEqual([
    'primary: FAILED',
    'primary: FAILED',
    'routed to backup',
    'primary: CIRCUIT_OPEN',
    'primary: COMPLETED',
  ]);
});
