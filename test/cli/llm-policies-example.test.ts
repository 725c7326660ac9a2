/**
 * examples/workflows/llm-policies.yaml run as a user runs it: `symphony run` (in this process, on
 * SQLite, the system clock), then `symphony show --json`. Its fake provider (llm-policies-agents.ts)
 * logs every request it answers to the array the test puts at `globalThis[REQUEST_LOG]`.
 *
 * Nothing here depends on how fast the machine is: the fake answers 429 only when more than
 * REQUESTS_PER_SECOND requests of a model arrive within a second, which the configs' rate limit
 * (at most 4 starts in any second) keeps from happening unless calls are held up by 500 ms or more.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  REQUEST_LOG,
  REQUESTS_PER_SECOND,
  type ProviderRequest,
} from '../../examples/workflows/llm-policies-agents.js';
import type { AiSdkAgentOutput } from '../../src/ai/index.js';
import type { WorkflowDetails } from '../../src/cli/commands/show.js';
import { ExitCode } from '../../src/cli/exit-codes.js';
import type { RunSummary } from '../../src/cli/summary.js';
import { EXAMPLES, ROOT, tempDir } from './helpers.js';
import { runMain } from './in-process.js';

const EXAMPLE = join(EXAMPLES, 'llm-policies.yaml');
const file = parse(readFileSync(EXAMPLE, 'utf8')) as {
  budget: { tokens: number; costUsd: number };
  prices: Record<string, { inputPerMTok: number; outputPerMTok: number }>;
};

const cleanups: Array<() => void> = [];
afterAll(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

interface Run {
  details: WorkflowDetails;
  /** What the fake provider answered, in order. */
  requests: ProviderRequest[];
}

/** `symphony run <path> --json` then `symphony show --json` of its workflow, on a fresh database. */
async function runAndShow(path: string, expectedCode: number): Promise<Run> {
  const { dir, db, cleanup } = tempDir();
  cleanups.push(cleanup);
  const requests: ProviderRequest[] = [];
  (globalThis as Record<symbol, unknown>)[REQUEST_LOG] = requests;
  try {
    const run = await runMain(['run', path, '--db', db, '--json'], { cwd: ROOT });
    expect(run.code, run.stderr).toBe(expectedCode);
    const { workflow } = JSON.parse(run.stdout) as RunSummary;
    const shown = await runMain(['show', workflow.id, '--db', db, '--json'], { cwd: dir });
    expect(shown.code, shown.stderr).toBe(ExitCode.OK);
    return { details: JSON.parse(shown.stdout) as WorkflowDetails, requests };
  } finally {
    delete (globalThis as Record<symbol, unknown>)[REQUEST_LOG];
  }
}

/** The most requests of `model` the provider answered (429s left out) in any second. */
function busiestSecond(requests: readonly ProviderRequest[], model: string): number {
  const times = requests
    .filter((request) => request.model === model && request.status !== 429)
    .map((request) => request.at);
  return Math.max(0, ...times.map((at) => times.filter((time) => time > at - 1_000 && time <= at).length));
}

const configIds = (details: WorkflowDetails) => ({
  primary: details.agents.find((config) => config.name === 'Primary model')!.id,
  backup: details.agents.find((config) => config.name === 'Backup model')!.id,
});

