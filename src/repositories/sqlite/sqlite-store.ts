import { TERMINAL_TASK_STATUSES } from '../../../machines/status.js';
import type { AgentConfig } from '../../domain/agent-config.js';
import type { Task } from '../../domain/task.js';
import type { Workflow } from '../../domain/workflow.js';
import { rowRejected } from '../constraint-errors.js';
import { agentConfigSpec, taskSpec, taskStateSpec, workflowSpec } from '../entities.js';
import type { CommandAck, CompletionRecord, EngineBeat, Store, StoreBatch, StoredCommand } from '../store.js';
import { isEmptyBatch } from '../store.js';
import { SqliteConnection, resolveSqliteOptions, type SqliteStoreOptions } from './sqlite-connection.js';
import { SqliteRepository } from './sqlite-repository.js';
import { isRowError, toStoreError } from './sqlite-errors.js';
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

/** A completion record, kept only for a task that is COMPLETED (and only the first). */
const INSERT_COMPLETION =
  'INSERT INTO "task_completions" ("task_id", "execution_id", "attempt", "completed_at") SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM "tasks" WHERE "id" = ? AND "status" = \'COMPLETED\') ON CONFLICT ("task_id") DO NOTHING';
const SELECT_COMPLETIONS =
  'SELECT "task_id", "execution_id", "attempt", "completed_at" FROM "task_completions" ORDER BY "seq"';
const SELECT_COMPLETION =
  'SELECT "task_id", "execution_id", "attempt", "completed_at" FROM "task_completions" WHERE "task_id" = ?';

const INSERT_COMMAND =
  'INSERT INTO "control_commands" ("id", "workflow_id", "task_id", "type", "created_at") VALUES (?, ?, ?, ?, ?) ON CONFLICT ("id") DO NOTHING';
const SELECT_COMMANDS =
  'SELECT "seq", "id", "workflow_id", "task_id", "type", "created_at" FROM "control_commands" WHERE "seq" > ? ORDER BY "seq" LIMIT ?';
const SELECT_LATEST_COMMAND = 'SELECT COALESCE(MAX("seq"), 0) AS "seq" FROM "control_commands"';

const UPSERT_BEAT =
  'INSERT INTO "engine_beats" ("engine_id", "beat_at", "expires_at", "stopped") VALUES (?, ?, ?, ?) ON CONFLICT ("engine_id") DO UPDATE SET "beat_at" = excluded."beat_at", "expires_at" = excluded."expires_at", "stopped" = excluded."stopped"';
const SELECT_BEATS =
  'SELECT "engine_id", "beat_at", "expires_at", "stopped" FROM "engine_beats" ORDER BY "engine_id"';
const INSERT_ACK =
  'INSERT INTO "command_acks" ("command_id", "engine_id", "applied", "error", "acked_at") VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING';
const TERMINAL_JSON = JSON.stringify(TERMINAL_TASK_STATUSES);
/** Takes the lease of unfinished tasks that are free, this engine's, or held by an engine named dead. */
const CLAIM_TASKS =
  'UPDATE "tasks" SET "lease_owner" = ? WHERE "id" IN (SELECT "value" FROM json_each(?)) AND ("lease_owner" IS NULL OR "lease_owner" = ? OR "lease_owner" IN (SELECT "value" FROM json_each(?))) AND "status" NOT IN (SELECT "value" FROM json_each(?)) RETURNING "id"';
const SELECT_ACKS =
  'SELECT "command_id", "engine_id", "applied", "error", "acked_at" FROM "command_acks" WHERE "command_id" = ? ORDER BY "acked_at", "engine_id"';

/**
 * A Store in one SQLite file through better-sqlite3 (an optional dependency, loaded by `open`):
 * WAL mode, one `BEGIN IMMEDIATE` transaction per `commit`, migrations applied at open. A file
 * that is not a healthy SQLite database, cannot be written or stays locked fails `open` with a
 * StoreError (STORE_CORRUPT, STORE_READ_ONLY, STORE_BUSY, STORE_UNAVAILABLE) and is never replaced.
 *
 * @example
 * const store = new SqliteStore({ path: '.symphony/symphony.db' });
 * await store.open();
 * await store.commit({ tasks: [task], completions: [{ taskId: task.id, executionId, attempt: 1, completedAt }] });
 * await store.close();
 */
