/**
 * The commands that only read the store open it without creating or migrating anything
 * (docs/cli.md, "The store"): a SQLite file that holds no Symphony store, or a PostgreSQL schema
 * without Symphony's tables, is refused with exit 2 and left as it was. Regression: `list` on a
 * mistyped `?schema=` exited 0 and created 19 tables there, and on another application's SQLite
 * file added them to it; `watch` waited forever. The CLI runs in this process.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { ServiceRegistry } from '../../src/index.js';
import {
  describePostgres,
  dropTestSchemas,
  nextSchema,
  PG_URL,
  withAdmin,
  withUser,
} from '../repositories/pg-helpers.js';
import { readStore, tempDir } from './helpers.js';
import { runMain } from './in-process.js';

const READ_COMMANDS = [
  ['list'],
  ['show', 'wf-1'],
  ['top', '--once'],
  ['watch', '--workflow', 'wf-1', '--until-done'],
  ['workers'],
  ['dead-letter', 'list'],
  ['schedule', 'list'],
  ['graph', 'wf-1'],
];

describe('read commands on a SQLite file without a Symphony store', () => {
  const made = tempDir();
  afterAll(() => made.cleanup());

  it.each(READ_COMMANDS)(
    "%s refuses another application's file (exit 2) and leaves it as it was",
    async (...args) => {
      const path = join(made.dir, 'foreign.db');
      const db = new Database(path);
      db.exec(
        "CREATE TABLE IF NOT EXISTS customers (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers (name) VALUES ('alice')",
      );
      db.close();
      const before = readFileSync(path);
      const result = await runMain([...args, '--db', path], { cwd: made.dir });
      expect(result.code).toBe(ExitCode.USAGE);
      expect(result.stderr).toContain(`The SQLite file ${path} holds no Symphony store`);
      expect(readFileSync(path).equals(before)).toBe(true);
    },
  );

  it('refuses an empty (0-byte) file and leaves it empty', async () => {
    const path = join(made.dir, 'empty.db');
    writeFileSync(path, '');
    const result = await runMain(['list', '--db', path], { cwd: made.dir });
    expect(result.code).toBe(ExitCode.USAGE);
    expect(statSync(path).size).toBe(0);
  });
});

describePostgres('read commands on a PostgreSQL schema without a Symphony store', () => {
  afterAll(() => dropTestSchemas());

  it.each(READ_COMMANDS)('%s refuses it (exit 2) and creates no schema', async (...args) => {
    const schema = nextSchema();
    const result = await runMain([...args, '--db', withUser(PG_URL, { schema })], { cwd: process.cwd() });
    expect(result.code).toBe(ExitCode.USAGE);
    expect(result.stderr).toContain('holds no Symphony store');
    const { rows } = await withAdmin((client) =>
      client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]),
    );
    expect(rows).toEqual([]);
  });
});

describe('a refused command that would change the store', () => {
  const made = tempDir();
  afterAll(() => made.cleanup());

  it.each([['pause'], ['cancel'], ['resume'], ['retry']])(
    '%s of a COMPLETED workflow, which changes nothing, writes no engine beat (symphony workers does not list it)',
    async (command) => {
      const registry = new ServiceRegistry({ store: made.db, controlPollMs: 0 });
      const workflow = await registry.getWorkflowTracker().createWorkflow({ name: 'done' });
      const task = await registry.getTaskManager().createTask({ name: 't', workflowId: workflow.id });
      await registry
        .getEnhancedExecutor()
        .executeTask(task.id, { id: 'ok', execute: async () => 'done' }, workflow.id);
      await registry.stop();
      const result = await runMain([command!, workflow.id, '--db', made.db], { cwd: made.dir });
      // Refused (exit 2), or nothing to do (retry: no failed task, exit 0).
      expect([ExitCode.USAGE, ExitCode.OK]).toContain(result.code);
      expect(await readStore(made.db, (store) => store.engineBeats())).toEqual([]);
    },
  );
});
