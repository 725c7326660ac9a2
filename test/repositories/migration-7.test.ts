/**
 * PostgreSQL migration 7 (issue 13): the claim indexes exist after open, and a claim over many
 * enqueued tasks reads through them (its plan walks an index with a LIMIT, it does not sort the table).
 */
import { afterAll, expect, it } from 'vitest';
import pg from 'pg';
import { ServiceRegistry } from '../../src/index.js';
import { postgresClaimStatements } from '../../src/repositories/postgres/claims.js';
import { PostgresStore } from '../../src/repositories/postgres/postgres-store.js';
import { PG_URL, describePostgres, dropTestSchemas, nextSchema, withUser } from './pg-helpers.js';

describePostgres('PostgreSQL migration 7', () => {
  afterAll(() => dropTestSchemas());

  it('adds the claim indexes, and a claim walks the unheld tasks in claim order through one', async () => {
    const schema = nextSchema();
    const store = new PostgresStore({ connectionString: withUser(PG_URL), schema });
    const registry = new ServiceRegistry({ store, controlPollMs: 0 });
    const client = new pg.Client({ connectionString: withUser(PG_URL) });
    await client.connect();
    try {
      const tasks = registry.getTaskManager();
      const ids = (
        await Promise.all(Array.from({ length: 2_000 }, (_, i) => tasks.createTask({ name: `t${i}` })))
      ).map((task) => task.id);
      await registry.getEnhancedExecutor().enqueueTasks(ids.map((id) => [id, 'free-agent'] as const));
      const { rows } = await client.query(
        `SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = 'tasks' ORDER BY indexname`,
        [schema],
      );
      expect(rows.map((row: { indexname: string }) => row.indexname)).toEqual(
        expect.arrayContaining(['tasks_held', 'tasks_unheld', 'tasks_unheld_agent']),
      );
      await client.query(`ANALYZE "${schema}".tasks`);
      const { claim } = postgresClaimStatements(`"${schema}"`);
      await client.query('BEGIN');
      const plan = await client.query(`EXPLAIN ${claim}`, ['e1', Date.now(), 64, [], [], false, null]);
      await client.query('ROLLBACK');
      const text = plan.rows.map((row: Record<string, string>) => row['QUERY PLAN']).join('\n');
      expect(text).toContain('Index Scan using tasks_unheld on tasks c');
      const claimed = await store.claimRunnable({ engineId: 'e1', limit: 64, now: Date.now() });
      expect(claimed).toHaveLength(64);

      // A limited key (a stored agent config): its lock probe and its claim find its tasks through
      // the per-key index by an index condition (agent_configs.id is COLLATE "C", the indexed key is
      // not: compared as they are, the planner filters every unheld task instead).
      const config = await registry
        .getAgentFactory()
        .createAgentConfig({ name: 'Limited', type: 'limited', maxConcurrency: 100 });
      const limited = (
        await Promise.all(Array.from({ length: 500 }, (_, i) => tasks.createTask({ name: `l${i}` })))
      ).map((task) => task.id);
      await registry.getEnhancedExecutor().enqueueTasks(limited.map((id) => [id, config.id] as const));
      await client.query(`ANALYZE "${schema}".tasks`);
      await client.query(`ANALYZE "${schema}".agent_configs`);
      const { lockAgentKeys } = postgresClaimStatements(`"${schema}"`);
      await client.query('BEGIN');
      const lockPlan = await client.query(`EXPLAIN ${lockAgentKeys}`, ['k ', Date.now(), false]);
      const keyPlan = await client.query(`EXPLAIN ${claim}`, [
        'e1',
        Date.now(),
        64,
        [config.id],
        [],
        true,
        null,
      ]);
      await client.query('ROLLBACK');
      for (const { rows: planRows } of [lockPlan, keyPlan]) {
        const lines = planRows.map((row: Record<string, string>) => row['QUERY PLAN']).join('\n');
        expect(lines).toContain('Index Scan using tasks_unheld_agent on tasks c');
        expect(lines).toMatch(/Index Cond: \(\(execution ->> 'agentKey'::text\) = /);
      }
    } finally {
      await client.end();
      await registry.stop();
    }
  });
});