export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  readonly tasks: SqliteRepository<Task>;
  readonly workflows: SqliteRepository<Workflow>;
  readonly agentConfigs: SqliteRepository<AgentConfig>;
  private readonly connection: SqliteConnection;

  /** Checks the options; opens nothing until `open()`. */
  constructor(options: SqliteStoreOptions) {
    this.connection = new SqliteConnection(resolveSqliteOptions(options));
    this.tasks = new SqliteRepository(this.connection, taskSpec);
    this.workflows = new SqliteRepository(this.connection, workflowSpec);
    this.agentConfigs = new SqliteRepository(this.connection, agentConfigSpec);
  }

  /** The database file (or `':memory:'`). */
  get path(): string {
    return this.connection.path;
  }

  /** Opens the file, checks it (`PRAGMA quick_check`), switches to WAL and applies migrations. */
  async open(): Promise<void> {
    await this.connection.open();
  }

  /** A record SQLite refused: its values (INVALID_ARGUMENT), or the file failing (full, busy...). */
  private recordError(spec: Parameters<typeof rowRejected>[0], id: string, error: unknown): Error {
    return isRowError(error)
      ? rowRejected(spec, id, (error as Error).message, error)
      : toStoreError(error, this.connection.path);
  }

  /** Writes the whole batch in one transaction; completion records already present are skipped. */
  async commit(batch: StoreBatch): Promise<void> {
    const { tasks = [], taskStates = [], workflows = [], agentConfigs = [], completions = [] } = batch;
    const { commands = [] } = batch;
    const { beats = [], acks = [] } = batch;
    if (isEmptyBatch(batch)) return;
    this.connection.write(() => {
      for (const beat of beats) {
        try {
          this.connection
            .statement(UPSERT_BEAT)
            .run(beat.engineId, beat.beatAt, beat.expiresAt, beat.stopped ? 1 : 0);
        } catch (error) {
          throw this.recordError(beatSpec, String(beat.engineId), error);
        }
      }
      for (const ack of acks) {
        try {
          this.connection
            .statement(INSERT_ACK)
            .run(ack.commandId, ack.engineId, ack.applied ? 1 : 0, ack.error, ack.ackedAt);
        } catch (error) {
          throw this.recordError(ackSpec, String(ack.commandId), error);
        }
      }
      for (const c of commands) {
        try {
          this.connection.statement(INSERT_COMMAND).run(c.id, c.workflowId, c.taskId, c.type, c.createdAt);
        } catch (error) {
          throw this.recordError(commandSpec, String(c.id), error);
        }
      }
      this.agentConfigs.saveRows(agentConfigs);
      this.workflows.saveRows(workflows);
      this.tasks.saveRows(tasks);
      this.tasks.saveStates(taskStateSpec, taskStates);
      const insert = this.connection.statement(INSERT_COMPLETION);
      for (const record of completions) {
        try {
          insert.run(record.taskId, record.executionId, record.attempt, record.completedAt, record.taskId);
        } catch (error) {
          throw this.recordError(completionSpec, String(record.taskId), error);
        }
      }
    });
  }

  async completions(taskId?: string): Promise<CompletionRecord[]> {
    const rows = this.connection.read(() =>
      taskId === undefined
        ? this.connection.statement(SELECT_COMPLETIONS).all()
        : this.connection.statement(SELECT_COMPLETION).all(taskId),
    ) as CompletionRow[];
    return rows.map(toCompletionRecord);
  }

  async commandsAfter(afterSeq: number, limit = 1_000): Promise<StoredCommand[]> {
    const rows = this.connection.read(() =>
      this.connection.statement(SELECT_COMMANDS).all(afterSeq, limit),
    ) as CommandRow[];
    return rows.map(toStoredCommand);
  }

  async latestCommandSeq(): Promise<number> {
    const row = this.connection.read(() => this.connection.statement(SELECT_LATEST_COMMAND).get()) as {
      seq: number;
    };
    return row.seq;
  }

  async engineBeats(): Promise<EngineBeat[]> {
    const rows = this.connection.read(() => this.connection.statement(SELECT_BEATS).all()) as BeatRow[];
    return rows.map(toEngineBeat);
  }

  async commandAcks(commandId: string): Promise<CommandAck[]> {
    const rows = this.connection.read(() =>
      this.connection.statement(SELECT_ACKS).all(commandId),
    ) as AckRow[];
    return rows.map(toCommandAck);
  }

  async claimTasks(ids: readonly string[], engineId: string, from: readonly string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const rows = this.connection.write(() =>
      this.connection
        .statement(CLAIM_TASKS)
        .all(engineId, JSON.stringify(ids), engineId, JSON.stringify(from), TERMINAL_JSON),
    ) as Array<{ id: string }>;
    return rows.map((row) => row.id);
  }

  async pruneControl(before: number): Promise<void> {
    this.connection.write(() => {
      this.connection
        .statement(
          'DELETE FROM "command_acks" WHERE "command_id" IN (SELECT "id" FROM "control_commands" WHERE "created_at" < ? AND "seq" < (SELECT MAX("seq") FROM "control_commands"))',
        )
        .run(before);
      this.connection
        .statement(
          'DELETE FROM "control_commands" WHERE "created_at" < ? AND "seq" < (SELECT MAX("seq") FROM "control_commands")',
        )
        .run(before);
      this.connection
        .statement('DELETE FROM "engine_beats" WHERE "expires_at" < ? AND ("stopped" = 1 OR "beat_at" < ?)')
        .run(before, before);
    });
  }

  async close(): Promise<void> {
    this.connection.close();
  }
}
