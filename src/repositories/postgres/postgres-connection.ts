import { userInfo } from 'node:os';
import { resolveLogger, type Logger } from '../../engine/logger.js';
import { InvalidArgumentError, InvalidStateError, StoreError } from '../../errors/errors.js';
import { quote, type SqlDialect } from '../sql/statements.js';
import type { StoreOpenOptions } from '../store.js';
import { loadPgDriver, type PgClient, type PgPool } from './driver.js';
import { LATEST_POSTGRES_VERSION, postgresMigrations } from './migrations.js';
import { isConnectionError, toStoreError } from './postgres-errors.js';

export interface PostgresStoreOptions {
  /**
   * `postgres://user:password@host:port/database`; query parameters pg understands
   * (`application_name`, `sslmode`, ...) are passed on. Without a user name in the URL or in
   * `PGUSER`/`USER`, the operating-system user's name is used, as libpq does.
   */
  connectionString: string;
  /**
   * The schema holding Symphony's tables; created at open when missing.
   * @default 'public'
   */
  schema?: string;
  /**
   * Connections the pool keeps at most.
   * @default 10
   */
  poolSize?: number;
  /**
   * Hears about lost connections (an idle one dropped by the server, one that failed in a
   * transaction) and reconnects; pino-compatible. An engine given a `logger` passes it to the
   * store it builds from a spec. @default none (silent)
   */
  logger?: Logger;
}

export type ResolvedPostgresOptions = Required<Omit<PostgresStoreOptions, 'logger'>> & { logger: Logger };

const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
/** First key of the two-key advisory lock taken while migrating ("SYMP"). */
const LOCK_NAMESPACE = 0x53594d50;

/** Checks the options once and fills in the defaults. */
export function resolvePostgresOptions(options: PostgresStoreOptions): ResolvedPostgresOptions {
  const {
    connectionString,
    schema = 'public',
    poolSize = 10,
    logger: given,
  } = options ?? ({} as PostgresStoreOptions);
  parsePostgresUrl('connectionString', connectionString);
  if (typeof schema !== 'string' || !SCHEMA_NAME.test(schema)) {
    throw new InvalidArgumentError(
      `Expected \`schema\` to be a plain identifier (letters, digits, _; at most 63), got ${JSON.stringify(schema)}`,
    );
  }
  if (!Number.isInteger(poolSize) || poolSize < 1) {
    throw new InvalidArgumentError(`Expected \`poolSize\` to be an integer >= 1, got ${String(poolSize)}`);
  }
  return { connectionString, schema, poolSize, logger: resolveLogger(given) };
}

/**
 * A PostgreSQL URL (`postgres://` or `postgresql://`) parsed, or an INVALID_ARGUMENT naming `name`
 * (with the password left out of the message).
 */
export function parsePostgresUrl(name: string, connectionString: unknown): URL {
  if (typeof connectionString === 'string' && /^postgres(ql)?:\/\//i.test(connectionString)) {
    try {
      return new URL(connectionString);
    } catch {
      // Reported below, without echoing the string (it may hold a password).
    }
  }
  const got =
    typeof connectionString !== 'string'
      ? typeof connectionString
      : /^postgres(ql)?:\/\//i.test(connectionString)
        ? 'a string that is not a valid URL'
        : JSON.stringify(redact(connectionString));
  throw new InvalidArgumentError(
    `Expected \`${name}\` to be a postgres:// or postgresql:// URL (postgres://user@host:5432/database), got ${got}`,
  );
}

/** The URL without password or query parameters, for messages. */
export function redact(connectionString: string): string {
  try {
    const url = new URL(connectionString);
    const user = url.username ? `${url.username}@` : '';
    return `${url.protocol}//${user}${url.host}${url.pathname}`;
  } catch {
    return 'an unparseable PostgreSQL URL';
  }
}

/** 32-bit FNV-1a of `text`, as a signed int4 for `pg_advisory_xact_lock(int4, int4)`. */
function lockKey(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash | 0;
}

