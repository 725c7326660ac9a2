import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import type { Task } from '../../src/domain/task.js';
import { sqliteMigrations } from '../../src/repositories/sqlite/migrations.js';
import { SqliteStore } from '../../src/repositories/sqlite/sqlite-store.js';
import { sampleTask, sampleWorkflow } from '../../src/testing/samples.js';
import { runChild } from './sqlite-child.js';

const dir = mkdtempSync(join(tmpdir(), 'symphony-sqlite-'));
let files = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function newPath(): string {
  return join(dir, `store-${++files}.db`);
}

async function codeOf(run: () => unknown): Promise<unknown> {
  try {
    await run();
  } catch (error) {
    return (error as { code?: unknown }).code;
  }
  return 'no error';
}

describe('SqliteStore', () => {
  it('checks its options in the constructor and touches no file before open', async () => {
    expect(await codeOf(() => new SqliteStore({ path: '' }))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(() => new SqliteStore({ path: 'x.db', synchronous: 'EXTRA' as 'FULL' }))).toBe(
      'INVALID_ARGUMENT',
    );
    expect(await codeOf(() => new SqliteStore({ path: 'x.db', busyTimeoutMs: -1 }))).toBe('INVALID_ARGUMENT');
    const path = join(dir, 'not-yet', 'store.db');
    const store = new SqliteStore({ path, synchronous: 'FULL', busyTimeoutMs: 10 });
    expect(existsSync(join(dir, 'not-yet'))).toBe(false);
    expect(await codeOf(() => store.tasks.count())).toBe('INVALID_STATE');
    await store.open();
    expect(existsSync(path)).toBe(true);
    await store.close();
    expect(await codeOf(() => store.tasks.count())).toBe('INVALID_STATE');
  });

  it('opens the file in WAL mode and records each migration once', async () => {
    const path = newPath();
    for (let i = 0; i < 2; i += 1) {
      const store = new SqliteStore({ path });
      await store.open();
      await store.close();
    }
    const db = new Database(path, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    const versions = db.prepare('SELECT version FROM symphony_migrations ORDER BY version').all();
    // Each migration once, in order (versions may skip a number another branch of the code uses).
    expect(versions).toEqual(sqliteMigrations.map((m) => ({ version: m.version })));
    db.close();
  });

  it('keeps the workflow commands of a version 3 file when it moves them to control_commands', async () => {
    const path = newPath();
    const db = new Database(path);
    db.exec(
      'CREATE TABLE symphony_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)',
    );
    for (const migration of sqliteMigrations.filter((m) => m.version <= 3)) {
      db.exec(migration.sql);
      db.prepare('INSERT INTO symphony_migrations (version, name) VALUES (?, ?)').run(
        migration.version,
        migration.name,
      );
    }
    const insert = db.prepare(
      'INSERT INTO workflow_commands (id, workflow_id, type, created_at) VALUES (?, ?, ?, ?)',
    );
    insert.run('c1', 'w1', 'PAUSE', 1);
    insert.run('c2', 'w1', 'RESUME', 2);
    db.close();
    const store = new SqliteStore({ path });
    await store.open();
    const commands = await store.commandsAfter(0);
    expect(commands.map(({ seq: _seq, ...rest }) => rest)).toEqual([
      { id: 'c1', workflowId: 'w1', taskId: null, type: 'PAUSE', createdAt: 1 },
      { id: 'c2', workflowId: 'w1', taskId: null, type: 'RESUME', createdAt: 2 },
    ]);
    // Numbering goes on after the moved commands.
    await store.commit({
      commands: [{ id: 'c3', workflowId: null, taskId: 't1', type: 'CANCEL', createdAt: 3 }],
    });
    expect(await store.latestCommandSeq()).toBeGreaterThan(commands[1]!.seq);
    await store.close();
  });

  it('refuses a file written by a newer schema version and leaves it alone', async () => {
    const path = newPath();
    const store = new SqliteStore({ path });
    await store.open();
    await store.close();
    const db = new Database(path);
    db.prepare("INSERT INTO symphony_migrations (version, name) VALUES (999, 'from the future')").run();
    db.close();
    const error = await new SqliteStore({ path }).open().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'STORE_UNAVAILABLE' });
    expect((error as Error).message).toContain('999');
  });

  it('enforces status values and one completion per task in the database itself', async () => {
    const path = newPath();
    const store = new SqliteStore({ path });
    await store.open();
    await store.commit({
      workflows: [sampleWorkflow('w1')],
      tasks: [sampleTask('t1', { status: 'COMPLETED' })],
      completions: [{ taskId: 't1', executionId: 'e1', attempt: 1, completedAt: 1 }],
    });
    await store.close();
    const db = new Database(path);
    expect(() => db.prepare("UPDATE workflows SET status = 'DONE' WHERE id = 'w1'").run()).toThrow(/CHECK/);
    expect(() => db.prepare("UPDATE workflows SET paused = 2 WHERE id = 'w1'").run()).toThrow(/CHECK/);
    expect(() =>
      db
        .prepare(
          "INSERT INTO task_completions (task_id, execution_id, attempt, completed_at) VALUES ('t1', 'e2', 2, 2)",
        )
        .run(),
    ).toThrow(/UNIQUE/);
    db.close();
  });

  it('keeps a committed batch when the writing process is killed right after the commit', async () => {
    const path = newPath();
    expect(await runChild('commit-and-kill', path)).toEqual({ committed: true });
    expect(existsSync(`${path}-wal`)).toBe(true);
    const store = new SqliteStore({ path });
    await store.open();
    expect((await store.tasks.get('survivor'))?.status).toBe('COMPLETED');
    await expect(store.completions('survivor')).resolves.toHaveLength(1);
    await store.close();
  });

  it('names the row it refuses in a batch written many rows a statement, and writes none of the batch', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    await store.open();
    await store.commit({ tasks: [sampleTask('kept', { idempotencyKey: 'taken' })] });
    const batch = (change: (tasks: Task[]) => void) => {
      const tasks = Array.from({ length: 50 }, (_, i) => sampleTask(`bulk-${i}`));
      change(tasks);
      return tasks;
    };
    const failure = (promise: Promise<unknown>) =>
      promise.then(
        () => undefined,
        (error: unknown) => error,
      );

    const badStatus = batch((t) => (t[37] = sampleTask('bulk-37', { status: 'BOGUS' as Task['status'] })));
    const status = await failure(store.commit({ tasks: badStatus }));
    expect(status).toMatchObject({
      code: 'INVALID_ARGUMENT',
      details: { entity: 'task', field: 'status', id: 'bulk-37', value: 'BOGUS' },
    });
    expect((status as Error).message).toContain('"bulk-37"');

    const twice = batch((t) => {
      t[5] = sampleTask('bulk-5', { idempotencyKey: 'dup' });
      t[9] = sampleTask('bulk-9', { idempotencyKey: 'dup' });
    });
    expect(await failure(store.tasks.saveMany(twice))).toMatchObject({
      code: 'INVALID_STATE',
      details: { entity: 'task', field: 'idempotencyKey', value: 'dup' },
    });
    const taken = batch((t) => (t[40] = sampleTask('bulk-40', { idempotencyKey: 'taken' })));
    expect(await failure(store.commit({ tasks: taken }))).toMatchObject({
      code: 'INVALID_STATE',
      details: { field: 'idempotencyKey', value: 'taken' },
    });

    const unbindable = batch((t) => (t[20] = sampleTask('bulk-20', { name: {} as unknown as string })));
    const bind = await failure(store.commit({ tasks: unbindable }));
    expect(bind).toMatchObject({ code: 'INVALID_ARGUMENT', details: { entity: 'task', id: 'bulk-20' } });
    expect((bind as Error).message).toContain('"bulk-20"');

    const missing = batch((t) => (t[48] = sampleTask('bulk-48', { description: null as unknown as string })));
    const notNull = await failure(store.commit({ tasks: missing }));
    expect(notNull).toMatchObject({ code: 'INVALID_ARGUMENT', details: { entity: 'task', id: 'bulk-48' } });
    expect((notNull as Error).message).toMatch(/NOT NULL/);

    await expect(store.tasks.find()).resolves.toEqual([sampleTask('kept', { idempotencyKey: 'taken' })]);
    const good = batch(() => {});
    await store.commit({ tasks: good });
    await expect(store.tasks.getMany(good.map((task) => task.id))).resolves.toEqual(good);
    await store.close();
  });

  it('works on a private in-memory database', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    await store.open();
    await store.tasks.create(sampleTask('t1'));
    await expect(store.tasks.count()).resolves.toBe(1);
    await store.close();
  });
});
