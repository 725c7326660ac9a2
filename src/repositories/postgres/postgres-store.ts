import { TERMINAL_TASK_STATUSES } from '../../../machines/status.js';
import type { AgentConfig } from '../../domain/agent-config.js';
import type { Task } from '../../domain/task.js';
import type { Workflow } from '../../domain/workflow.js';
import { agentConfigSpec, taskSpec, taskStateSpec, workflowSpec } from '../entities.js';
import type {
  CommandAck,
  CompletionRecord,
  ControlCommand,
  EngineBeat,
  Store,
  StoreBatch,
  StoredCommand,
} from '../store.js';
import { isEmptyBatch } from '../store.js';
import type { PgClient } from './driver.js';
import {
  PostgresConnection,
  resolvePostgresOptions,
  type PostgresStoreOptions,
} from './postgres-connection.js';
import { toRowError } from './postgres-errors.js';
import { statementName } from './unnest.js';
import { PostgresRepository } from './postgres-repository.js';
import {
  ackSpec,
  beatSpec,
  commandSpec,
  completionSpec,
  toCommandAck,
  toStoredCommand,
  toCompletionRecord,
  toEngineBeat,
  type AckRow,
  type BeatRow,
  type CommandRow,
  type CompletionRow,
} from '../sql/records.js';

type CompletionColumns = [string[], string[], number[], number[]];

/** Completion records as one array per column. */
function completionArrays(records: readonly CompletionRecord[]): CompletionColumns {
  return [
    records.map((r) => r.taskId),
    records.map((r) => r.executionId),
    records.map((r) => r.attempt),
    records.map((r) => r.completedAt),
  ];
}

/** The first record of each task, in order (later ones would be skipped anyway). */
function firstByTask(records: readonly CompletionRecord[]): CompletionRecord[] {
  const byTask = new Map<string, CompletionRecord>();
  for (const record of records) if (!byTask.has(record.taskId)) byTask.set(record.taskId, record);
  return [...byTask.values()];
}

/**
 * A Store in a PostgreSQL schema through a pg Pool (pg is an optional dependency, loaded by
 * `open`): one transaction per `commit`, migrations under an advisory lock at open. A dropped
 * connection fails the transaction in progress as a whole (STORE_UNAVAILABLE, retryable) and the
 * pool connects anew for the next one; a batch is safe to commit again.
 *
 * @example
 * const store = new PostgresStore({ connectionString: 'postgres://app@db.internal/app', schema: 'symphony' });
 * await store.open();
 * await store.commit({ tasks: [task] });
 * await store.close();
 */
