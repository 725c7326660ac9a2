import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import pg from 'pg';
import { describe, it } from 'vitest';

/** The PostgreSQL server the tests use; SYMPHONY_TEST_PG_URL overrides it. */
export const PG_URL = process.env.SYMPHONY_TEST_PG_URL ?? 'postgres://127.0.0.1:5432/test';

const inCi = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';
const runId = randomBytes(4).toString('hex');
let schemas = 0;

/** `url` with a user name filled in the way libpq (and PostgresStore) would. */
export function withUser(url: string, params: Record<string, string> = {}): string {
  const parsed = new URL(url);
  if (!parsed.username && !process.env.PGUSER && !process.env.USER) parsed.username = userInfo().username;
  for (const [key, value] of Object.entries(params)) parsed.searchParams.set(key, value);
  return parsed.toString();
}

/** A fresh schema name for one store of this test run. */
export function nextSchema(): string {
  schemas += 1;
  return `symphony_test_${runId}_${schemas}`;
}

/** Runs `fn` with a plain pg client outside any store (setup, sabotage, inspection). */
export async function withAdmin<R>(fn: (client: pg.Client) => Promise<R>): Promise<R> {
  const client = new pg.Client({ connectionString: withUser(PG_URL), connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Drops every schema this test run created. */
export async function dropTestSchemas(): Promise<void> {
  await withAdmin(async (client) => {
    const { rows } = await client.query<{ nspname: string }>(
      'SELECT nspname FROM pg_namespace WHERE nspname LIKE $1',
      [`symphony_test_${runId}_%`],
    );
    for (const { nspname } of rows) await client.query(`DROP SCHEMA IF EXISTS "${nspname}" CASCADE`);
  });
}

async function unreachableReason(): Promise<string | null> {
  try {
    await withAdmin((client) => client.query('SELECT 1'));
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}

const reason = await unreachableReason();

/**
 * `describe` for tests that need PostgreSQL. Under CI they always run, and an unreachable server
 * fails the run; elsewhere an unreachable server skips them with a message on the console.
 */
export function describePostgres(name: string, fn: () => void): void {
  if (reason === null) {
    describe(name, fn);
  } else if (inCi) {
    describe(name, () => {
      it('reaches PostgreSQL (required when CI is set)', () => {
        throw new Error(`PostgreSQL at ${PG_URL} is unreachable under CI: ${reason}`);
      });
    });
  } else {
    console.warn(
      `[symphony tests] SKIPPING "${name}": PostgreSQL at ${PG_URL} is unreachable (${reason}). Start it or set SYMPHONY_TEST_PG_URL.`,
    );
    describe.skip(name, fn);
  }
}
