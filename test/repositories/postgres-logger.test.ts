// Regression tests for issue 9: PostgreSQL pool errors were swallowed (`pool.on('error', () => {})`).
// They now reach the `logger` option, and the store (and the engine on it) keeps working.
import { afterAll, expect, it } from 'vitest';
import { ServiceRegistry } from '../../src/index.js';
import { PostgresStore } from '../../src/postgres.js';
import { sampleTask } from '../../src/testing/samples.js';
import { recordingLogger } from '../support/recording-logger.js';
import { waitFor } from './pg-cluster.js';
import { describePostgres, dropTestSchemas, nextSchema, PG_URL, withAdmin, withUser } from './pg-helpers.js';

let apps = 0;
/** A unique application_name, so the test terminates only its own connections. */
function appName(): string {
  apps += 1;
  return `symphony_logger_${process.pid}_${apps}`;
}

async function terminate(app: string): Promise<number> {
  return withAdmin(async (client) => {
    const { rows } = await client.query<{ ok: boolean }>(
      'SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1',
      [app],
    );
    return rows.filter((row) => row.ok).length;
  });
}

describePostgres('PostgresStore logger (issue 9)', () => {
  afterAll(dropTestSchemas);

  it('logs an idle connection the server dropped, then reconnects and keeps working', async () => {
    const app = appName();
    const { logger, entries, count } = recordingLogger();
    const store = new PostgresStore({
      connectionString: withUser(PG_URL, { application_name: app }),
      schema: nextSchema(),
      logger,
    });
    await store.open();
    try {
      await store.tasks.count(); // leaves an idle connection in the pool
      expect(await terminate(app)).toBeGreaterThan(0);
      await waitFor('the pool error in the log', () => count('error', /Lost an idle connection/) > 0);
      const entry = entries.find((e) => /Lost an idle connection/.test(e.message))!;
      expect(entry.fields.sqlState).toBe('57P01');
      expect(String(entry.fields.target)).not.toMatch(/password/);
      await store.commit({ tasks: [sampleTask('after')] });
      expect((await store.tasks.get('after'))?.id).toBe('after');
      expect(count('info', /Reconnected/)).toBe(1);
    } finally {
      await store.close();
    }
  });

  it('an engine passes its logger to the store it builds from a URL, and keeps running after a pool error', async () => {
    const app = appName();
    const { logger, count } = recordingLogger();
    const url = new URL(withUser(PG_URL, { application_name: app }));
    url.searchParams.set('schema', nextSchema());
    const registry = new ServiceRegistry({ store: url.toString(), logger });
    try {
      const before = await registry.getTaskManager().createTask({ name: 'before' });
      expect(await terminate(app)).toBeGreaterThan(0);
      await waitFor('the pool error in the log', () => count('error', /Lost an idle connection/) > 0);
      const after = await registry.getTaskManager().createTask({ name: 'after' });
      const result = await registry
        .getEnhancedExecutor()
        .executeTask(after.id, { id: 'echo', execute: async (task) => ({ echoed: task.name }) });
      expect(result.status).toBe('COMPLETED');
      expect((await registry.getTaskManager().getTask(before.id)).status).toBe('PENDING');
    } finally {
      await registry.stop();
    }
  });
});