/** Owns the pg Pool of a PostgresStore: opening, migrations, transactions, error mapping. */
export class PostgresConnection {
  readonly target: string;
  readonly dialect: SqlDialect;
  private pool: PgPool | null = null;
  /** Connections lost since the last one the pool opened (a reconnect is logged when > 0). */
  private lost = 0;

  constructor(readonly options: ResolvedPostgresOptions) {
    this.target = `PostgreSQL at ${redact(options.connectionString)} (schema ${JSON.stringify(options.schema)})`;
    const schema = quote(options.schema);
    this.dialect = {
      param: (n) => `$${n}`,
      table: (name) => `${schema}.${quote(name)}`,
      unlimited: '',
      jsonAsText: true,
      boolean: (value) => value,
    };
  }

  /** Connects, creates the schema if needed and migrates; `readOnly`: see StoreOpenOptions. */
  async open(options: StoreOpenOptions = {}): Promise<void> {
    if (this.pool) return;
    const readOnly = options.readOnly === true;
    const Pool = await loadPgDriver();
    const url = new URL(this.options.connectionString);
    if (!url.username && !process.env.PGUSER && !process.env.USER) url.username = userInfo().username;
    // The store's statements are short; over a deep queue the planner's estimates can pass
    // jit_above_cost, and compiling a claim (about 0.4 s here) costs far more than running it. Set
    // in the startup packet (`-c jit=off`, after any options the URL gives), so no statement is sent
    // before the pool hands the connection out
    // (pg lets a URL's `options` override the config's, so they are moved into the config.)
    // A reader's transactions are read-only (default_transaction_read_only): a write fails.
    const startup = [
      url.searchParams.get('options'),
      '-c jit=off',
      readOnly ? '-c default_transaction_read_only=on' : '',
    ]
      .filter(Boolean)
      .join(' ');
    url.searchParams.delete('options');
    const pool = new Pool({
      connectionString: url.toString(),
      max: this.options.poolSize,
      options: startup,
    });
    // An idle connection that dies (server restart, terminated backend) is dropped by the pool,
    // which connects anew on the next checkout; without a listener the error would crash the
    // process. It is logged, and the store goes on.
    pool.on('error', (error) => this.connectionLost(error, 'an idle connection'));
    pool.on('connect', () => {
      if (this.lost === 0) return;
      this.options.logger.info({ target: this.target, lost: this.lost }, `Reconnected to ${this.target}`);
      this.lost = 0;
    });
    this.pool = pool;
    try {
      await this.transaction((client) => (readOnly ? this.checkReadable(client) : this.migrate(client)));
    } catch (error) {
      this.pool = null;
      await pool.end().catch(() => {});
      throw error;
    }
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = null;
    await pool?.end();
  }

  /**
   * Runs one statement outside any transaction. With `rowMode: 'array'` each row is an array of
   * its column values, in the order of the SELECT list, and no object is built per row.
   */
  async query(
    text: string,
    params: unknown[] = [],
    rowMode?: 'array',
  ): Promise<{ rows: unknown[]; rowCount: number }> {
    const pool = this.database();
    try {
      const result = await (rowMode === undefined
        ? pool.query(text, params)
        : pool.query({ text, values: params, rowMode }));
      return { rows: result.rows, rowCount: result.rowCount ?? 0 };
    } catch (error) {
      throw toStoreError(error, this.target);
    }
  }

  /**
   * Runs `fn` between BEGIN and COMMIT on one pooled connection. If anything fails (the
   * connection included) the transaction is rolled back, by the server when the connection is
   * gone, and a connection that failed is discarded rather than returned to the pool.
   */
  async transaction<R>(fn: (client: PgClient) => Promise<R>): Promise<R> {
    return this.onClient(fn, true);
  }

  /**
   * Runs `fn` on one pooled connection without BEGIN and COMMIT: for work of one statement, which
   * the server applies all or nothing on its own (two round trips fewer than `transaction`).
   */
  async autocommit<R>(fn: (client: PgClient) => Promise<R>): Promise<R> {
    return this.onClient(fn, false);
  }

