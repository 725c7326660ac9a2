import { TERMINAL_TASK_STATUSES } from '../../../machines/status.js';
import type { CommandAck, CompletionRecord, ControlCommand, EngineBeat } from '../store.js';
import type { SqlDialect } from './statements.js';

/**
 * The control-plane SQL of both dialects in one place: completion records, control commands,
 * their acknowledgements, engine beats, the lease claim and the pruning of old control rows.
 * `SqliteStore` and `PostgresStore` take every such statement from `controlStatements` once, when
 * they are built, and hold no control-plane SQL of their own.
 *
 * Every dialect difference is said once, in `DIFFERENCES` below (placeholders, array parameters,
 * booleans), or by the `SqlDialect` a store passes (table names, schema-qualified on PostgreSQL).
 * A statement is written once for both dialects with named placeholders (`p.value('taskId')`);
 * where the two need different SQL (the completion insert, the advisory lock), both texts stand
 * side by side in the same entry.
 *
 * To add a statement: add its field to `ControlStatements`, its entry to `controlStatements`, and
 * a sample of its arguments to test/repositories/control-statements.test.ts, which checks that both
 * dialects have it and bind the same named values.
 */

export type ControlDialectName = 'sqlite' | 'postgres';

/** How the control-plane SQL differs between the dialects, beyond `SqlDialect`. */
interface Differences {
  /** PostgreSQL's `$n` names a value once however often it is used; SQLite binds a `?` for each use. */
  reuseParams: boolean;
  /** `column` is one of the values of a bound list. */
  inList(column: string, param: string): string;
  /** `column` is none of the values of a bound list. */
  notInList(column: string, param: string): string;
  /** A list as it is bound: JSON text read by `json_each`, or a `text[]` array. */
  list(values: readonly string[]): unknown;
  /** A boolean column is true. */
  isTrue(column: string): string;
  /**
   * The database's clock in epoch milliseconds, whole: engine beats are stamped and judged by it,
   * never by the clocks of the engines, which may disagree.
   */
  nowMs: string;
}

const DIFFERENCES: Record<ControlDialectName, Differences> = {
  sqlite: {
    reuseParams: false,
    inList: (column, param) => `${column} IN (SELECT "value" FROM json_each(${param}))`,
    notInList: (column, param) => `${column} NOT IN (SELECT "value" FROM json_each(${param}))`,
    list: (values) => JSON.stringify(values),
    isTrue: (column) => `${column} = 1`,
    // The OS clock; 'now' is the same for every use within one statement.
    nowMs: `ROUND(unixepoch('subsec') * 1000)`,
  },
  postgres: {
    reuseParams: true,
    inList: (column, param) => `${column} = ANY(${param}::text[])`,
    notInList: (column, param) => `NOT (${column} = ANY(${param}::text[]))`,
    list: (values) => [...values],
    isTrue: (column) => column,
    // The server's clock as it reads (the transaction's start, now(), may be long past).
    nowMs: 'round(extract(epoch FROM clock_timestamp()) * 1000)::float8',
  },
};

/** A statement's text and the values it binds, in placeholder order, from the store's arguments. */
export interface ControlStatement<A> {
  readonly text: string;
  /** The names of the arguments it binds, each once, in order of first use. */
  readonly names: readonly string[];
  bind(args: A): unknown[];
}

/** Completion records as one array per column (PostgreSQL inserts a batch's records in one statement). */
export interface CompletionColumns {
  taskId: string[];
  executionId: string[];
  attempt: number[];
  completedAt: number[];
}

type NoArgs = Record<string, never>;

/** A statement only one dialect needs is `null` in the other, with the reason at its entry. */
export interface ControlStatements<D extends ControlDialectName = ControlDialectName> {
  /**
   * A completion record, kept only for a task that is COMPLETED, and only the first one. SQLite
   * inserts one record a run; PostgreSQL a batch's records in one run, in order (`WITH ORDINALITY`).
   */
  insertCompletions: ControlStatement<D extends 'sqlite' ? CompletionRecord : CompletionColumns>;
  selectCompletions: ControlStatement<NoArgs>;
  selectCompletion: ControlStatement<{ taskId: string }>;
  /** Orders command inserts (see `PostgresStore`); SQLite's `BEGIN IMMEDIATE` already does. */
  lockCommands: D extends 'postgres' ? ControlStatement<{ key: string }> : null;
  insertCommand: ControlStatement<ControlCommand>;
  selectCommandsAfter: ControlStatement<{ afterSeq: number; limit: number }>;
  selectLatestCommandSeq: ControlStatement<NoArgs>;
  upsertBeat: ControlStatement<EngineBeat>;
  selectBeats: ControlStatement<NoArgs>;
  insertAck: ControlStatement<CommandAck>;
  selectAcks: ControlStatement<{ commandId: string }>;
  /** Takes the lease of unfinished tasks that are free, this engine's, or held by an engine named dead. */
  claimTasks: ControlStatement<{ engineId: string; ids: readonly string[]; from: readonly string[] }>;
  /** Acknowledgements of the commands `pruneCommands` deletes (older than `before`, never the latest). */
  pruneAcks: ControlStatement<{ before: number }>;
  pruneCommands: ControlStatement<{ before: number }>;
  /** Beats that expired before `before` and whose engine stopped or that were written before it. */
  pruneBeats: ControlStatement<{ before: number }>;
}

