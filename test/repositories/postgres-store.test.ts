import { afterAll, expect, it } from 'vitest';
import { postgresMigrations } from '../../src/repositories/postgres/migrations.js';
import { PostgresStore } from '../../src/repositories/postgres/postgres-store.js';
import { sampleAgentConfig, sampleTask, sampleWorkflow } from '../../src/testing/samples.js';
import { PG_URL, describePostgres, dropTestSchemas, nextSchema, withAdmin, withUser } from './pg-helpers.js';

/** Checks again every 20 ms until `check` holds; the 30 s bound is only against a hang (issue 9). */
async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 1500; i += 1) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`Timed out waiting until ${what}`);
}

describePostgres('PostgresStore', () => {
  afterAll(dropTestSchemas);

  it('checks its options in the constructor and connects to nothing before open', async () => {
    expect(() => new PostgresStore({ connectionString: 'mysql://x' })).toThrow(/postgres/);
    expect(
      () => new PostgresStore({ connectionString: PG_URL, schema: 'bad"; DROP SCHEMA public; --' }),
    ).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => new PostgresStore({ connectionString: PG_URL, poolSize: 0 })).toThrow(/poolSize/);
    const store = new PostgresStore({ connectionString: 'postgres://nobody:secret@127.0.0.1:1/none' });
    await expect(store.tasks.count()).rejects.toMatchObject({ code: 'INVALID_STATE' });
  });

  it('reports an unreachable server as STORE_UNAVAILABLE, retryable, without the password', async () => {
    const store = new PostgresStore({ connectionString: 'postgres://someone:secret@127.0.0.1:1/none' });
    const error = (await store.open().catch((e: unknown) => e)) as Error & {
      code: string;
      retryable: boolean;
    };
    expect(error).toMatchObject({ code: 'STORE_UNAVAILABLE', retryable: true });
    expect(error.message).toContain('127.0.0.1:1');
    expect(error.message).not.toContain('secret');
  });

  it('migrates a new schema once when several stores open it at the same time', async () => {
    const schema = nextSchema();
    const stores = Array.from(
      { length: 4 },
      () => new PostgresStore({ connectionString: PG_URL, schema, poolSize: 1 }),
    );
    await Promise.all(stores.map((store) => store.open()));
    await Promise.all(stores.map((store) => store.close()));
    const versions = await withAdmin(async (client) => {
      const { rows } = await client.query(
        `SELECT version FROM "${schema}".symphony_migrations ORDER BY version`,
      );
      return rows as { version: number }[];
    });
    // Each migration once, in order (versions may skip a number another branch of the code uses).
    expect(versions).toEqual(postgresMigrations.map((m) => ({ version: m.version })));
  });

  it('keeps the workflow commands of a version 3 schema when it moves them to control_commands', async () => {
    const schema = nextSchema();
    const quoted = `"${schema}"`;
    await withAdmin(async (client) => {
      await client.query(`CREATE SCHEMA ${quoted}`);
      await client.query(
        `CREATE TABLE ${quoted}.symphony_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
      );
      for (const migration of postgresMigrations.filter((m) => m.version <= 3)) {
        await client.query(migration.sql(quoted));
        await client.query(`INSERT INTO ${quoted}.symphony_migrations (version, name) VALUES ($1, $2)`, [
          migration.version,
          migration.name,
        ]);
      }
      await client.query(
        `INSERT INTO ${quoted}.workflow_commands (id, workflow_id, type, created_at) VALUES ('c1', 'w1', 'PAUSE', 1), ('c2', 'w1', 'RESUME', 2)`,
      );
    });
    const store = new PostgresStore({ connectionString: PG_URL, schema });
    await store.open();
    try {
      const commands = await store.commandsAfter(0);
      expect(commands.map(({ seq: _seq, ...rest }) => rest)).toEqual([
        { id: 'c1', workflowId: 'w1', taskId: null, type: 'PAUSE', createdAt: 1 },
        { id: 'c2', workflowId: 'w1', taskId: null, type: 'RESUME', createdAt: 2 },
      ]);
      await store.commit({
        commands: [{ id: 'c3', workflowId: null, taskId: 't1', type: 'CANCEL', createdAt: 3 }],
      });
      expect(await store.latestCommandSeq()).toBeGreaterThan(commands[1]!.seq);
    } finally {
      await store.close();
    }
  });

  it('appends commands under an advisory lock, so they commit in seq order', async () => {
    const schema = nextSchema();
    const store = new PostgresStore({ connectionString: PG_URL, schema });
    await store.open();
    const command = (id: string) => ({
      id,
      workflowId: 'w1',
      taskId: null,
      type: 'PAUSE' as const,
      createdAt: 1,
    });
    try {
      await withAdmin(async (client) => {
        // Another transaction is appending a command: it holds the lock until it commits.
        await client.query('BEGIN');
        await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [store.commandLockKey()]);
        let done = false;
        const committing = store.commit({ commands: [command('c1')] }).then(() => (done = true));
        await until(
          async () =>
            (await client.query("SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")).rows
              .length > 0,
          'the commit waits for the lock',
        );
        expect(done).toBe(false);
        await client.query('COMMIT');
        await committing;
      });
      expect((await store.commandsAfter(0)).map((c) => c.id)).toEqual(['c1']);
    } finally {
      await store.close();
    }
  });

  it('refuses a schema written by a newer version', async () => {
    const schema = nextSchema();
    const store = new PostgresStore({ connectionString: PG_URL, schema });
    await store.open();
    await store.close();
    await withAdmin((client) =>
      client.query(`INSERT INTO "${schema}".symphony_migrations (version, name) VALUES (999, 'future')`),
    );
    await expect(new PostgresStore({ connectionString: PG_URL, schema }).open()).rejects.toMatchObject({
      code: 'STORE_UNAVAILABLE',
      message: expect.stringContaining('999'),
    });
  });

  it('enforces status values and one completion per task in the database itself', async () => {
    const schema = nextSchema();
    const store = new PostgresStore({ connectionString: PG_URL, schema });
    await store.open();
    await store.commit({
      workflows: [sampleWorkflow('w1')],
      tasks: [sampleTask('t1', { status: 'COMPLETED' })],
      completions: [{ taskId: 't1', executionId: 'e1', attempt: 1, completedAt: 1 }],
    });
    await store.close();
    await withAdmin(async (client) => {
      await expect(client.query(`UPDATE "${schema}".workflows SET status = 'DONE'`)).rejects.toMatchObject({
        code: '23514',
      });
      await expect(
        client.query(
          `INSERT INTO "${schema}".task_completions (task_id, execution_id, attempt, completed_at) VALUES ('t1', 'e2', 2, 2)`,
        ),
      ).rejects.toMatchObject({ code: '23505' });
    });
  });

  it('rejects NUL characters in text columns with INVALID_ARGUMENT but keeps them inside JSON', async () => {
    const store = new PostgresStore({ connectionString: PG_URL, schema: nextSchema() });
    await store.open();
    await expect(store.tasks.create(sampleTask('a\u0000b'))).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    await expect(store.tasks.get('a\u0000b')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const task = sampleTask('t1', { inputData: { text: 'x\u0000y' } });
    await store.commit({ tasks: [task] });
    await expect(store.tasks.get('t1')).resolves.toEqual(task);
    await store.close();
  });

  it('rolls back a commit whose connections are terminated mid-transaction, then commits on a new connection', async () => {
    const schema = nextSchema();
    const app = `symphony_kill_${schema}`;
    const store = new PostgresStore({
      connectionString: withUser(PG_URL, { application_name: app }),
      schema,
      poolSize: 2,
    });
    await store.open();
    await store.commit({ workflows: [sampleWorkflow('w1')], tasks: [sampleTask('base')] });
    const batch = {
      agentConfigs: [sampleAgentConfig('a-new')],
      workflows: [sampleWorkflow('w1', { name: 'changed' })],
      tasks: [sampleTask('new', { status: 'COMPLETED' })],
      completions: [{ taskId: 'new', executionId: 'e1', attempt: 1, completedAt: 1 }],
    };
    await withAdmin(async (blocker) => {
      // Hold the workflow row, so the commit writes its agent config and then waits on the lock.
      await blocker.query('BEGIN');
      await blocker.query(`SELECT * FROM "${schema}".workflows WHERE id = 'w1' FOR UPDATE`);
      const pending = store.commit(batch).catch((error: unknown) => error);
      await until(async () => {
        const { rows } = await blocker.query(
          "SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
          [app],
        );
        return rows.length > 0;
      }, 'the commit waits on the row lock');
      const { rows } = await blocker.query(
        'SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE application_name = $1',
        [app],
      );
      expect(rows.length).toBeGreaterThanOrEqual(1);
      expect(await pending).toMatchObject({ name: 'StoreError', code: 'STORE_UNAVAILABLE', retryable: true });
      await blocker.query('ROLLBACK');
    });
    await expect(store.agentConfigs.get('a-new')).resolves.toBeUndefined();
    await expect(store.tasks.get('new')).resolves.toBeUndefined();
    expect((await store.workflows.get('w1'))?.name).toBe('workflow w1');
    await expect(store.completions()).resolves.toEqual([]);

    await store.commit(batch);
    await expect(store.agentConfigs.get('a-new')).resolves.toEqual(sampleAgentConfig('a-new'));
    expect((await store.workflows.get('w1'))?.name).toBe('changed');
    await expect(store.tasks.count()).resolves.toBe(2);
    await expect(store.completions('new')).resolves.toHaveLength(1);
    await store.close();
  });
});
