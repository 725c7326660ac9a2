import type { CommitResult, CompletionRecord, ControlCommand, StoreBatch } from '../store.js';
import { isEmptyBatch, type WorkflowDerivation } from '../store.js';
import type { AgentConfig } from '../../domain/agent-config.js';
import type { Task } from '../../domain/task.js';
import type { Workflow } from '../../domain/workflow.js';
import { taskStateSpec, workflowSpec } from '../entities.js';
import type { EventRecord } from '../events.js';
import * as sql from '../sql/statements.js';
import { rowDecoder, type SqlValues } from '../sql/rows.js';
import { ackSpec, beatSpec, commandSpec, completionSpec } from '../sql/records.js';
import type { CompletionColumns, ControlStatements } from '../sql/control-statements.js';
import { duplicateSignal, signalSpec, signalTakes, signalValues } from '../sql/signals.js';
import type { SignalStatements, SignalValues } from '../sql/signals.js';
import { NOTIFY_WORK, workChannel } from '../sql/claim-statements.js';
import { leavesClaimableWork } from '../claim-runnable.js';
import {
  derivationOrder,
  deriveWorkflow,
  noWorkflowTasks,
  storedDerived,
  tallyTasks,
} from '../workflow-derivation.js';
import type { PgClient } from './driver.js';
import type { PostgresConnection } from './postgres-connection.js';
import { toRowError } from './postgres-errors.js';
import type { PostgresRepository } from './postgres-repository.js';
import { literalArrays, statementName } from './unnest.js';
import {
  eventColumns,
  eventValues,
  lateColumns,
  unfencedColumns,
  type PostgresEvents,
  type StatementTail,
} from './events.js';
import { completionsTail, completionValues, inTransaction, withTail } from './state-writes.js';

/** Completion records as one array per column. */
function completionArrays(records: readonly CompletionRecord[]): CompletionColumns {
  return {
    taskId: records.map((r) => r.taskId),
    executionId: records.map((r) => r.executionId),
    attempt: records.map((r) => r.attempt),
    completedAt: records.map((r) => r.completedAt),
  };
}

/** The first record of each task, in order (later ones would be skipped anyway). */
function firstByTask(records: readonly CompletionRecord[]): CompletionRecord[] {
  const byTask = new Map<string, CompletionRecord>();
  for (const record of records) if (!byTask.has(record.taskId)) byTask.set(record.taskId, record);
  return [...byTask.values()];
}

/** The advisory lock that orders command inserts (one per schema). */
export function commandLockKey(schema: string): string {
  return `symphony control_commands ${schema}`;
}

/** Wakes the schema's listening workers once the transaction commits. */
export async function notifyWork(client: PgClient, schema: string): Promise<void> {
  await client.query(NOTIFY_WORK, [workChannel(schema)]);
}

/** What the batch writer needs of its store. */
export interface BatchWriterDeps {
  connection: PostgresConnection;
  tasks: PostgresRepository<Task>;
  workflows: PostgresRepository<Workflow>;
  agentConfigs: PostgresRepository<AgentConfig>;
  sql: ControlStatements<'postgres'>;
  signalSql: SignalStatements;
  events: PostgresEvents;
}

/**
 * Writes a `PostgresStore`'s batches (`Store.commit`): each table's rows by one statement, in one
 * transaction, or in one statement alone when the batch allows it (see persistence.md "What a
 * commit guarantees").
 */
export class PostgresBatchWriter {
  /** The name the completion insert is prepared under (see unnest.ts). */
  private readonly completionsName: string;
  private completionsTail: StatementTail | undefined;
  /** The statements of status derivations, and the decoder of the workflow rows they read. */
  private readonly workflowSql: { select: string; count: string; update: string; lock: string };
  private readonly decodeWorkflow = rowDecoder(workflowSpec);

  constructor(private readonly store: BatchWriterDeps) {
    this.completionsName = statementName(
      'symphony_insert_completions',
      this.store.sql.insertCompletions.text,
    );
    const dialect = this.store.connection.dialect;
    this.workflowSql = {
      select: `${sql.selectById(dialect, workflowSpec)} FOR UPDATE`,
      count: sql.countWorkflowTasks(dialect),
      update: sql.updateWorkflowStatus(dialect),
      // In id order (the lock is taken as rows are sorted), as the derivation below takes them.
      lock: `SELECT "id", "status" FROM ${dialect.table('workflows')} WHERE "id" = ANY($1::text[]) ORDER BY "id" FOR UPDATE`,
    };
  }

  private get schema(): string {
    return this.store.connection.options.schema;
  }