/** Writes placeholders for named arguments and records how each is bound. */
export interface Placeholders<A> {
  value(name: keyof A & string): string;
  boolean(name: keyof A & string): string;
  list(name: keyof A & string): string;
  /** A list that is the same in every run, encoded once. */
  fixedList(name: string, values: readonly string[]): string;
}

function statement<A>(
  dialect: SqlDialect,
  differences: Differences,
  write: (p: Placeholders<A>) => string,
): ControlStatement<A> {
  const slots: Array<(args: A) => unknown> = [];
  const placed = new Map<string, string>();
  const use = (name: string, get: (args: A) => unknown): string => {
    const known = placed.get(name);
    if (known !== undefined && differences.reuseParams) return known;
    slots.push(get);
    const placeholder = dialect.param(slots.length);
    placed.set(name, placeholder);
    return placeholder;
  };
  const field = (args: A, name: keyof A & string): unknown => args[name];
  const text = write({
    value: (name) => use(name, (args) => field(args, name)),
    boolean: (name) => use(name, (args) => dialect.boolean(field(args, name) as boolean)),
    list: (name) => use(name, (args) => differences.list(field(args, name) as readonly string[])),
    fixedList: (name, values) => {
      const encoded = differences.list(values);
      return use(name, () => encoded);
    },
  });
  const count = slots.length;
  return {
    text,
    names: [...placed.keys()],
    bind(args) {
      const values = new Array<unknown>(count);
      for (let i = 0; i < count; i += 1) values[i] = slots[i]!(args);
      return values;
    },
  };
}

/**
 * One statement of the named dialect, written with named placeholders as those of
 * `controlStatements` are (for the statements of other tables, such as signals.ts).
 */
export function dialectStatement<A>(
  name: ControlDialectName,
  dialect: SqlDialect,
  write: (p: Placeholders<A>) => string,
): ControlStatement<A> {
  return statement<A>(dialect, DIFFERENCES[name], write);
}

