// The store turns JIT off for its own sessions. It did so with a `SET` sent on the pool's connect
// event, which raced the first checkout: pg 8.x then printed "Calling client.query() when the client
// is already executing a query is deprecated" on stderr (CI of stop 25). The setting now travels in
// the startup packet, so no statement is sent before the connection is handed out.
import { afterAll, expect, it } from 'vitest';
import {
  PostgresConnection,
  resolvePostgresOptions,
} from '../../src/repositories/postgres/postgres-connection.js';
import { describePostgres, dropTestSchemas, nextSchema, PG_URL, withUser } from './pg-helpers.js';

async function settings(connectionString: string): Promise<Record<string, string>> {
  const connection = new PostgresConnection(
    resolvePostgresOptions({ connectionString, schema: nextSchema() }),
  );
  await connection.open();
  try {
    // Many sessions at once, each checked out as soon as it connects.
    const rows = await Promise.all(
      Array.from({ length: 8 }, () =>
        connection.query("SELECT current_setting('jit') AS jit, current_setting('statement_timeout') AS st"),
      ),
    );
    return rows
      .map((result) => result.rows[0] as Record<string, string>)
      .reduce((a, b) => {
        expect(b).toEqual(a);
        return a;
      });
  } finally {
    await connection.close();
  }
}

describePostgres('PostgreSQL session settings', () => {
  afterAll(dropTestSchemas);

  it('turns JIT off in every session without a statement racing the first checkout', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning.message);
    process.on('warning', onWarning);
    try {
      expect((await settings(withUser(PG_URL))).jit).toBe('off');
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.filter((message) => message.includes('client.query()'))).toEqual([]);
  });

  it('keeps the options the connection string gives', async () => {
    const url = withUser(PG_URL, { options: '-c statement_timeout=12345' });
    expect(await settings(url)).toEqual({ jit: 'off', st: '12345ms' });
  });
});
