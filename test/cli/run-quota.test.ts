/**
 * Agent config quotas in workflow files (issue 14; docs/policies.md "Budgets"):
 * `agents.configs[].quota` is stored with the config, so the engine refuses a task that would start
 * once the config's spend reached it (BUDGET_EXCEEDED, not retried), counting every run of the
 * config; running the file again reuses the config with its spend, while a different quota makes
 * another config (the reuse never drops a quota). `symphony show` reports each config's quota
 * spend. A malformed quota is refused at load, naming the config. The CLI runs in this process, on
 * SQLite.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { validateWorkflowFile } from '../../src/cli/workflow-file/load.js';
import type { WorkflowDetails } from '../../src/cli/commands/show.js';
import { FIXTURES, tempDir } from './helpers.js';
import { runMain } from './in-process.js';

const AGENTS = join(FIXTURES, 'words-agents.mjs');

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** A directory with a store path; `write(quota)` writes a file of 3 llm tasks (1,234 tokens each). */
function workspace() {
  const made = tempDir();
  cleanups.push(made.cleanup);
  const file = join(made.dir, 'w.yaml');
  const write = (quota: string) =>
    writeFileSync(
      file,
      [
        'name: Quota',
        'concurrency: 1',
        'retry: { maxAttempts: 3, initialDelayMs: 1 }',
        'prices: { mock-model: { inputPerMTok: 1, outputPerMTok: 2 } }',
        'agents:',
        `  module: ${JSON.stringify(AGENTS)}`,
        '  configs:',
        `    - { name: Writer, type: llm, capabilities: [work], quota: ${quota} }`,
        'tasks:',
        ...Array.from({ length: 3 }, (_, i) => `  - { name: t${i}, tags: [work] }`),
        '',
      ].join('\n'),
    );
  return { ...made, file, write };
}

const workflowIdOf = (stdout: string) => /^Workflow (\S+): /m.exec(stdout)![1]!;

async function show(dir: string, db: string, workflowId: string): Promise<WorkflowDetails> {
  const shown = await runMain(['show', workflowId, '--db', db, '--json'], { cwd: dir });
  expect(shown.code).toBe(ExitCode.OK);
  return JSON.parse(shown.stdout) as WorkflowDetails;
}

const outcomes = (details: WorkflowDetails) =>
  details.tasks.map((task) => [task.status, task.attempts, task.errors.at(-1)?.code ?? null]);

describe('agents.configs[].quota in a workflow file', () => {
  it("refuses the tasks that would start once the config's quota is spent, and show reports it", async () => {
    const { dir, db, file, write } = workspace();
    // 0 and 1,234 tokens are below 2,000: two run; the third starts at 2,468 and is refused.
    write('{ tokens: 2000 }');
    const run = await runMain(['run', file, '--db', db], { cwd: dir });
    expect(run.code).toBe(ExitCode.WORKFLOW_FAILED);
    const workflowId = workflowIdOf(run.stdout);
    const details = await show(dir, db, workflowId);
    expect(outcomes(details)).toEqual([
      ['COMPLETED', 1, null],
      ['COMPLETED', 1, null],
      ['FAILED', 1, 'BUDGET_EXCEEDED'],
    ]);
    const [config] = details.agents;
    expect(config!.quota).toEqual({ tokens: 2000 });
    expect(details.tasks[2]!.errors[0]!.message).toContain(`Agent config ${config!.id}'s quota is spent`);
    const cost = 2 * ((1200 * 1 + 34 * 2) / 1e6);
    expect(details.quotas).toEqual([
      {
        agentId: config!.id,
        name: 'Writer',
        quota: { tokens: 2000 },
        spend: { tokens: 2468, costUsd: expect.closeTo(cost, 12) as number, unpricedTokens: 0 },
        exceeded: true,
      },
    ]);
    const plain = await runMain(['show', workflowId, '--db', db], { cwd: dir });
    expect(plain.stdout).toContain(
      `  quota     Writer (${config!.id}): 2,468 of 2,000 tokens, $0.0025 in all its tasks - quota spent\n`,
    );
  });

  it('counts every run of the config; a different quota makes another config, not a dropped quota', async () => {
    const { dir, db, file, write } = workspace();
    // 0, 1,234 and 2,468 tokens are below 3,000: the first run completes, with 3,702 spent.
    write('{ tokens: 3000 }');
    const first = await runMain(['run', file, '--db', db], { cwd: dir });
    expect(first.code).toBe(ExitCode.OK);
    const firstConfig = (await show(dir, db, workflowIdOf(first.stdout))).agents[0]!;
    // The same file again: the config is reused, with the 3,702 tokens it already spent.
    const again = await runMain(['run', file, '--db', db], { cwd: dir });
    expect(again.code).toBe(ExitCode.WORKFLOW_FAILED);
    const second = await show(dir, db, workflowIdOf(again.stdout));
    expect(second.agents.map((agent) => agent.id)).toEqual([firstConfig.id]);
    expect(outcomes(second)).toEqual(Array.from({ length: 3 }, () => ['FAILED', 1, 'BUDGET_EXCEEDED']));
    // Another quota: a config of its own, which starts from nothing spent.
    write('{ tokens: 100000, costUsd: 1 }');
    const raised = await runMain(['run', file, '--db', db], { cwd: dir });
    expect(raised.code).toBe(ExitCode.OK);
    const third = await show(dir, db, workflowIdOf(raised.stdout));
    expect(third.agents).toHaveLength(1);
    expect(third.agents[0]!.id).not.toBe(firstConfig.id);
    expect(third.agents[0]!.quota).toEqual({ tokens: 100000, costUsd: 1 });
    expect(third.quotas?.[0]).toMatchObject({ spend: { tokens: 3 * 1234 }, exceeded: false });
  });

  it('refuses a malformed quota at load, naming the config', () => {
    const data = {
      name: 'W',
      tasks: [{ name: 't' }],
      agents: {
        configs: [
          { name: 'A', type: 'a', quota: { tokens: 10 } },
          { name: 'B', type: 'b', quota: { tokens: -5, costUsd: 'lots', onExceeded: 'pause' } },
        ],
      },
    };
    expect(() => validateWorkflowFile(data, 'w.yaml')).toThrow(
      [
        'w.yaml: invalid workflow file:',
        '  agents.configs[1].quota.tokens: expected a number >= 0, got -5',
        '  agents.configs[1].quota.costUsd: expected a number, got "lots"',
        '  agents.configs[1].quota.onExceeded: unknown field; expected one of tokens, costUsd',
      ].join('\n'),
    );
  });
});
