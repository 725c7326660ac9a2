import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import {
  PostgresConnection,
  resolvePostgresOptions,
} from '../../src/repositories/postgres/postgres-connection.js';
import { PostgresStore } from '../../src/repositories/postgres/postgres-store.js';
import {
  controlStatements,
  type ControlStatement,
  type ControlStatements,
} from '../../src/repositories/sql/control-statements.js';
import { sqliteMigrations } from '../../src/repositories/sqlite/migrations.js';
import { sqliteDialect } from '../../src/repositories/sqlite/sqlite-repository.js';
import { describePostgres, dropTestSchemas, nextSchema, PG_URL, withAdmin, withUser } from './pg-helpers.js';

// Issue 11: the control-plane SQL of both dialects in one place (src/repositories/sql/control-statements.ts).

type Name = keyof ControlStatements;

/** Arguments as the stores pass them, for every statement; a new statement needs its sample here. */
const common = {
  selectCompletions: {},
  selectCompletion: { taskId: 't1' },
  insertCommand: { id: 'c1', workflowId: 'w1', taskId: null, type: 'PAUSE', createdAt: 10 },
  selectCommandsAfter: { afterSeq: 0, limit: 5 },
  selectLatestCommandSeq: {},
  upsertBeat: { engineId: 'e1', ttlMs: 2, stopped: true },
  selectBeats: {},
  insertAck: { commandId: 'c1', engineId: 'e1', applied: false, error: 'no', ackedAt: 3 },
  selectAcks: { commandId: 'c1' },
  claimTasks: { engineId: 'e1', ids: ['t1', 't2'], from: ['e0'] },
  pruneAcks: { before: 100 },
  pruneCommands: { before: 100 },
  pruneBeats: { before: 100 },
} as const;

const samples: Record<'sqlite' | 'postgres', Record<Name, object | null>> = {
  sqlite: {
    ...common,
    insertCompletions: { taskId: 't1', executionId: 'x1', attempt: 1, completedAt: 5 },
    lockCommands: null,
  },
  postgres: {
    ...common,
    insertCompletions: { taskId: ['t1'], executionId: ['x1'], attempt: [1], completedAt: [5] },
    lockCommands: { key: 'symphony control_commands test' },
  },
};

/** Values bound once for every run, not passed by the store. */
const FIXED: Partial<Record<Name, readonly string[]>> = { claimTasks: ['terminal'] };
/** Statements one dialect does without (null there), and why. */
const ONLY_POSTGRES: readonly Name[] = ['lockCommands']; // SQLite's BEGIN IMMEDIATE orders writers

const sqlite = controlStatements('sqlite', sqliteDialect);
const pgDialect = new PostgresConnection(resolvePostgresOptions({ connectionString: PG_URL, schema: 'ctl' }))
  .dialect;
const postgres = controlStatements('postgres', pgDialect);
const names = Object.keys(samples.sqlite).sort() as Name[];

function entry(statements: ControlStatements, name: Name): ControlStatement<object> | null {
  return statements[name] as ControlStatement<object> | null;
}

/** `?` placeholders outside quoted literals and identifiers. */
function questionMarks(text: string): number {
  return text.replace(/'[^']*'|"[^"]*"/g, '').split('?').length - 1;
}

/** The numbers of the `$n` placeholders, each once, ascending. */
function dollarNumbers(text: string): number[] {
  const numbers = new Set([...text.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));
  return [...numbers].sort((a, b) => a - b);
}

describe('control-plane statements', () => {
  it('has every statement in both dialects, and a sample of its arguments here', () => {
    expect(Object.keys(sqlite).sort()).toEqual(names);
    expect(Object.keys(postgres).sort()).toEqual(names);
    for (const name of names) {
      expect(entry(postgres, name), name).not.toBeNull();
      if (ONLY_POSTGRES.includes(name)) expect(entry(sqlite, name), name).toBeNull();
      else expect(entry(sqlite, name), name).not.toBeNull();
    }
  });

  it.each(names)('%s binds the same named values in both dialects, all the store passes', (name) => {
    const pg = entry(postgres, name)!;
    const fixed = FIXED[name] ?? [];
    expect(pg.names.filter((n) => !fixed.includes(n)).sort()).toEqual(
      Object.keys(samples.postgres[name]!).sort(),
    );
    const lite = entry(sqlite, name);
    if (lite) expect(lite.names).toEqual(pg.names);
  });

  it.each(names)('%s has one placeholder for each value it binds', (name) => {
    const pg = entry(postgres, name)!;
    const pgValues = pg.bind(samples.postgres[name]!);
    expect(pgValues).not.toContain(undefined);
    expect(dollarNumbers(pg.text)).toEqual(pgValues.map((_, i) => i + 1));
    expect(pg.text).not.toContain('?');
    const lite = entry(sqlite, name);
    if (!lite) return;
    const liteValues = lite.bind(samples.sqlite[name]!);
    expect(liteValues).not.toContain(undefined);
    expect(questionMarks(lite.text)).toBe(liteValues.length);
    expect(lite.text).not.toMatch(/\$\d/);
  });

  it('repeats a value on SQLite where PostgreSQL names it twice, and encodes lists and booleans per dialect', () => {
    expect(sqlite.claimTasks.bind(common.claimTasks)).toEqual([
      'e1',
      '["t1","t2"]',
      'e1',
      '["e0"]',
      '["COMPLETED","FAILED","CANCELLED","SKIPPED"]',
    ]);
    expect(postgres.claimTasks.bind(common.claimTasks)).toEqual([
      'e1',
      ['t1', 't2'],
      ['e0'],
      ['COMPLETED', 'FAILED', 'CANCELLED', 'SKIPPED'],
    ]);
    expect(sqlite.upsertBeat.bind(common.upsertBeat)).toEqual(['e1', 2, 1]);
    expect(postgres.upsertBeat.bind(common.upsertBeat)).toEqual(['e1', 2, true]);
    expect(postgres.claimTasks.text).toContain('UPDATE "ctl"."tasks"');
  });

  it('runs every SQLite statement on a migrated database with the values it binds', () => {
    const db = new Database(':memory:');
    try {
      for (const migration of sqliteMigrations) db.exec(migration.sql);
      for (const name of names) {
        const statement = entry(sqlite, name);
        if (!statement) continue;
        const prepared = db.prepare(statement.text);
        const values = statement.bind(samples.sqlite[name]!);
        expect(
          () => (prepared.reader ? prepared.all(...values) : prepared.run(...values)),
          name,
        ).not.toThrow();
      }
    } finally {
      db.close();
    }
  });
});

describePostgres('control-plane statements on PostgreSQL', () => {
  afterAll(() => dropTestSchemas());

  it('runs every PostgreSQL statement on a migrated schema with the values it binds', async () => {
    const schema = nextSchema();
    const store = new PostgresStore({ connectionString: withUser(PG_URL), schema });
    await store.open();
    await store.close();
    const statements = controlStatements(
      'postgres',
      new PostgresConnection(resolvePostgresOptions({ connectionString: PG_URL, schema })).dialect,
    );
    await withAdmin(async (client) => {
      await client.query('BEGIN');
      try {
        for (const name of names) {
          const statement = entry(statements, name)!;
          await expect(
            client.query(statement.text, statement.bind(samples.postgres[name]!)),
            name,
          ).resolves.toBeDefined();
        }
      } finally {
        await client.query('ROLLBACK');
      }
    });
  });
});
