/**
 * A task's own policies under `symphony run --submit` (issue 14; docs/policies.md): each task's
 * own fairness key, key limit and timeout land in its stored execution plan, and a worker that
 * claims it honours them. The CLI runs in this process; the worker is an engine of this process on
 * the same store with a simulated clock. On SQLite and PostgreSQL.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/cli/exit-codes.js';
import type { Task } from '../../src/index.js';
import { createStore } from '../../src/repositories/open-store.js';
import { createTestClock, createTestRegistry, manualAgent } from '../../src/testing/index.js';
import {
  describePostgres,
  dropTestSchemas,
  nextSchema,
  PG_URL,
  withUser,
} from '../repositories/pg-helpers.js';
import { advanceUntil } from '../support/wait.js';
import { withStore } from '../support/with-store.js';
import { FIXTURES, tempDir } from './helpers.js';
import { runMain } from './in-process.js';

const AGENTS = join(FIXTURES, 'task-policy-agents.mjs');

/** Two tasks of key acme (at most 1 at once, 100 ms an attempt) and one under the file's policies. */
const FILE = [
  'name: Own policies on workers',
  'timeoutMs: 600000',
  'concurrencyKey: shared',
  'retry: { maxAttempts: 1 }',
  'agents:',
  `  module: ${JSON.stringify(AGENTS)}`,
  '  configs: [{ name: Worker, type: hang, maxConcurrency: 4 }]',
  'tasks:',
  '  - { name: a1, concurrencyKey: acme, keyConcurrency: 1, timeoutMs: 100 }',
  '  - { name: a2, concurrencyKey: acme, keyConcurrency: 1, timeoutMs: 100 }',
  '  - { name: quick }',
  '',
].join('\n');

function suite(name: string, newDb: (dir: string) => string) {
  it(`${name}: each task's plan has its own key and timeout, and a worker honours them`, async () => {
    const made = tempDir();
    try {
      const db = newDb(made.dir);
      const file = join(made.dir, 'w.yaml');
      writeFileSync(file, FILE);
      const submitted = await runMain(['run', file, '--submit', '--db', db, '--json'], { cwd: made.dir });
      expect(submitted.code, submitted.stderr).toBe(ExitCode.OK);
      const workflowId = (JSON.parse(submitted.stdout) as { workflow: { id: string } }).workflow.id;
      const tasks = () => withStore(db, (store) => store.tasks.find({ where: { workflowId } }));
      const byName = (rows: Task[]) => Object.fromEntries(rows.map((task) => [task.name, task]));
      const planned = byName(await tasks());
      for (const own of ['a1', 'a2']) {
        expect(planned[own]!.execution).toMatchObject({
          concurrencyKey: 'acme',
          keyConcurrency: 1,
          timeoutMs: 100,
        });
      }
      expect(planned.quick!.execution).toMatchObject({ concurrencyKey: 'shared', timeoutMs: 600_000 });
      expect(planned.quick!.execution).not.toHaveProperty('keyConcurrency');

      // A worker on the same store: its agent (type hang) holds every attempt until it is aborted.
      const clock = createTestClock(Date.now());
      const worker = createTestRegistry({ store: createStore(db), clock, controlPollMs: 0 });
      const agent = manualAgent('hang', { maxConcurrency: 4 });
      worker.agentFactory.registerAgentType('hang', () => agent);
      try {
        await worker.registry.startWorker({ pollMs: 10 });
        let mostAcme = 0;
        const running = () => agent.waiting.map((call) => call.task.name).sort();
        const watch = () => {
          mostAcme = Math.max(mostAcme, running().filter((task) => task.startsWith('a')).length);
        };
        await advanceUntil('quick and an acme task to run', clock, 10, () => {
          watch();
          return running().length === 2;
        });
        expect(running()).toEqual([expect.stringMatching(/^a[12]$/), 'quick']);
        // Each acme attempt is aborted at 100 ms (the file's 10 minutes do not apply), one at a time.
        await advanceUntil('both acme tasks to time out', clock, 10, async () => {
          watch();
          const rows = byName(await tasks());
          return rows.a1!.status === 'FAILED' && rows.a2!.status === 'FAILED';
        });
        expect(mostAcme).toBe(1);
        expect(running()).toEqual(['quick']);
        agent.resolveNext('done');
        await advanceUntil('quick to complete', clock, 10, async () => {
          return byName(await tasks()).quick!.status === 'COMPLETED';
        });
        const ended = byName(await tasks());
        for (const own of ['a1', 'a2']) {
          expect(ended[own]).toMatchObject({ status: 'FAILED', attempts: 1 });
          expect(ended[own]!.errors[0]).toMatchObject({ code: 'EXECUTION_TIMEOUT' });
        }
      } finally {
        await worker.stop();
      }
      // symphony retry (to workers, as the run went) enqueues the failed tasks again, each under
      // its own policies from the run record.
      const retried = await runMain(['retry', workflowId, '--db', db, '--json'], { cwd: made.dir });
      expect(retried.code, retried.stderr).toBe(ExitCode.OK);
      const again = byName(await tasks());
      for (const own of ['a1', 'a2']) {
        expect(again[own]).toMatchObject({ status: 'PENDING', attempts: 1 });
        expect(again[own]!.execution).toMatchObject({
          concurrencyKey: 'acme',
          keyConcurrency: 1,
          timeoutMs: 100,
        });
      }
    } finally {
      made.cleanup();
    }
  }, 60_000);
}

describe("a task's own policies on workers (sqlite)", () => {
  suite('SQLite', (dir) => join(dir, 'submit.db'));
});

describePostgres("a task's own policies on workers (postgres)", () => {
  afterAll(() => dropTestSchemas());
  suite('PostgreSQL', () => withUser(PG_URL, { schema: nextSchema() }));
});
