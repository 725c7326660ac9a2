/**
 * The cost of a worker's claim on PostgreSQL with fairness keys: fills a fresh schema with `tasks`
 * runnable tasks spread over `keys` fairness keys (one agent without a stored config, priorities
 * 0-3, every task limited to 2 running per key; `keys` 0: no key), then times claims of `limit` (each rolled back, so
 * every claim sees the same queue) and prints `EXPLAIN (ANALYZE, BUFFERS)` of the claim statement.
 * With `--rates` the agent is a stored config with a rate limit and the keys have one too.
 *
 * Usage: npx tsx bench/tools/claim-explain.ts [tasks=100000] [keys=100] [limit=64] [--rates]
 * (PostgreSQL from SYMPHONY_TEST_PG_URL, else postgres://127.0.0.1:5432/test; the schema is dropped after.)
 */
import { userInfo } from 'node:os';
import pg from 'pg';
import { PostgresStore } from '../../src/repositories/postgres/postgres-store.js';
import type { ExecutionPlan, Task } from '../../src/domain/task.js';
import { sampleAgentConfig, samplePlan, sampleTask, SAMPLE_TIME } from '../../src/testing/samples.js';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const rates = process.argv.includes('--rates');
const [tasks = 100_000, keys = 100, limit = 64] = args.map(Number);
const url = process.env.SYMPHONY_TEST_PG_URL ?? `postgres://${userInfo().username}@127.0.0.1:5432/test`;
const schema = `symphony_explain_${process.pid}`;

/** The statements the store sends, by name (named statements carry their text once per connection). */
const seen = new Map<string, { text: string; values: unknown[] }>();
const query = pg.Client.prototype.query as (...a: unknown[]) => unknown;
pg.Client.prototype.query = function (this: pg.Client, ...a: unknown[]) {
  const config = a[0] as { name?: string; text?: string; values?: unknown[] };
  if (typeof config === 'object' && config?.name && config.text)
    seen.set(config.name.replace(/_[0-9a-f]+$/, ''), { text: config.text, values: config.values ?? [] });
  return query.apply(this, a);
} as typeof pg.Client.prototype.query;

function plan(i: number): ExecutionPlan {
  return samplePlan('agent', {
    maxInterruptions: 3,
    priority: i % 4,
    ...(keys === 0
      ? {}
      : {
          concurrencyKey: `customer-${i % keys}`,
          keyConcurrency: 2,
          ...(rates ? { keyRateLimits: [{ requests: 1_000, per: 1_000 }] } : {}),
        }),
  });
}

const store = new PostgresStore({ connectionString: url, schema, poolSize: 2 });
await store.open();
const admin = new pg.Client({ connectionString: url });
await admin.connect();
// As the store's own sessions (postgres-connection.ts): no JIT.
await admin.query('SET jit = off');
try {
  if (rates) {
    await store.commit({
      agentConfigs: [
        sampleAgentConfig('agent', { maxConcurrency: 10_000, rateLimits: [{ requests: 1_000, per: 1_000 }] }),
      ],
    });
  }
  const t0 = Date.now();
  for (let from = 0; from < tasks; from += 5_000) {
    const rows: Task[] = [];
    for (let i = from; i < Math.min(tasks, from + 5_000); i += 1)
      rows.push(sampleTask(`t${i}`, { execution: plan(i), createdAt: SAMPLE_TIME + i }));
    await store.commit({ tasks: rows });
  }
  await admin.query(`ANALYZE "${schema}".tasks`);
  console.log(`${tasks} tasks over ${keys} keys written in ${Date.now() - t0} ms`);
  // One claim to learn the statements, then let go of what it took.
  const first = await store.claimRunnable({ engineId: 'e', limit, now: Date.now() });
  console.log(`a claim of ${limit} took ${first.length}`);
  const release = () =>
    admin.query(`UPDATE "${schema}".tasks SET lease_owner = NULL WHERE lease_owner IS NOT NULL`);
  await release();
  const times: number[] = [];
  for (let i = 0; i < 20; i += 1) {
    const start = performance.now();
    await store.claimRunnable({ engineId: 'e', limit, now: Date.now(), releaseGone: false });
    times.push(performance.now() - start);
    await release();
  }
  times.sort((a, b) => a - b);
  console.log(
    `claim of ${limit}: median ${times[10]!.toFixed(2)} ms, min ${times[0]!.toFixed(2)} ms (20 claims, each let go)`,
  );
  for (const [name, { text, values }] of seen) {
    if (!name.startsWith('symphony_claim')) continue;
    await admin.query('BEGIN');
    const { rows } = await admin.query({
      text: `EXPLAIN (ANALYZE, BUFFERS) ${text}`,
      values: values.map((v) => (v === undefined ? null : v)),
    });
    await admin.query('ROLLBACK');
    console.log(`\n${name}:`);
    for (const row of rows as Array<Record<string, string>>) console.log(row['QUERY PLAN']);
  }
} finally {
  await store.close();
  await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await admin.end();
}
