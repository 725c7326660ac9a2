import {
  rateWaitMs,
  type RateBucketGrant,
  type RateBucketOp,
  type RateBucketsRead,
} from '../../domain/rate-limit.js';

/** The SQL of one dialect that the bucket law needs. */
interface Dialect {
  least: string;
  greatest: string;
  /** The whole part of a positive number. */
  floor: (x: string) => string;
  yes: string;
}

/** The values of one operation, as SQL expressions. */
interface OpSql {
  cap: string;
  per: string;
  add: string;
  take: string;
  spend: string;
  block: string;
  now: string;
}

/**
 * The law of `applyRateOp` (src/domain/rate-limit.ts) as SQL expressions over a bucket whose
 * balance is `t0` at `u0`: its new balance, its new `updated_at` and the tokens granted. Applied in
 * an UPDATE's SET they read the row as locked, so a refill and a take are one atomic step.
 */
export function bucketLaw(
  d: Dialect,
  o: OpSql,
  t0: string,
  u0: string,
): Record<'tokens' | 'updatedAt' | 'granted', string> {
  const refilled = `${d.least}(${o.cap}, ${t0} + ${d.greatest}(0, ${o.now} - ${u0}) * ${o.cap} / ${o.per})`;
  const added = `${d.least}(${o.cap}, ${refilled} + ${o.add})`;
  const blocked = `(CASE WHEN ${o.block} > 0 THEN ${d.least}(${added}, 0) ELSE ${added} END)`;
  const from = `${d.greatest}(${u0}, ${o.now} + ${o.block})`;
  const granted =
    `(CASE WHEN ${from} <= ${o.now} AND ${blocked} >= 1` +
    ` THEN (CASE WHEN ${o.spend} = ${d.yes} THEN ${d.least}(${o.take}, ${d.floor(blocked)}) ELSE ${o.take} END)` +
    ` ELSE 0 END)`;
  const tokens = `${blocked} - (CASE WHEN ${o.spend} = ${d.yes} THEN ${granted} ELSE 0 END)`;
  return { tokens, updatedAt: from, granted };
}

/** A bucket row as the statements return it: key, tokens, updated_at, granted, the operation's time. */
export type BucketRow = [string, number, number, number, number];

/** The grants of `ops` from the rows the statements returned; a bucket with no row granted nothing. */
export function grantsOf(ops: readonly RateBucketOp[], rows: readonly BucketRow[]): RateBucketGrant[] {
  const byKey = new Map(rows.map((row) => [row[0], row]));
  return ops.map((op) => {
    const row = byKey.get(op.key);
    // Not applied (a bucket created by another writer in the same instant): ask again at once.
    if (row === undefined) return { key: op.key, granted: 0, waitMs: op.take > 0 ? 1 : 0 };
    const [, tokens, updatedAt, granted, now] = row.map(Number) as unknown as BucketRow;
    const waitMs = granted >= op.take ? 0 : rateWaitMs(tokens, updatedAt, now, op);
    return { key: op.key, granted, waitMs };
  });
}

const SQLITE: Dialect = {
  least: 'MIN',
  greatest: 'MAX',
  floor: (x) => `CAST(${x} AS INTEGER)`,
  yes: '1',
};

/**
 * SQLite's two statements for one operation (named parameters): create the bucket full where it is
 * missing, then apply the law to it (one UPDATE). Both run in one write transaction.
 */
export function sqliteRateStatements(): { ensure: string; apply: string } {
  const now = `COALESCE(:at, ROUND(unixepoch('subsec') * 1000))`;
  const o: OpSql = {
    cap: '(:cap * 1.0)',
    per: '(:per * 1.0)',
    add: '(:add * 1.0)',
    take: '(:take * 1.0)',
    spend: ':spend',
    block: '(:block * 1.0)',
    now,
  };
  const law = bucketLaw(SQLITE, o, '"tokens"', '"updated_at"');
  return {
    ensure:
      `INSERT INTO "rate_buckets" ("key", "tokens", "updated_at", "granted")` +
      ` VALUES (:key, :cap * 1.0, ${now}, 0) ON CONFLICT ("key") DO NOTHING`,
    apply:
      `UPDATE "rate_buckets" SET "tokens" = ${law.tokens}, "updated_at" = ${law.updatedAt},` +
      ` "granted" = ${law.granted} WHERE "key" = :key` +
      ` RETURNING "key", "tokens", "updated_at", "granted", ${now}`,
  };
}