  /** Writes a batch: in a transaction of its own, or (`under` given) in the one under way there. */
  async write(batch: StoreBatch, under: PgClient | null): Promise<CommitResult> {
    const { tasks = [], taskStates = [], workflows = [], agentConfigs = [], completions = [] } = batch;
    let { beats = [], acks = [], commands = [] } = batch;
    let fenced: string[] = [];
    let derived: EventRecord[] = [];
    if (isEmptyBatch(batch)) return { fenced };
    const taskRows = this.store.tasks.prepareRows(tasks);
    const stateRows = this.store.tasks.prepareStates(taskStateSpec, taskStates, batch.fences);
    const derivation = batch.deriveWorkflows && {
      ...batch.deriveWorkflows,
      workflowIds: [...batch.deriveWorkflows.workflowIds],
    };
    const workflowRows = this.store.workflows.prepareRows(workflows);
    const configRows = this.store.agentConfigs.prepareRows(agentConfigs);
    const completionColumns = completionArrays(firstByTask(completions));
    beats = beats.map((beat) => ({ ...beat }));
    acks = acks.map((ack) => ({ ...ack }));
    commands = commands.map((command) => ({ ...command }));
    const signals = signalValues(batch.signals ?? []);
    const takes = signalTakes(batch.signalTakes ?? []);
    const events = eventColumns(batch.events ?? []);
    const wake = leavesClaimableWork(batch);
    // A batch of state writes alone (an attempt's start, say) is one UPDATE, atomic by itself: it
    // goes without BEGIN and COMMIT. (Its rare follow-up, the insert of a row missing from the
    // store, is then a statement of its own: rows are written independently of each other.)
    // Completion records too, outside a fenced coordinator's transaction: they go in the UPDATE's
    // statement (state-writes.ts), which then needs no transaction of its own.
    const records = completionColumns.taskId.length > 0 && under === null;
    const onlyStates =
      stateRows.count > 0 &&
      beats.length + acks.length + commands.length + signals.length + takes.length === 0 &&
      configRows.count + workflowRows.count + taskRows.count === 0 &&
      (completionColumns.taskId.length === 0 || records) &&
      !derivation?.workflowIds.length &&
      !wake;
    // With state writes, the row of the events goes in the UPDATE's statement (see
    // PostgresEvents.withStates): no round trip of its own.
    const withEvents = events.texts.length > 0 && stateRows.count > 0;
    const statement = (tail: StatementTail | undefined) => {
      const update = this.store.tasks.stateUpdateText;
      const params = stateRows.values.length;
      const tailValues = tail ? completionValues(completionColumns) : [];
      if (withEvents)
        return {
          ...this.store.events.withStates(update, params, tail),
          values: [...eventValues(events), [...stateRows.fenced], ...tailValues],
        };
      return tail ? { ...withTail(update, params, tail), values: tailValues } : undefined;
    };
    // The events of fenced writes of missing rows, inserted whole after the UPDATE, follow them;
    // `wrap` runs those follow-ups (a transaction, when the statement recorded completions).
    const writeStates = async (
      client: PgClient,
      tail?: StatementTail,
      wrap = (work: () => Promise<string[]>) => work(),
    ) => {
      const late: string[] = [];
      return this.store.tasks.writeStates(client, stateRows, statement(tail), late, (insert) =>
        wrap(async () => {
          const out = await insert();
          if (withEvents && late.length) await this.store.events.write(client, lateColumns(events, late));
          return out;
        }),
      );
    };
    if (onlyStates && records) {
      this.completionsTail ??= completionsTail(sql.quote(this.schema));
      const tail = this.completionsTail;
      // A row missing from the store is inserted whole after the statement, and the records of
      // such rows with it, in one transaction (the insert of the records is idempotent).
      fenced = await this.store.connection.autocommit((client) =>
        writeStates(client, tail, (work) =>
          inTransaction(client, async () => {
            const out = await work();
            await this.insertCompletions(client, completionColumns);
            return out;
          }),
        ),
      );
      return { fenced };
    }
    if (onlyStates) {
      fenced = await (under
        ? writeStates(under)
        : this.store.connection.autocommit((client) => writeStates(client)));
      return { fenced };
    }
    const writeAll = async (client: PgClient) => {
      const { upsertBeat, insertAck } = this.store.sql;
      for (const beat of beats) {
        try {
          await client.query(upsertBeat.text, upsertBeat.bind(beat));
        } catch (error) {
          throw toRowError(error, beatSpec, [{ id: String(beat.engineId) }], this.store.connection.target);
        }
      }
      for (const ack of acks) {
        try {
          await client.query(insertAck.text, insertAck.bind(ack));
        } catch (error) {
          throw toRowError(error, ackSpec, [{ id: String(ack.commandId) }], this.store.connection.target);
        }
      }
      await this.store.agentConfigs.writeRows(client, configRows);
      const before = await this.statusesBefore(client, derivation);
      await this.store.workflows.writeRows(client, workflowRows);
      await this.store.tasks.writeRows(client, taskRows);
      fenced = await writeStates(client);
      derived = await this.deriveWorkflows(client, derivation, before);
      if (completionColumns.taskId.length) await this.insertCompletions(client, completionColumns);
      if (commands.length) await this.insertCommands(client, commands);
      if (signals.length) await this.insertSignals(client, signals);
      for (const take of takes) {
        try {
          await client.query(
            this.store.signalSql.takeSignal.text,
            this.store.signalSql.takeSignal.bind(take),
          );
        } catch (error) {
          throw toRowError(error, signalSpec, [{ id: take.signalId }], this.store.connection.target);
        }
      }
      if (!withEvents) await this.store.events.write(client, unfencedColumns(events, fenced));
      // After the batch's own events, as the engine publishes them.
      const stored = storedDerived(derivation, derived);
      if (stored.length) await this.store.events.write(client, eventColumns(stored));
      if (wake) await notifyWork(client, this.schema);
    };
    await (under ? writeAll(under) : this.store.connection.transaction(writeAll));
    return derived.length ? { fenced, derived } : { fenced };
  }

