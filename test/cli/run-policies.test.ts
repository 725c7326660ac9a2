/**
 * Fairness keys and budgets in workflow files (docs/policies.md): `concurrencyKey`,
 * `keyConcurrency` and `keyRateLimits` reach every task's execution plan and hold the run to the key's limit; `budget`
 * refuses tasks once spent, priced by the file's `prices`; `symphony show` reports the spend
 * against the budget (and `--json` carries it). The CLI runs in this process, on SQLite.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Task } from '../../src/index.js';
import { CliUsageError } from '../../src/cli/cli-error.js';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { validateWorkflowFile } from '../../src/cli/workflow-file/load.js';
import type { WorkflowDetails } from '../../src/cli/commands/show.js';
import { FIXTURES, tempDir } from './helpers.js';
import { runMain } from './in-process.js';

const AGENTS = join(FIXTURES, 'words-agents.mjs');
const GATE = Symbol.for('symphony.test.words-gate');

const cleanups: Array<() => void> = [];
afterEach(() => {
  delete (globalThis as Record<symbol, unknown>)[GATE];
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** A workflow file of `count` tasks on one agent of `type` (words-agents.mjs), with `extra` lines. */
function workflowFile(type: 'gated' | 'llm', count: number, maxConcurrency: number, extra: string[]) {
  const made = tempDir();
  cleanups.push(made.cleanup);
  const file = join(made.dir, 'w.yaml');
  writeFileSync(
    file,
    [
      'name: Policies',
      ...extra,
      'agents:',
      `  module: ${JSON.stringify(AGENTS)}`,
      '  configs:',
      `    - { name: Worker, type: ${type}, capabilities: [work], maxConcurrency: ${maxConcurrency} }`,
      'tasks:',
      ...Array.from({ length: count }, (_, i) => `  - { name: t${i}, tags: [work] }`),
      '',
    ].join('\n'),
  );
  return { ...made, file };
}

const workflowIdOf = (stdout: string) => /^Workflow (\S+): /m.exec(stdout)![1]!;

async function show(dir: string, db: string, workflowId: string): Promise<WorkflowDetails> {
  const shown = await runMain(['show', workflowId, '--db', db, '--json'], { cwd: dir });
  expect(shown.code).toBe(ExitCode.OK);
  return JSON.parse(shown.stdout) as WorkflowDetails;
}

describe('concurrencyKey and keyConcurrency in a workflow file', () => {
  it("reach every task's plan, and the key's limit holds while the agent could run more", async () => {
    // The gate of words-agents.mjs, open: it notes the task each attempt gets.
    const seen: Task[] = [];
    (globalThis as Record<symbol, unknown>)[GATE] = {
      arrived: (task: Task) => seen.push(task),
      opened: Promise.resolve(),
    };
    const { dir, db, file } = workflowFile('gated', 4, 4, ['concurrencyKey: acme', 'keyConcurrency: 1']);
    const run = await runMain(['run', file, '--db', db], { cwd: dir });
    expect(run.code, run.stderr).toBe(ExitCode.OK);
    expect(seen.map((task) => [task.execution?.concurrencyKey, task.execution?.keyConcurrency])).toEqual(
      Array.from({ length: 4 }, () => ['acme', 1]),
    );
    // One at a time: each task started once the one before it had finished.
    const { tasks } = await show(dir, db, workflowIdOf(run.stdout));
    const ordered = [...tasks].sort((a, b) => a.startedAt! - b.startedAt!);
    ordered
      .slice(1)
      .forEach((task: Task, i) => expect(task.startedAt!).toBeGreaterThanOrEqual(ordered[i]!.finishedAt!));
  });

  it('refuses keyConcurrency without a concurrencyKey', () => {
    const data = {
      name: 'W',
      keyConcurrency: 2,
      tasks: [{ name: 't' }],
      agents: { configs: [{ name: 'A', type: 'a' }] },
    };
    expect(() => validateWorkflowFile(data, 'w.yaml')).toThrow(CliUsageError);
    expect(() => validateWorkflowFile(data, 'w.yaml')).toThrow(
      'w.yaml: invalid workflow file: keyConcurrency: only allowed with a concurrencyKey (the key whose tasks it limits)',
    );
  });
});