describe('examples/workflows/llm-policies.yaml', () => {
  // One run of the file as it is, read by the first two tests.
  let example: Run;
  beforeAll(async () => {
    example = await runAndShow(EXAMPLE, ExitCode.OK);
  });

  it('completes every task: those the primary model failed (503) on the backup, within the provider rate limit', () => {
    const { details, requests } = example;
    const { primary, backup } = configIds(details);
    expect(details.workflow.status).toBe('COMPLETED');
    expect(details.tasks.map((task) => task.status)).toEqual(Array(5).fill('COMPLETED'));

    const fellBack = details.tasks.filter((task) => task.errors.length > 0);
    // The outage of the primary model: the prompts that mention "minutes" or "invoices".
    expect(fellBack.map((task) => task.name).sort()).toEqual([
      'Summarize the board minutes',
      'Summarize the supplier invoices',
    ]);
    for (const task of fellBack) {
      // Two attempts on the primary (the retry policy), then a fresh budget on the backup.
      expect(task.errors.map((error) => [error.agentId, error.code, error.details?.statusCode])).toEqual([
        [primary, 'PROVIDER_ERROR', 503],
        [primary, 'PROVIDER_ERROR', 503],
      ]);
      expect(task.agentId).toBe(backup);
      expect(task.metadata).toMatchObject({ fallbackFrom: [primary], fallbackAgent: backup });
      expect((task.outputData as AiSdkAgentOutput).modelId).toBe('mock-small');
    }
    for (const task of details.tasks.filter((task) => task.errors.length === 0)) {
      expect(task.agentId).toBe(primary);
      expect((task.outputData as AiSdkAgentOutput).modelId).toBe('mock-large');
    }

    // The provider's view: 3 + 2 * 2 requests of mock-large (more than a second's worth, so the
    // rate limit had work to do), 2 of mock-small, none refused, never over its limit in a second.
    const count = (model: string) => requests.filter((request) => request.model === model).length;
    expect([count('mock-large'), count('mock-small')]).toEqual([7, 2]);
    expect(requests.filter((request) => request.status === 429)).toEqual([]);
    expect(busiestSecond(requests, 'mock-large')).toBeLessThanOrEqual(REQUESTS_PER_SECOND);
    expect(busiestSecond(requests, 'mock-small')).toBeLessThanOrEqual(REQUESTS_PER_SECOND);
  });

  it("show's spend is the tasks' usage priced by the file's prices, within the budget", () => {
    const { details } = example;
    const outputs = details.tasks.map((task) => task.outputData as AiSdkAgentOutput);
    let tokens = 0;
    let costUsd = 0;
    for (const { usage, modelId } of outputs) {
      const price = file.prices[modelId!]!;
      tokens += usage.totalTokens!;
      costUsd += (usage.inputTokens! * price.inputPerMTok + usage.outputTokens! * price.outputPerMTok) / 1e6;
    }
    // The 503s reported no usage: the spend is the five answers'.
    expect(tokens).toBeGreaterThan(0);
    expect(details.spend).toEqual({
      budget: { ...file.budget, onExceeded: 'fail' },
      spend: { tokens, costUsd: expect.closeTo(costUsd, 12) as number, unpricedTokens: 0 },
      exceeded: false,
    });
    expect(tokens).toBeLessThanOrEqual(file.budget.tokens);
    expect(costUsd).toBeLessThanOrEqual(file.budget.costUsd);
  });

  it('with a budget of 1 token, the tasks that start once it is spent end BUDGET_EXCEEDED without a provider call', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const path = join(dir, 'llm-policies.yaml');
    const text = readFileSync(EXAMPLE, 'utf8')
      .replace('  tokens: 1000\n', '  tokens: 1\n')
      .replace('module: ./llm-policies-agents.ts', `module: ${join(EXAMPLES, 'llm-policies-agents.ts')}`);
    writeFileSync(path, text);
    const { details, requests } = await runAndShow(path, ExitCode.WORKFLOW_FAILED);
    expect(details.workflow.status).toBe('FAILED');
    expect(details.spend?.exceeded).toBe(true);

    const refused = details.tasks.filter((task) => task.status === 'FAILED');
    // The first task starts with nothing spent; the rate limit starts the others 300 ms apart, so
    // some start once its usage is recorded.
    expect(details.tasks.some((task) => task.status === 'COMPLETED')).toBe(true);
    expect(refused.length).toBeGreaterThan(0);
    for (const task of refused) {
      expect(task.errors.at(-1)?.code).toBe('BUDGET_EXCEEDED');
      // Every call the provider got for the task failed an attempt: the refused one made none.
      const calls = requests.filter((request) => request.task === task.name).length;
      expect(calls).toBe(task.errors.filter((error) => error.code === 'PROVIDER_ERROR').length);
    }
  });
});