  /**
   * Appends commands last in the transaction, under a transaction-scoped advisory lock of the
   * schema: `seq` comes from a sequence when the row is inserted, so without the lock a command
   * could commit after one with a higher `seq`, and a poller that had read past that one would
   * never see it. With it, commands commit in `seq` order.
   */
  private async insertCommands(client: PgClient, commands: readonly ControlCommand[]): Promise<void> {
    const { lockCommands, insertCommand } = this.store.sql;
    await client.query(lockCommands.text, lockCommands.bind({ key: commandLockKey(this.schema) }));
    for (const c of commands) {
      try {
        await client.query(insertCommand.text, insertCommand.bind(c));
      } catch (error) {
        throw toRowError(error, commandSpec, [{ id: String(c.id) }], this.store.connection.target);
      }
    }
  }

  /**
   * Appends signals under a transaction-scoped advisory lock of the schema, as commands are: signals
   * commit in `seq` order, so a wait never takes one while an older one is still to commit.
   */
  private async insertSignals(client: PgClient, signals: readonly SignalValues[]): Promise<void> {
    const { lockCommands } = this.store.sql;
    const { insertSignal } = this.store.signalSql;
    await client.query(lockCommands.text, lockCommands.bind({ key: `symphony signals ${this.schema}` }));
    for (const signal of signals) {
      try {
        await client.query(insertSignal.text, insertSignal.bind(signal));
      } catch (error) {
        const { code, constraint } = error as { code?: unknown; constraint?: unknown };
        if (code === '23505' && constraint === 'signals_id_unique') throw duplicateSignal(signal.id);
        throw toRowError(error, signalSpec, [{ id: signal.id }], this.store.connection.target);
      }
    }
  }

  /**
   * Derives workflows' statuses from their stored tasks (see `StoreBatch.deriveWorkflows`) in the
   * caller's transaction: each row locked (`FOR UPDATE`, in id order) before its tasks are counted,
   * so concurrent commits touching one workflow derive one after the other, the later counting the
   * earlier's tasks (READ COMMITTED: each statement reads what committed before it).
   */
  private async deriveWorkflows(
    client: PgClient,
    derivation: WorkflowDerivation | undefined,
    before: ReadonlyMap<string, Workflow['status']>,
  ): Promise<EventRecord[]> {
    const events: EventRecord[] = [];
    for (const workflowId of derivationOrder(derivation)) {
      const { rows } = await client.query({
        text: this.workflowSql.select,
        values: [workflowId],
        rowMode: 'array',
      });
      const stored = rows[0] as SqlValues | undefined;
      if (stored === undefined) continue;
      const tasks = noWorkflowTasks();
      const groups = await client.query(this.workflowSql.count, [workflowId]);
      for (const group of groups.rows as Array<{ status: Task['status']; n: number; a: number }>)
        tallyTasks(tasks, group.status, Number(group.n), Number(group.a));
      const row = this.decodeWorkflow(stored);
      const { write, event } = deriveWorkflow(derivation!, row, tasks, before.get(workflowId));
      if (write) await client.query(this.workflowSql.update, [write.status, write.updatedAt, write.id]);
      if (event) events.push(event);
    }
    return events;
  }

  /**
   * The statuses the derived workflows' rows have before the batch writes them, each row locked
   * (`FOR UPDATE`, in id order) until the commit: the status a derived event starts from. Read
   * only when the derivation makes events.
   */
  private async statusesBefore(
    client: PgClient,
    derivation: WorkflowDerivation | undefined,
  ): Promise<Map<string, Workflow['status']>> {
    const before = new Map<string, Workflow['status']>();
    if (derivation?.eventsBy === undefined || derivation.workflowIds.length === 0) return before;
    const { rows } = await client.query(this.workflowSql.lock, [derivationOrder(derivation)]);
    for (const row of rows as Array<{ id: string; status: Workflow['status'] }>)
      before.set(row.id, row.status);
    return before;
  }

  /** One prepared statement whatever the number of records (columns as arrays, see unnest.ts). */
  private async insertCompletions(client: PgClient, columns: CompletionColumns): Promise<void> {
    const { text } = this.store.sql.insertCompletions;
    try {
      await client.query({
        name: this.completionsName,
        text,
        values: literalArrays(this.store.sql.insertCompletions.bind(columns)),
      });
    } catch (error) {
      const rows = columns.taskId.map((taskId) => ({ id: String(taskId) }));
      throw toRowError(error, completionSpec, rows, this.store.connection.target);
    }
  }
}