const POSTGRES: Dialect = {
  least: 'least',
  greatest: 'greatest',
  floor: (x) => `floor(${x})`,
  yes: 'true',
};

/**
 * PostgreSQL's one statement for a batch of operations on distinct buckets ($1..$8 arrays): a
 * missing bucket is inserted with the law applied to a full one, an existing one updated under its
 * row lock. A bucket another writer creates at the same instant returns no row (see `grantsOf`).
 * Times are the database's clock (`clock_timestamp()`, as leases) unless an operation gives `at`.
 */
export function postgresRateStatement(schema: string): string {
  const o = (alias: string): OpSql => ({
    cap: `${alias}.cap`,
    per: `${alias}.per`,
    add: `${alias}.add`,
    take: `${alias}.take`,
    spend: `${alias}.spend`,
    block: `${alias}.block`,
    now: `${alias}.now`,
  });
  const fresh = bucketLaw(POSTGRES, o('n'), 'n.cap', 'n.now');
  const held = bucketLaw(POSTGRES, o('n'), 'b.tokens', 'b.updated_at');
  const table = `${schema}.rate_buckets`;
  return (
    `WITH n AS (SELECT o.*, COALESCE(o.at, round(extract(epoch FROM clock_timestamp()) * 1000)::float8) AS now` +
    ` FROM unnest($1::text[], $2::float8[], $3::float8[], $4::float8[], $5::float8[], $6::bool[], $7::float8[], $8::float8[])` +
    ` AS o(key, cap, per, add, take, spend, block, at)),` +
    ` ins AS (INSERT INTO ${table} AS b (key, tokens, updated_at, granted)` +
    ` SELECT n.key, ${fresh.tokens}, ${fresh.updatedAt}, ${fresh.granted} FROM n` +
    ` ON CONFLICT (key) DO NOTHING RETURNING b.key, b.tokens, b.updated_at, b.granted),` +
    ` upd AS (UPDATE ${table} AS b SET tokens = ${held.tokens}, updated_at = ${held.updatedAt},` +
    ` granted = ${held.granted} FROM n WHERE b.key = n.key RETURNING b.key, b.tokens, b.updated_at, b.granted)` +
    ` SELECT r.key, r.tokens, r.updated_at, r.granted, n.now FROM (SELECT * FROM ins UNION ALL SELECT * FROM upd) AS r` +
    ` JOIN n ON n.key = r.key`
  );
}

/** The parameters of {@link postgresRateStatement} for `ops`. */
export function postgresRateValues(ops: readonly RateBucketOp[]): unknown[] {
  const col = <T>(pick: (op: RateBucketOp) => T) => ops.map(pick);
  return [
    col((op) => op.key),
    col((op) => op.capacity),
    col((op) => op.perMs),
    col((op) => op.add),
    col((op) => op.take),
    col((op) => op.spend),
    col((op) => op.blockMs),
    col((op) => op.at ?? null),
  ];
}

/**
 * The read of `Store.readRateBuckets` (SQLite: the keys as one JSON array `?`; PostgreSQL: `$1`, a
 * text array): one row with the store's clock and no key when none of the keys is stored, else a
 * row per stored bucket. Reads only: nothing is refilled or created.
 */
export function rateReadStatement(dialect: 'sqlite' | 'postgres', table: string): string {
  const sqlite = dialect === 'sqlite';
  const now = sqlite
    ? `ROUND(unixepoch('subsec') * 1000)`
    : `round(extract(epoch FROM clock_timestamp()) * 1000)::float8`;
  const keys = sqlite ? `(SELECT "value" FROM json_each(?))` : `(SELECT unnest($1::text[]))`;
  return (
    `SELECT b."key", b."tokens", b."updated_at", n."now" FROM (SELECT ${now} AS "now") AS n` +
    ` LEFT JOIN ${table} AS b ON b."key" IN ${keys}`
  );
}

/** The answer of {@link rateReadStatement}'s rows: [key, tokens, updated_at, now]. */
export function bucketsRead(rows: ReadonlyArray<readonly unknown[]>): RateBucketsRead {
  const now = Number(rows[0]?.[3] ?? Date.now());
  const buckets: RateBucketsRead['buckets'] = [];
  for (const [key, tokens, updatedAt] of rows) {
    if (key !== null && key !== undefined)
      buckets.push({ key: String(key), tokens: Number(tokens), updatedAt: Number(updatedAt) });
  }
  return { now, buckets };
}