  private async onClient<R>(fn: (client: PgClient) => Promise<R>, inTransaction: boolean): Promise<R> {
    const pool = this.database();
    let client: PgClient;
    try {
      client = await pool.connect();
    } catch (error) {
      throw toStoreError(error, this.target);
    }
    let lost: Error | undefined;
    const onError = (error: Error) => {
      lost = error;
    };
    client.on('error', onError);
    try {
      if (inTransaction) await client.query('BEGIN');
      const result = await fn(client);
      if (inTransaction) await client.query('COMMIT');
      client.removeListener('error', onError);
      client.release();
      return result;
    } catch (error) {
      let broken = lost ?? (isConnectionError(error) ? (error as Error) : undefined);
      if (!broken && inTransaction) {
        try {
          await client.query('ROLLBACK');
        } catch (rollbackError) {
          broken = rollbackError as Error;
        }
      }
      client.removeListener('error', onError);
      client.release(broken ?? false);
      if (broken) this.connectionLost(broken, 'a connection in a transaction');
      throw toStoreError(error, this.target);
    }
  }

  /** Logs a dropped connection; the pool has discarded it and opens a new one when needed. */
  private connectionLost(error: Error, which: string): void {
    this.lost += 1;
    this.options.logger.error(
      { err: error, target: this.target, sqlState: (error as { code?: unknown }).code },
      `Lost ${which} to ${this.target}; the pool opens a new one when needed`,
    );
  }

  private database(): PgPool {
    if (!this.pool) throw new InvalidStateError(`The ${this.target} store is not open; call open() first`);
    return this.pool;
  }

  /** Checks, creating nothing, that the schema holds a Symphony store of this version. */
  private async checkReadable(client: PgClient): Promise<void> {
    const table = `${quote(this.options.schema)}.symphony_migrations`;
    const { rows: found } = await client.query('SELECT to_regclass($1) IS NOT NULL AS found', [table]);
    if ((found[0] as { found: boolean }).found !== true) {
      throw new StoreError(
        'STORE_NOT_FOUND',
        `${this.target} holds no Symphony store (no symphony_migrations table); nothing was created`,
        { details: { target: this.target } },
      );
    }
    const { rows } = await client.query(`SELECT MAX(version) AS version FROM ${table}`);
    this.checkVersion(Number((rows[0] as { version: number | null }).version ?? 0), true);
  }

  /**
   * Refuses a schema newer than this version of Symphony knows, and (`readOnly`) an older one,
   * which only a migration (an open to write) makes readable.
   */
  private checkVersion(current: number, readOnly: boolean): void {
    if (current > LATEST_POSTGRES_VERSION) {
      throw new StoreError(
        'STORE_UNAVAILABLE',
        `${this.target} has schema version ${current}, newer than the ${LATEST_POSTGRES_VERSION} this version of Symphony knows; upgrade Symphony to use it`,
        { details: { target: this.target, version: current } },
      );
    }
    if (readOnly && current < LATEST_POSTGRES_VERSION) {
      throw new StoreError(
        'STORE_UNAVAILABLE',
        `${this.target} has schema version ${current}, older than the ${LATEST_POSTGRES_VERSION} this version of Symphony reads; opening it to write (any command that changes it, or the API) migrates it`,
        { details: { target: this.target, version: current } },
      );
    }
  }

  private async migrate(client: PgClient): Promise<void> {
    const schema = quote(this.options.schema);
    await client.query('SELECT pg_advisory_xact_lock($1, $2)', [
      LOCK_NAMESPACE,
      lockKey(this.options.schema),
    ]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${schema}.symphony_migrations (
  version integer PRIMARY KEY,
  name text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`);
    const { rows } = await client.query(`SELECT MAX(version) AS version FROM ${schema}.symphony_migrations`);
    const current = Number((rows[0] as { version: number | null }).version ?? 0);
    this.checkVersion(current, false);
    for (const migration of postgresMigrations) {
      if (migration.version <= current) continue;
      await client.query(migration.sql(schema));
      await client.query(`INSERT INTO ${schema}.symphony_migrations (version, name) VALUES ($1, $2)`, [
        migration.version,
        migration.name,
      ]);
    }
  }
}
