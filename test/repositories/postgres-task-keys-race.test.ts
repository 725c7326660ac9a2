/**
 * A PostgreSQL race of `Store.takeTaskKey` (found by the singleton property of
 * test/policies/debounce-singleton.test.ts under load): a request that waited for the key's row lock
 * while another transaction made a new holder must decide on that holder and its task. Locking
 * with `SELECT ... FOR UPDATE OF k` in the statement that joins the holder's task re-read the key's
 * row after the wait but not the joined task row, so the new holder looked task-less (free): a
 * singleton that skips took the key beside a queued holder, and two tasks stayed queued.
 */
import { afterAll, expect, it } from 'vitest';
import { PostgresStore } from '../../src/repositories/postgres/postgres-store.js';
import { sampleTask, SAMPLE_TIME as T0 } from '../../src/testing/samples.js';
import { describePostgres, dropTestSchemas, nextSchema, PG_URL, withAdmin } from './pg-helpers.js';
import { until } from '../support/wait.js';

describePostgres('PostgresStore.takeTaskKey after waiting for the key', () => {
  afterAll(dropTestSchemas);

  it('decides on the holder another transaction saved meanwhile (its task read afresh)', async () => {
    const schema = nextSchema();
    const store = new PostgresStore({ connectionString: PG_URL, schema });
    await store.open();
    try {
      await store.commit({
        tasks: [sampleTask('old', { status: 'CANCELLED' }), sampleTask('new'), sampleTask('late')],
      });
      await store.takeTaskKey!({ key: 's', taskId: 'old', mode: 'skip', at: T0 });
      await withAdmin(async (other) => {
        // Another engine's request holds the key's row lock (as takeTaskKey takes it), so this
        // request's insert passes (the row exists) and its read of the holder waits for the lock.
        await other.query('BEGIN');
        await other.query(`SELECT key FROM "${schema}".task_keys WHERE key = 's' FOR UPDATE`);
        const asked = store.takeTaskKey!({ key: 's', taskId: 'late', mode: 'skip', at: T0 + 1 });
        await until('the request to wait for the key lock', async () => {
          const { rows } = await other.query(
            "SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND locktype IN ('transactionid', 'tuple')",
          );
          return (rows[0] as { n: number }).n > 0;
        });
        // The other request makes `new` the holder, then commits.
        await other.query(`UPDATE "${schema}".task_keys SET task_id = 'new' WHERE key = 's'`);
        await other.query('COMMIT');
        // `new` is PENDING: a singleton that skips is refused, and `new` still holds the key.
        await expect(asked).resolves.toMatchObject({ taken: false, holder: 'new' });
      });
      expect(await store.taskKeyHolder!('s')).toBe('new');
    } finally {
      await store.close();
    }
  });
});
