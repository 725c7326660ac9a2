import { describe, expect, it } from 'vitest';
import { main as priorityAging } from '../../examples/docs-priority-aging.js';

describe('docs/policies.md, Priority and fairness', () => {
  it('docs-priority-aging starts the task that waited 3 s before a newer one of priority 2', async () => {
    const lines: string[] = [];
    expect(await priorityAging((line) => lines.push(line))).toEqual([
      'first',
      'urgent',
      'patient',
      'important',
    ]);
    expect(lines).toEqual(['Started in order: first, urgent, patient, important']);
  });
});