describe('keyRateLimits in a workflow file', () => {
  it("reach every task's plan with the file's key", async () => {
    const seen: Task[] = [];
    (globalThis as Record<symbol, unknown>)[GATE] = {
      arrived: (task: Task) => seen.push(task),
      opened: Promise.resolve(),
    };
    const { dir, db, file } = workflowFile('gated', 3, 3, [
      'concurrencyKey: acme',
      'keyRateLimits: [{ requests: 100, per: 60000 }, { tokens: 50000, per: 60000 }]',
    ]);
    const run = await runMain(['run', file, '--db', db], { cwd: dir });
    expect(run.code, run.stderr).toBe(ExitCode.OK);
    expect(seen.map((task) => [task.execution?.concurrencyKey, task.execution?.keyRateLimits])).toEqual(
      Array.from({ length: 3 }, () => [
        'acme',
        [
          { requests: 100, per: 60_000 },
          { tokens: 50_000, per: 60_000 },
        ],
      ]),
    );
  });

  it('refuses keyRateLimits without a concurrencyKey, and a limit that is not one', () => {
    const data = (extra: object) => ({
      name: 'W',
      ...extra,
      tasks: [{ name: 't' }],
      agents: { configs: [{ name: 'A', type: 'a' }] },
    });
    expect(() =>
      validateWorkflowFile(data({ keyRateLimits: [{ requests: 1, per: 1_000 }] }), 'w.yaml'),
    ).toThrow(
      'w.yaml: invalid workflow file: keyRateLimits: only allowed with a concurrencyKey (the key whose tasks it limits)',
    );
    expect(() =>
      validateWorkflowFile(
        data({ concurrencyKey: 'acme', keyRateLimits: [{ requests: 0, per: 1_000 }] }),
        'w.yaml',
      ),
    ).toThrow(CliUsageError);
    expect(() =>
      validateWorkflowFile(
        data({ concurrencyKey: 'acme', keyRateLimits: [{ requests: 1, per: 1_000 }] }),
        'w.yaml',
      ),
    ).not.toThrow();
  });
});

describe('budget and prices in a workflow file', () => {
  const lines = [
    'budget: { tokens: 2000, costUsd: 1 }',
    'prices: { mock-model: { inputPerMTok: 1, outputPerMTok: 2 } }',
  ];

  it('refuses the task that would start once the budget is spent, and show reports the spend', async () => {
    // Each llm task uses 1,234 tokens (1,200 in, 34 out): the third starts with 2,468 spent.
    const { dir, db, file } = workflowFile('llm', 3, 1, [...lines, 'concurrency: 1']);
    const run = await runMain(['run', file, '--db', db], { cwd: dir });
    expect(run.code).toBe(ExitCode.WORKFLOW_FAILED);
    const workflowId = workflowIdOf(run.stdout);
    const details = await show(dir, db, workflowId);
    expect(details.tasks.map((task) => task.status).sort()).toEqual(['COMPLETED', 'COMPLETED', 'FAILED']);
    const refused = details.tasks.find((task) => task.status === 'FAILED')!;
    expect(refused.errors.map((error) => error.code)).toEqual(['BUDGET_EXCEEDED']);
    const cost = 2 * ((1200 * 1 + 34 * 2) / 1e6);
    expect(details.spend).toEqual({
      budget: { tokens: 2000, costUsd: 1 },
      spend: { tokens: 2468, costUsd: expect.closeTo(cost, 12) as number, unpricedTokens: 0 },
      exceeded: true,
    });
    const plain = await runMain(['show', workflowId, '--db', db], { cwd: dir });
    expect(plain.stdout).toContain('  spend     2,468 of 2,000 tokens, $0.0025 of $1.0000 - budget spent\n');
  });

  it('show reports usage without a budget, and nothing for a workflow with neither', async () => {
    const llm = workflowFile('llm', 1, 1, []);
    const run = await runMain(['run', llm.file, '--db', llm.db], { cwd: llm.dir });
    expect(run.code).toBe(ExitCode.OK);
    const details = await show(llm.dir, llm.db, workflowIdOf(run.stdout));
    expect(details.spend).toEqual({
      budget: null,
      spend: { tokens: 1234, costUsd: 0, unpricedTokens: 1234 },
      exceeded: false,
    });
    const plain = await runMain(['show', workflowIdOf(run.stdout), '--db', llm.db], { cwd: llm.dir });
    expect(plain.stdout).toContain('  spend     1,234 tokens, $0.0000 (1,234 tokens unpriced)\n');

    const gated = workflowFile('gated', 1, 1, []);
    const plainRun = await runMain(['run', gated.file, '--db', gated.db], { cwd: gated.dir });
    expect((await show(gated.dir, gated.db, workflowIdOf(plainRun.stdout))).spend).toBeUndefined();
  });

  it('refuses a budget the engine would not take', () => {
    const data = {
      name: 'W',
      budget: { tokens: -1, onExceeded: 'stop' },
      tasks: [{ name: 't' }],
      agents: { configs: [{ name: 'A', type: 'a' }] },
    };
    expect(() => validateWorkflowFile(data, 'w.yaml')).toThrow(
      [
        'w.yaml: invalid workflow file:',
        '  budget.tokens: expected a number >= 0, got -1',
        '  budget.onExceeded: expected one of fail, pause, got "stop"',
      ].join('\n'),
    );
  });
});
