/**
 * SQLite migration 16 and PostgreSQL migration 19 (issue 14, agent config quotas): the nullable
 * JSON column `quota` of agent_configs. A config stored before keeps every field and has no quota;
 * a config with one, stored after, reads back with it; the column is NULL where there is none.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { postgresMigrations } from '../../src/repositories/postgres/migrations.js';
import { PostgresStore } from '../../src/repositories/postgres/postgres-store.js';
import { sqliteMigrations } from '../../src/repositories/sqlite/migrations.js';
import { SqliteStore } from '../../src/repositories/sqlite/sqlite-store.js';
import type { Store } from '../../src/repositories/store.js';
import { sampleAgentConfig } from '../../src/testing/samples.js';
import { describePostgres, dropTestSchemas, nextSchema, PG_URL, withAdmin } from './pg-helpers.js';

/** A config as the version before wrote it: a breaker and rate limits, odd text. */
const OLD_CONFIG = sampleAgentConfig('a-old', {
  name: "'; DROP TABLE agent_configs; --",
  capabilities: ['x', 'Ünïcödé ✓'],
  maxConcurrency: 3,
  metadata: { nested: [1, null] },
  circuitBreaker: { failureThreshold: 3, windowMs: 60_000, cooldownMs: 30_000, halfOpenProbes: 1 },
  rateLimits: [{ requests: 5, per: 1_000 }],
});

const INSERT_COLUMNS =
  'id, name, type, description, capabilities, max_concurrency, metadata, created_at, updated_at, circuit_breaker, rate_limits';
const oldValues = (c: typeof OLD_CONFIG) => [
  c.id,
  c.name,
  c.type,
  c.description,
  JSON.stringify(c.capabilities),
  c.maxConcurrency,
  JSON.stringify(c.metadata),
  c.createdAt,
  c.updatedAt,
  JSON.stringify(c.circuitBreaker),
  JSON.stringify(c.rateLimits),
];

/** What every migrated store shows: the old config as it was, quotas stored from now on. */
async function checkMigrated(store: Store): Promise<void> {
  const old = await store.agentConfigs.get('a-old');
  expect(old).toEqual(OLD_CONFIG);
  expect(old?.quota).toBeUndefined();
  const withQuota = sampleAgentConfig('a-new', { quota: { tokens: 500, costUsd: 1.5 } });
  await store.agentConfigs.create(withQuota);
  await expect(store.agentConfigs.get('a-new')).resolves.toEqual(withQuota);
}

const dir = mkdtempSync(join(tmpdir(), 'symphony-migration-quota-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('SQLite migration 16', () => {
  it('adds agent_configs.quota: an old config keeps every field and has no quota', async () => {
    const path = join(dir, 'v15.db');
    const db = new Database(path);
    db.exec(
      'CREATE TABLE symphony_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)',
    );
    for (const migration of sqliteMigrations.filter((m) => m.version <= 15)) {
      db.exec(migration.sql);
      db.prepare('INSERT INTO symphony_migrations (version, name) VALUES (?, ?)').run(
        migration.version,
        migration.name,
      );
    }
    db.prepare(
      `INSERT INTO agent_configs (${INSERT_COLUMNS}) VALUES (${oldValues(OLD_CONFIG)
        .map(() => '?')
        .join(', ')})`,
    ).run(...oldValues(OLD_CONFIG));
    db.close();
    const store = new SqliteStore({ path });
    await store.open();
    try {
      await checkMigrated(store);
    } finally {
      await store.close();
    }
    const after = new Database(path, { readonly: true });
    try {
      expect(after.prepare('SELECT MAX(version) FROM symphony_migrations').pluck().get()).toBe(16);
      expect(after.prepare('SELECT id, quota FROM agent_configs ORDER BY id').all()).toEqual([
        { id: 'a-new', quota: '{"tokens":500,"costUsd":1.5}' },
        { id: 'a-old', quota: null },
      ]);
    } finally {
      after.close();
    }
  });
});

describePostgres('PostgreSQL migration 19', () => {
  afterAll(dropTestSchemas);

  it('adds agent_configs.quota: an old config keeps every field and has no quota', async () => {
    const schema = nextSchema();
    const s = `"${schema}"`;
    await withAdmin(async (client) => {
      await client.query(`CREATE SCHEMA ${s}`);
      await client.query(
        `CREATE TABLE ${s}.symphony_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
      );
      for (const migration of postgresMigrations.filter((m) => m.version <= 18)) {
        await client.query(migration.sql(s));
        await client.query(`INSERT INTO ${s}.symphony_migrations (version, name) VALUES ($1, $2)`, [
          migration.version,
          migration.name,
        ]);
      }
      const values = oldValues(OLD_CONFIG);
      await client.query(
        `INSERT INTO ${s}.agent_configs (${INSERT_COLUMNS}) VALUES (${values.map((_, i) => `$${i + 1}`).join(', ')})`,
        values,
      );
    });
    const store = new PostgresStore({ connectionString: PG_URL, schema, poolSize: 2 });
    await store.open();
    try {
      await checkMigrated(store);
    } finally {
      await store.close();
    }
    await withAdmin(async (client) => {
      const { rows: versions } = await client.query(`SELECT MAX(version) AS v FROM ${s}.symphony_migrations`);
      expect(versions[0]).toEqual({ v: 19 });
      const { rows: columns } = await client.query(
        `SELECT data_type, is_nullable FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'agent_configs' AND column_name = 'quota'`,
        [schema],
      );
      expect(columns).toEqual([{ data_type: 'json', is_nullable: 'YES' }]);
      const { rows } = await client.query(
        `SELECT id, quota::text AS quota FROM ${s}.agent_configs ORDER BY id`,
      );
      expect(rows).toEqual([
        { id: 'a-new', quota: '{"tokens":500,"costUsd":1.5}' },
        { id: 'a-old', quota: null },
      ]);
    });
  });
});