/** Every control-plane statement of one dialect; a store builds them once. */
export function controlStatements(name: 'sqlite', dialect: SqlDialect): ControlStatements<'sqlite'>;
export function controlStatements(name: 'postgres', dialect: SqlDialect): ControlStatements<'postgres'>;
export function controlStatements(name: ControlDialectName, dialect: SqlDialect): ControlStatements {
  const d = DIFFERENCES[name];
  const sql = <A>(write: (p: Placeholders<A>) => string) => statement<A>(dialect, d, write);
  const completions = dialect.table('task_completions');
  const commands = dialect.table('control_commands');
  const beats = dialect.table('engine_beats');
  const acks = dialect.table('command_acks');
  const tasks = dialect.table('tasks');
  const completionColumns = '"task_id", "execution_id", "attempt", "completed_at"';
  const oldCommands = (p: Placeholders<{ before: number }>) =>
    `SELECT "id" FROM ${commands} WHERE "created_at" < ${p.value('before')} AND "seq" < (SELECT MAX("seq") FROM ${commands})`;

  return {
    insertCompletions:
      name === 'sqlite'
        ? sql<CompletionRecord>(
            (p) =>
              `INSERT INTO ${completions} (${completionColumns})` +
              ` SELECT ${p.value('taskId')}, ${p.value('executionId')}, ${p.value('attempt')}, ${p.value('completedAt')}` +
              ` WHERE EXISTS (SELECT 1 FROM ${tasks} WHERE "id" = ${p.value('taskId')} AND "status" = 'COMPLETED')` +
              ' ON CONFLICT ("task_id") DO NOTHING',
          )
        : sql<CompletionColumns>(
            (p) =>
              `INSERT INTO ${completions} (${completionColumns})` +
              ' SELECT u.task_id, u.execution_id, u.attempt, u.completed_at' +
              ` FROM unnest(${p.value('taskId')}::text[], ${p.value('executionId')}::text[], ${p.value('attempt')}::int4[], ${p.value('completedAt')}::float8[])` +
              ' WITH ORDINALITY AS u(task_id, execution_id, attempt, completed_at, n)' +
              ` WHERE EXISTS (SELECT 1 FROM ${tasks} AS t WHERE t."id" = u.task_id AND t."status" = 'COMPLETED')` +
              ' ORDER BY u.n ON CONFLICT ("task_id") DO NOTHING',
          ),
    selectCompletions: sql(() => `SELECT ${completionColumns} FROM ${completions} ORDER BY "seq"`),
    selectCompletion: sql<{ taskId: string }>(
      (p) => `SELECT ${completionColumns} FROM ${completions} WHERE "task_id" = ${p.value('taskId')}`,
    ),

    lockCommands:
      name === 'sqlite'
        ? null
        : sql<{ key: string }>((p) => `SELECT pg_advisory_xact_lock(hashtext(${p.value('key')}))`),
    insertCommand: sql<ControlCommand>(
      (p) =>
        `INSERT INTO ${commands} ("id", "workflow_id", "task_id", "type", "created_at")` +
        ` VALUES (${p.value('id')}, ${p.value('workflowId')}, ${p.value('taskId')}, ${p.value('type')}, ${p.value('createdAt')})` +
        ' ON CONFLICT ("id") DO NOTHING',
    ),
    selectCommandsAfter: sql<{ afterSeq: number; limit: number }>(
      (p) =>
        `SELECT "seq", "id", "workflow_id", "task_id", "type", "created_at" FROM ${commands}` +
        ` WHERE "seq" > ${p.value('afterSeq')} ORDER BY "seq" LIMIT ${p.value('limit')}`,
    ),
    selectLatestCommandSeq: sql(() => `SELECT COALESCE(MAX("seq"), 0) AS "seq" FROM ${commands}`),

    // Stamped with the database's clock, read once (`WHERE true`: SQLite's upsert after a SELECT).
    upsertBeat: sql<EngineBeat>(
      (p) =>
        `INSERT INTO ${beats} ("engine_id", "beat_at", "expires_at", "stopped")` +
        ` SELECT ${p.value('engineId')}, n."ms", n."ms" + ${p.value('ttlMs')}, ${p.boolean('stopped')}` +
        ` FROM (SELECT ${d.nowMs} AS "ms") AS n WHERE true` +
        ' ON CONFLICT ("engine_id") DO UPDATE SET "beat_at" = excluded."beat_at", "expires_at" = excluded."expires_at", "stopped" = excluded."stopped"',
    ),
    selectBeats: sql(
      () =>
        `SELECT "engine_id", "beat_at", "expires_at", "stopped",` +
        ` (NOT (${d.isTrue('"stopped"')}) AND "expires_at" > ${d.nowMs}) AS "alive"` +
        ` FROM ${beats} ORDER BY "engine_id"`,
    ),

    insertAck: sql<CommandAck>(
      (p) =>
        `INSERT INTO ${acks} ("command_id", "engine_id", "applied", "error", "acked_at")` +
        ` VALUES (${p.value('commandId')}, ${p.value('engineId')}, ${p.boolean('applied')}, ${p.value('error')}, ${p.value('ackedAt')})` +
        ' ON CONFLICT DO NOTHING',
    ),
    selectAcks: sql<{ commandId: string }>(
      (p) =>
        `SELECT "command_id", "engine_id", "applied", "error", "acked_at" FROM ${acks}` +
        ` WHERE "command_id" = ${p.value('commandId')} ORDER BY "acked_at", "engine_id"`,
    ),

    claimTasks: sql<{ engineId: string; ids: readonly string[]; from: readonly string[] }>(
      (p) =>
        `UPDATE ${tasks} SET "lease_owner" = ${p.value('engineId')}` +
        ` WHERE ${d.inList('"id"', p.list('ids'))}` +
        ` AND ("lease_owner" IS NULL OR "lease_owner" = ${p.value('engineId')} OR ${d.inList('"lease_owner"', p.list('from'))})` +
        ` AND ${d.notInList('"status"', p.fixedList('terminal', TERMINAL_TASK_STATUSES))} RETURNING "id"`,
    ),

    pruneAcks: sql<{ before: number }>(
      (p) => `DELETE FROM ${acks} WHERE "command_id" IN (${oldCommands(p)})`,
    ),
    pruneCommands: sql<{ before: number }>(
      (p) => `DELETE FROM ${commands} WHERE "id" IN (${oldCommands(p)})`,
    ),
    pruneBeats: sql<{ before: number }>(
      (p) =>
        `DELETE FROM ${beats} WHERE "expires_at" < ${p.value('before')}` +
        ` AND (${d.isTrue('"stopped"')} OR "beat_at" < ${p.value('before')})`,
    ),
  };
}
