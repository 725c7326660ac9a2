import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordedPolicies } from '../../src/cli/recorded-options.js';
import { runRecordOf } from '../../src/cli/run-record.js';
import { cli, EXAMPLES, readStore, tempDir } from './helpers.js';

// `symphony run` of examples/workflows/fair-customer.yaml (docs/policies.md, issue 14): priority with
// aging, a fairness key with its limit and rate limits, an agent config's rate limit and breaker,
// all written in the file, reach the run record (what its tasks run under) and the stored agent config.

let dir: { dir: string; db: string; cleanup: () => void };
beforeAll(() => {
  dir = tempDir();
});
afterAll(() => dir.cleanup());

describe('symphony run with the priority, fairness and rate limit fields of a workflow file', () => {
  it('runs examples/workflows/fair-customer.yaml: the run keeps the key and its limits', async () => {
    const { code, stdout } = await cli(['run', join(EXAMPLES, 'fair-customer.yaml'), '--db', dir.db]);
    expect(code).toBe(0);
    expect(stdout).toContain('COMPLETED "Urgent summary"');
    const tasks = await readStore(dir.db, (store) => store.tasks.find());
    expect(tasks).toHaveLength(3);
    for (const task of tasks) expect(task.status).toBe('COMPLETED');
    expect(tasks.find((task) => task.name === 'Urgent summary')!.priority).toBe(5);
    // The run record keeps the file's policies: `resume` and `retry` run the tasks under them.
    const [workflow] = await readStore(dir.db, (store) => store.workflows.find());
    expect(recordedPolicies(runRecordOf(workflow!))).toMatchObject({
      concurrencyKey: 'acme',
      keyConcurrency: 2,
      keyRateLimits: [{ requests: 5, per: 1_000 }],
    });
    const configs = await readStore(dir.db, (store) => store.agentConfigs.find());
    expect(configs).toHaveLength(1);
    expect(configs[0]).toMatchObject({
      rateLimits: [{ requests: 10, per: 1_000 }],
      circuitBreaker: { failureThreshold: 3, windowMs: 60_000, cooldownMs: 30_000 },
    });
  });
});