export class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  readonly tasks: PostgresRepository<Task>;
  readonly workflows: PostgresRepository<Workflow>;
  readonly agentConfigs: PostgresRepository<AgentConfig>;
  private readonly connection: PostgresConnection;

  /** Checks the options; connects to nothing until `open()`. */
  constructor(options: PostgresStoreOptions) {
    this.connection = new PostgresConnection(resolvePostgresOptions(options));
    this.tasks = new PostgresRepository(this.connection, taskSpec);
    this.workflows = new PostgresRepository(this.connection, workflowSpec);
    this.agentConfigs = new PostgresRepository(this.connection, agentConfigSpec);
  }

  /** The schema holding the tables. */
  get schema(): string {
    return this.connection.options.schema;
  }

  /** Connects, creates the schema if needed and applies migrations. */
  async open(): Promise<void> {
    await this.connection.open();
  }

  /**
   * Writes the whole batch in one transaction; completion records already present are skipped.
   * Everything is read from the batch before the first await (see `Store.commit`).
   */
  async commit(batch: StoreBatch): Promise<void> {
    const { tasks = [], taskStates = [], workflows = [], agentConfigs = [], completions = [] } = batch;
    let { beats = [], acks = [], commands = [] } = batch;
    if (isEmptyBatch(batch)) return;
    const taskRows = this.tasks.prepareRows(tasks);
    const stateRows = this.tasks.prepareStates(taskStateSpec, taskStates);
    const workflowRows = this.workflows.prepareRows(workflows);
    const configRows = this.agentConfigs.prepareRows(agentConfigs);
    const completionColumns = completionArrays(firstByTask(completions));
    beats = beats.map((beat) => ({ ...beat }));
    acks = acks.map((ack) => ({ ...ack }));
    commands = commands.map((command) => ({ ...command }));
    await this.connection.transaction(async (client) => {
      const beatTable = this.connection.dialect.table('engine_beats');
      for (const beat of beats) {
        try {
          await client.query(
            `INSERT INTO ${beatTable} ("engine_id", "beat_at", "expires_at", "stopped") VALUES ($1, $2, $3, $4) ON CONFLICT ("engine_id") DO UPDATE SET "beat_at" = excluded."beat_at", "expires_at" = excluded."expires_at", "stopped" = excluded."stopped"`,
            [beat.engineId, beat.beatAt, beat.expiresAt, beat.stopped],
          );
        } catch (error) {
          throw toRowError(error, beatSpec, [{ id: String(beat.engineId) }], this.connection.target);
        }
      }
      const ackTable = this.connection.dialect.table('command_acks');
      for (const ack of acks) {
        try {
          await client.query(
            `INSERT INTO ${ackTable} ("command_id", "engine_id", "applied", "error", "acked_at") VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
            [ack.commandId, ack.engineId, ack.applied, ack.error, ack.ackedAt],
          );
        } catch (error) {
          throw toRowError(error, ackSpec, [{ id: String(ack.commandId) }], this.connection.target);
        }
      }
      await this.agentConfigs.writeRows(client, configRows);
      await this.workflows.writeRows(client, workflowRows);
      await this.tasks.writeRows(client, taskRows);
      await this.tasks.writeStates(client, stateRows);
      if (completionColumns[0].length) await this.insertCompletions(client, completionColumns);
      if (commands.length) await this.insertCommands(client, commands);
    });
  }

  async completions(taskId?: string): Promise<CompletionRecord[]> {
    const table = this.connection.dialect.table('task_completions');
    const columns = '"task_id", "execution_id", "attempt", "completed_at"';
    const { rows } =
      taskId === undefined
        ? await this.connection.query(`SELECT ${columns} FROM ${table} ORDER BY "seq"`)
        : await this.connection.query(`SELECT ${columns} FROM ${table} WHERE "task_id" = $1`, [taskId]);
    return (rows as CompletionRow[]).map(toCompletionRecord);
  }

  async commandsAfter(afterSeq: number, limit = 1_000): Promise<StoredCommand[]> {
    const table = this.connection.dialect.table('control_commands');
    const { rows } = await this.connection.query(
      `SELECT "seq", "id", "workflow_id", "task_id", "type", "created_at" FROM ${table} WHERE "seq" > $1 ORDER BY "seq" LIMIT $2`,
      [afterSeq, limit],
    );
    return (rows as CommandRow[]).map(toStoredCommand);
  }

  async latestCommandSeq(): Promise<number> {
    const table = this.connection.dialect.table('control_commands');
    const { rows } = await this.connection.query(`SELECT COALESCE(MAX("seq"), 0) AS "seq" FROM ${table}`);
    return Number((rows as Array<{ seq: unknown }>)[0]?.seq ?? 0);
  }

  async engineBeats(): Promise<EngineBeat[]> {
    const table = this.connection.dialect.table('engine_beats');
    const { rows } = await this.connection.query(
      `SELECT "engine_id", "beat_at", "expires_at", "stopped" FROM ${table} ORDER BY "engine_id"`,
    );
    return (rows as BeatRow[]).map(toEngineBeat);
  }

  async commandAcks(commandId: string): Promise<CommandAck[]> {
    const table = this.connection.dialect.table('command_acks');
    const { rows } = await this.connection.query(
      `SELECT "command_id", "engine_id", "applied", "error", "acked_at" FROM ${table} WHERE "command_id" = $1 ORDER BY "acked_at", "engine_id"`,
      [commandId],
    );
    return (rows as AckRow[]).map(toCommandAck);
  }

  async claimTasks(ids: readonly string[], engineId: string, from: readonly string[]): Promise<string[]> {
    const usable = ids.filter((id) => !id.includes('\u0000'));
    if (usable.length === 0) return [];
    const table = this.connection.dialect.table('tasks');
    const { rows } = await this.connection.query(
      `UPDATE ${table} SET "lease_owner" = $1 WHERE "id" = ANY($2::text[]) AND ("lease_owner" IS NULL OR "lease_owner" = $1 OR "lease_owner" = ANY($3::text[])) AND NOT ("status" = ANY($4::text[])) RETURNING "id"`,
      [engineId, usable, [...from], [...TERMINAL_TASK_STATUSES]],
    );
    return (rows as Array<{ id: string }>).map((row) => row.id);
  }

  async pruneControl(before: number): Promise<void> {
    const commands = this.connection.dialect.table('control_commands');
    const acks = this.connection.dialect.table('command_acks');
    const beats = this.connection.dialect.table('engine_beats');
    const old = `SELECT "id" FROM ${commands} WHERE "created_at" < $1 AND "seq" < (SELECT MAX("seq") FROM ${commands})`;
    await this.connection.transaction(async (client) => {
      await client.query(`DELETE FROM ${acks} WHERE "command_id" IN (${old})`, [before]);
      await client.query(`DELETE FROM ${commands} WHERE "id" IN (${old})`, [before]);
      await client.query(`DELETE FROM ${beats} WHERE "expires_at" < $1 AND ("stopped" OR "beat_at" < $1)`, [
        before,
      ]);
    });
  }

  async close(): Promise<void> {
    await this.connection.close();
  }

  /**
   * Appends commands last in the transaction, under a transaction-scoped advisory lock of the
   * schema: `seq` comes from a sequence when the row is inserted, so without the lock a command
   * could commit after one with a higher `seq`, and a poller that had read past that one would
   * never see it. With it, commands commit in `seq` order.
   */
  private async insertCommands(client: PgClient, commands: readonly ControlCommand[]): Promise<void> {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [this.commandLockKey()]);
    const table = this.connection.dialect.table('control_commands');
    for (const c of commands) {
      try {
        await client.query(
          `INSERT INTO ${table} ("id", "workflow_id", "task_id", "type", "created_at") VALUES ($1, $2, $3, $4, $5) ON CONFLICT ("id") DO NOTHING`,
          [c.id, c.workflowId, c.taskId, c.type, c.createdAt],
        );
      } catch (error) {
        throw toRowError(error, commandSpec, [{ id: String(c.id) }], this.connection.target);
      }
    }
  }

  /** The advisory lock that orders command inserts (one per schema). */
  commandLockKey(): string {
    return `symphony control_commands ${this.schema}`;
  }

  /** One prepared statement whatever the number of records (columns as arrays, see unnest.ts). */
  private async insertCompletions(client: PgClient, columns: CompletionColumns): Promise<void> {
    const table = this.connection.dialect.table('task_completions');
    const text =
      `INSERT INTO ${table} ("task_id", "execution_id", "attempt", "completed_at")` +
      ' SELECT u.task_id, u.execution_id, u.attempt, u.completed_at' +
      ' FROM unnest($1::text[], $2::text[], $3::int4[], $4::float8[]) WITH ORDINALITY AS u(task_id, execution_id, attempt, completed_at, n)' +
      ` WHERE EXISTS (SELECT 1 FROM ${this.connection.dialect.table('tasks')} AS t WHERE t."id" = u.task_id AND t."status" = 'COMPLETED')` +
      ' ORDER BY u.n ON CONFLICT ("task_id") DO NOTHING';
    try {
      await client.query({ name: statementName('symphony_insert_completions', text), text, values: columns });
    } catch (error) {
      const rows = columns[0].map((taskId) => ({ id: String(taskId) }));
      throw toRowError(error, completionSpec, rows, this.connection.target);
    }
  }
}
