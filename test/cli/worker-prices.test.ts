/**
 * `symphony worker --prices <file>`: a worker prices attempts by the table it is given, so a
 * submitted workflow's `costUsd` budget holds on workers too (without it tokens cost nothing there:
 * docs/policies.md "Budgets"). A malformed table is a usage error naming the file and the entry.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { killedAfterEach } from '../support/processes.js';
import { withStore } from '../support/with-store.js';
import { cli, FIXTURES, startCli, tempDir, type CliProcess } from './helpers.js';
import { eventually, STARTED, TEST_MS } from './worker-kit.js';

const AGENTS = join(FIXTURES, 'words-agents.mjs');
const running = killedAfterEach<CliProcess>();

describe('symphony worker --prices', () => {
  it(
    'refuses the tasks of a submitted workflow that would start once its costUsd budget is spent',
    async () => {
      const { dir, db, cleanup } = tempDir();
      try {
        // Each llm attempt: 1,200 input and 34 output tokens of mock-model = $0.001268. Two start
        // below $0.002; the third starts at $0.002536 and is refused.
        const file = join(dir, 'w.yaml');
        writeFileSync(
          file,
          [
            'name: Priced',
            'budget: { costUsd: 0.002 }',
            'prices: { mock-model: { inputPerMTok: 1, outputPerMTok: 2 } }',
            'agents:',
            `  module: ${JSON.stringify(AGENTS)}`,
            '  configs:',
            '    - { name: Writer, type: llm, capabilities: [work] }',
            'tasks:',
            ...Array.from({ length: 3 }, (_, i) => `  - { name: t${i}, tags: [work] }`),
            '',
          ].join('\n'),
        );
        const prices = join(dir, 'prices.json');
        writeFileSync(prices, JSON.stringify({ 'mock-model': { inputPerMTok: 1, outputPerMTok: 2 } }));
        const submitted = await cli(['run', file, '--submit', '--db', db, '--json']);
        expect(submitted.code, submitted.stderr).toBe(0);
        const workflowId = (JSON.parse(submitted.stdout) as { workflow: { id: string } }).workflow.id;
        const worker = startCli(
          [
            'worker',
            '--db',
            db,
            '--agents',
            AGENTS,
            '--concurrency',
            '1',
            '--poll-ms',
            '100',
            '--prices',
            prices,
          ],
          { env: { SYMPHONY_LIVENESS_MS: '600000' } },
        );
        running.push(worker);
        await worker.waitForLine(STARTED);
        const tasks = await withStore(db, (store) =>
          eventually('every task ended', async () => {
            const rows = await store.tasks.find({ where: { workflowId }, orderBy: 'createdAt' });
            return rows.every((task) => task.status === 'COMPLETED' || task.status === 'FAILED')
              ? rows
              : undefined;
          }),
        );
        // The worker claims them in rank order, equal ranks in any order: judged in the order they
        // started, one at a time (--concurrency 1). Each attempt's timeline, should it fail.
        const started = [...tasks].sort((a, b) => a.startedAt! - b.startedAt!);
        const timeline = JSON.stringify(started.map((t) => [t.name, t.startedAt, t.finishedAt, t.status]));
        expect(
          started.map((task) => [task.status, task.errors.at(-1)?.code ?? null]),
          timeline,
        ).toEqual([
          ['COMPLETED', null],
          ['COMPLETED', null],
          ['FAILED', 'BUDGET_EXCEEDED'],
        ]);
        worker.child.kill('SIGTERM');
        expect((await worker.exited).code).toBe(0);
      } finally {
        cleanup();
      }
    },
    TEST_MS,
  );

  it('refuses a malformed price table before it starts, naming the file and the entry', async () => {
    const { dir, db, cleanup } = tempDir();
    try {
      const prices = join(dir, 'prices.yaml');
      writeFileSync(prices, 'mock-model: { inputPerMTok: -1, outputPerMTok: 2 }\n');
      const result = await cli(['worker', '--db', db, '--agents', AGENTS, '--prices', prices]);
      expect(result.code).toBe(ExitCode.USAGE);
      expect(result.stderr).toContain(`--prices: ${prices}: Expected \`prices.mock-model.inputPerMTok\``);
      const missing = await cli([
        'worker',
        '--db',
        db,
        '--agents',
        AGENTS,
        '--prices',
        join(dir, 'none.json'),
      ]);
      expect(missing.code).toBe(ExitCode.USAGE);
      expect(missing.stderr).toContain('--prices: cannot read');
    } finally {
      cleanup();
    }
  });
});
