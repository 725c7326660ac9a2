import { PostgresSchedules } from './schedules.js';
import type { AgentConfig } from '../../domain/agent-config.js';
import type { RateBucketGrant, RateBucketOp, RateBucketsRead, RateLimit } from '../../domain/rate-limit.js';
import {
  bucketsRead,
  grantsOf,
  postgresRateStatement,
  postgresRateValues,
  rateReadStatement,
  type BucketRow,
} from '../sql/rate-buckets.js';
import type { Task } from '../../domain/task.js';
import type { Workflow } from '../../domain/workflow.js';
import { agentConfigSpec, taskSpec, taskStateSpec, workflowSpec } from '../entities.js';
import type {
  CommitResult,
  CommandAck,
  CompletionRecord,
  ControlCommand,
  StoredBeat,
  Store,
  StoreBatch,
  StoredCommand,
  StoredSignal,
} from '../store.js';
import { isEmptyBatch, type WorkflowDerivation } from '../store.js';
import * as sql from '../sql/statements.js';
import {
  derivationOrder,
  derivedEvent,
  derivedRow,
  noWorkflowTasks,
  tallyTasks,
} from '../workflow-derivation.js';
import type { PgClient } from './driver.js';
import {
  PostgresConnection,
  resolvePostgresOptions,
  type PostgresStoreOptions,
} from './postgres-connection.js';
import { toRowError } from './postgres-errors.js';
import { statementName } from './unnest.js';
import {
  eventColumns,
  eventValues,
  lateColumns,
  PostgresEvents,
  unfencedColumns,
  type StatementTail,
} from './events.js';
import { completionsTail, completionValues, inTransaction, withTail } from './state-writes.js';
import type { EventPage, EventQuery, EventRecord, EventRetention } from '../events.js';
import { PostgresRepository } from './postgres-repository.js';
import { listenOn } from './listen.js';
import { claimedRows, postgresClaimStatements, type PostgresClaimStatements } from './claims.js';
import { pruneFairMarks, saveAgentRateLimits } from './claim-upkeep.js';
import {
  breakerParams,
  breakersStatement,
  expectStoredBreaker,
  saveBreakerStatement,
  toStoredBreakers,
  type StoredBreaker,
} from '../breakers.js';
import { heldLoadStatement, readHeldLoad } from './held-load.js';
import type { HeldLoad, HeldLoadOptions } from '../held-load.js';
import { postgresWorkflowRunStatements, type PostgresWorkflowRunStatements } from './workflow-runs.js';
import { detachBatch, lostWorkflows, withLeft, withoutLost } from '../coordination.js';
import {
  bySubmission,
  toSubmittedWorkflow,
  type ClaimWorkflowsOptions,
  type SubmittedWorkflow,
  type WorkflowPlan,
  type WorkflowRunRow,
} from '../workflow-runs.js';
import { leavesClaimableWork, type ClaimedTasks, type ClaimRunnableOptions } from '../claim-runnable.js';
import { NOTIFY_WORK, workChannel } from '../sql/claim-statements.js';
import { decideTaskKey, type TaskKeyOutcome, type TaskKeyRequest } from '../../domain/task-keys.js';
import { holderOf, taskKeyStatements, workflowHolderOf, type TaskKeyStatements } from '../sql/task-keys.js';
import {
  decideWorkflowKey,
  WORKFLOW_KEY_PREFIX,
  type WorkflowKeyRequest,
} from '../../domain/workflow-keys.js';
import { rowDecoder, type SqlValues } from '../sql/rows.js';
import {
  ackSpec,
  beatSpec,
  commandSpec,
  completionSpec,
  toCommandAck,
  toStoredCommand,
  toCompletionRecord,
  toStoredBeat,
  type AckRow,
  type BeatRow,
  type CommandRow,
  type CompletionRow,
} from '../sql/records.js';
import {
  controlStatements,
  type CompletionColumns,
  type ControlStatements,
} from '../sql/control-statements.js';
import {
  duplicateSignal,
  signalSpec,
  signalStatements,
  signalTakes,
  signalValues,
  toStoredSignal,
  type SignalRow,
  type SignalStatements,
  type SignalValues,
} from '../sql/signals.js';

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
  readonly schedules: PostgresSchedules;
  private readonly connection: PostgresConnection;
  private readonly sql: ControlStatements<'postgres'>;
  private readonly signalSql: SignalStatements;
  /** The name the completion insert is prepared under (see unnest.ts). */
  private readonly completionsName: string;
  private completionsTail: StatementTail | undefined;

  /** The statements of workers' claims (built on first use). */
  private claims: PostgresClaimStatements | undefined;
  /** The statement of `heldLoad` (built on first use). */
  private heldLoadSql: string | undefined;
  private runSql: PostgresWorkflowRunStatements | undefined;
  /** The statements of status derivations, and the decoder of the workflow rows they read. */
  private readonly workflowSql: { select: string; count: string; update: string };
  private readonly decodeWorkflow = rowDecoder(workflowSpec);
  /** The statements of the events table (see events.ts). */
  private readonly events: PostgresEvents;

  /** Checks the options; connects to nothing until `open()`. */
  constructor(options: PostgresStoreOptions) {
    this.connection = new PostgresConnection(resolvePostgresOptions(options));
    this.sql = controlStatements('postgres', this.connection.dialect);
    this.signalSql = signalStatements('postgres', this.connection.dialect);
    this.completionsName = statementName('symphony_insert_completions', this.sql.insertCompletions.text);
    this.tasks = new PostgresRepository(this.connection, taskSpec);
    this.workflows = new PostgresRepository(this.connection, workflowSpec);
    this.agentConfigs = new PostgresRepository(this.connection, agentConfigSpec);
    this.schedules = new PostgresSchedules(this.connection, () => sql.quote(this.schema));
    const dialect = this.connection.dialect;
    this.workflowSql = {
      select: `${sql.selectById(dialect, workflowSpec)} FOR UPDATE`,
      count: sql.countWorkflowTasks(dialect),
      update: sql.updateWorkflowStatus(dialect),
    };
    this.events = new PostgresEvents(sql.quote(this.schema));
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
  async commit(batch: StoreBatch): Promise<CommitResult> {
    if (isEmptyBatch(batch)) return { fenced: [] };
    const fence = batch.coordination;
    if (!fence?.workflowIds.length) return this.writeBatch(batch, null);
    // A copy: the batch's rows are read after the await that checks the fence (see Store.commit).
    const own = detachBatch(batch);
    return this.connection.transaction(async (client) => {
      // The runs' rows stay locked (FOR SHARE) until the commit: a claim that would take one of
      // them over skips it (SKIP LOCKED), and one that took it first is seen here.
      const { rows } = await client.query(this.workflowRunSql().lookup, [[...fence.workflowIds].sort()]);
      const stored = new Map(
        (rows as Array<{ workflow_id: string; coordinator: string | null }>).map((row) => [
          row.workflow_id,
          row.coordinator,
        ]),
      );
      const lost = lostWorkflows(fence, (id) => stored.get(id));
      const { batch: kept, left } = withoutLost(own, lost);
      const result = await this.writeBatch(kept, client);
      result.fenced = withLeft(result.fenced, left);
      if (lost.size > 0) result.lost = [...lost];
      return result;
    });
  }

  /** Writes a batch: in a transaction of its own, or (`under` given) in the one under way there. */
  private async writeBatch(batch: StoreBatch, under: PgClient | null): Promise<CommitResult> {
    const { tasks = [], taskStates = [], workflows = [], agentConfigs = [], completions = [] } = batch;
    let { beats = [], acks = [], commands = [] } = batch;
    let fenced: string[] = [];
    let derived: EventRecord[] = [];
    if (isEmptyBatch(batch)) return { fenced };
    const taskRows = this.tasks.prepareRows(tasks);
    const stateRows = this.tasks.prepareStates(taskStateSpec, taskStates, batch.fences);
    const derivation = batch.deriveWorkflows && {
      ...batch.deriveWorkflows,
      workflowIds: [...batch.deriveWorkflows.workflowIds],
    };
    const workflowRows = this.workflows.prepareRows(workflows);
    const configRows = this.agentConfigs.prepareRows(agentConfigs);
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
      const update = this.tasks.stateUpdateText;
      const params = stateRows.values.length;
      const tailValues = tail ? completionValues(completionColumns) : [];
      if (withEvents)
        return {
          ...this.events.withStates(update, params, tail),
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
      return this.tasks.writeStates(client, stateRows, statement(tail), late, (insert) =>
        wrap(async () => {
          const out = await insert();
          if (withEvents && late.length) await this.events.write(client, lateColumns(events, late));
          return out;
        }),
      );
    };
    if (onlyStates && records) {
      this.completionsTail ??= completionsTail(sql.quote(this.schema));
      const tail = this.completionsTail;
      // A row missing from the store is inserted whole after the statement, and the records of
      // such rows with it, in one transaction (the insert of the records is idempotent).
      fenced = await this.connection.autocommit((client) =>
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
        : this.connection.autocommit((client) => writeStates(client)));
      return { fenced };
    }
    const writeAll = async (client: PgClient) => {
      const { upsertBeat, insertAck } = this.sql;
      for (const beat of beats) {
        try {
          await client.query(upsertBeat.text, upsertBeat.bind(beat));
        } catch (error) {
          throw toRowError(error, beatSpec, [{ id: String(beat.engineId) }], this.connection.target);
        }
      }
      for (const ack of acks) {
        try {
          await client.query(insertAck.text, insertAck.bind(ack));
        } catch (error) {
          throw toRowError(error, ackSpec, [{ id: String(ack.commandId) }], this.connection.target);
        }
      }
      await this.agentConfigs.writeRows(client, configRows);
      await this.workflows.writeRows(client, workflowRows);
      await this.tasks.writeRows(client, taskRows);
      fenced = await writeStates(client);
      derived = await this.deriveWorkflows(client, derivation);
      if (completionColumns.taskId.length) await this.insertCompletions(client, completionColumns);
      if (commands.length) await this.insertCommands(client, commands);
      if (signals.length) await this.insertSignals(client, signals);
      for (const take of takes) {
        try {
          await client.query(this.signalSql.takeSignal.text, this.signalSql.takeSignal.bind(take));
        } catch (error) {
          throw toRowError(error, signalSpec, [{ id: take.signalId }], this.connection.target);
        }
      }
      if (!withEvents) await this.events.write(client, unfencedColumns(events, fenced));
      // After the batch's own events, as the engine publishes them.
      if (derived.length) await this.events.write(client, eventColumns(derived));
      if (wake) await this.notifyWork(client);
    };
    await (under ? writeAll(under) : this.connection.transaction(writeAll));
    return derived.length ? { fenced, derived } : { fenced };
  }

  async signals(workflowId: string, options: { pending?: boolean } = {}): Promise<StoredSignal[]> {
    const { selectSignals, selectPendingSignals } = this.signalSql;
    const select = options.pending === true ? selectPendingSignals : selectSignals;
    const { rows } = await this.connection.query(select.text, select.bind({ workflowId }));
    return (rows as SignalRow[]).map(toStoredSignal);
  }

  async completions(taskId?: string): Promise<CompletionRecord[]> {
    const { selectCompletions, selectCompletion } = this.sql;
    const { rows } =
      taskId === undefined
        ? await this.connection.query(selectCompletions.text)
        : await this.connection.query(selectCompletion.text, selectCompletion.bind({ taskId }));
    return (rows as CompletionRow[]).map(toCompletionRecord);
  }

  async commandsAfter(afterSeq: number, limit = 1_000): Promise<StoredCommand[]> {
    const { selectCommandsAfter } = this.sql;
    const { rows } = await this.connection.query(
      selectCommandsAfter.text,
      selectCommandsAfter.bind({ afterSeq, limit }),
    );
    return (rows as CommandRow[]).map(toStoredCommand);
  }

  async latestCommandSeq(): Promise<number> {
    const { rows } = await this.connection.query(this.sql.selectLatestCommandSeq.text);
    return Number((rows as Array<{ seq: unknown }>)[0]?.seq ?? 0);
  }

  async engineBeats(): Promise<StoredBeat[]> {
    const { rows } = await this.connection.query(this.sql.selectBeats.text);
    return (rows as BeatRow[]).map(toStoredBeat);
  }

  async commandAcks(commandId: string): Promise<CommandAck[]> {
    const { selectAcks } = this.sql;
    const { rows } = await this.connection.query(selectAcks.text, selectAcks.bind({ commandId }));
    return (rows as AckRow[]).map(toCommandAck);
  }

  async claimTasks(ids: readonly string[], engineId: string, from: readonly string[]): Promise<string[]> {
    const usable = ids.filter((id) => !id.includes('\u0000'));
    if (usable.length === 0) return [];
    const { claimTasks } = this.sql;
    const { rows } = await this.connection.query(
      claimTasks.text,
      claimTasks.bind({ engineId, ids: usable, from }),
    );
    return (rows as Array<{ id: string }>).map((row) => row.id);
  }

  /**
   * When some agent config with a stored limit has runnable tasks, or some task with a fairness key
   * does, one transaction: locks those configs (all, with fairness keys) and the fairness keys
   * (advisory locks, so claimers count each config's and key's held tasks one at a time), then
   * claims with each room counted after the locks are held. When none has (the common case), the
   * claim is one statement on its own, taking no task of a configured key or with a fairness key
   * (the statement itself leaves those out, so a config made meanwhile is safe). Two round trips
   * instead of four. The claim's last row carries the rate wait hint (claims.ts).
   */
  async claimRunnable(options: ClaimRunnableOptions): Promise<ClaimedTasks> {
    const { engineId, limit, now } = options;
    if (limit <= 0) return [];
    this.claims ??= postgresClaimStatements(sql.quote(this.schema));
    const { releaseGone, limitedKeys, lockAgentKeys, claim } = this.claims;
    // Named: each connection parses and plans them once (a claim is planned in about 0.5 ms).
    const named = (prefix: string, text: string) => ({ name: statementName(prefix, text), text });
    const skip = [...(options.skipAgentKeys ?? [])];
    const ratesAt = options.ratesAt ?? null;
    const take = (client: PgClient, keys: readonly string[], keyed: boolean) =>
      client.query({
        ...named('symphony_claim', claim),
        values: [engineId, now, limit, keys, skip, keyed, ratesAt],
        rowMode: 'array',
      });
    const rows = await this.connection.autocommit(async (client) => {
      if (options.releaseGone !== false)
        await client.query({ ...named('symphony_release_gone', releaseGone), values: [engineId, now] });
      const limited = await client.query({
        ...named('symphony_limited_keys', limitedKeys),
        values: [now],
      });
      if (limited.rows.length > 0)
        return { keyed: (limited.rows as Array<{ key: string | null }>).some((row) => row.key === null) };
      return (await take(client, [], false)).rows as SqlValues[];
    });
    if (Array.isArray(rows)) return claimedRows(rows);
    const { keyed } = rows;
    const locked = await this.connection.transaction(async (client) => {
      const keys = await client.query({
        ...named('symphony_lock_agent_keys', lockAgentKeys),
        values: [`symphony agent ${this.schema} `, now, keyed],
      });
      return (
        await take(
          client,
          (keys.rows as Array<{ key: string | null }>).flatMap((row) => (row.key === null ? [] : [row.key])),
          keyed,
        )
      ).rows;
    });
    return claimedRows(locked as SqlValues[]);
  }

  /** See `Store.saveAgentRateLimits` (claim-upkeep.ts). */
  async saveAgentRateLimits(agentKey: string, rateLimits: readonly RateLimit[], now: number): Promise<void> {
    await saveAgentRateLimits(this.connection, sql.quote(this.schema), agentKey, rateLimits, now);
  }

  /** See `Store.pruneFairMarks` (claim-upkeep.ts; the statement is in claims.ts). */
  async pruneFairMarks(now: number): Promise<number> {
    this.claims ??= postgresClaimStatements(sql.quote(this.schema));
    return pruneFairMarks(this.connection, this.claims.pruneMarks, this.schema, now);
  }

  /** See `Store.heldLoad`; the statement is in held-load.ts (it reads through the index `tasks_held`). */
  async heldLoad(options: HeldLoadOptions): Promise<HeldLoad[]> {
    this.heldLoadSql ??= heldLoadStatement(sql.quote(this.schema));
    return readHeldLoad(this.connection, this.heldLoadSql, options);
  }

  /** See `Store.saveBreaker`; the statement is in ../breakers.ts. */
  async saveBreaker(row: StoredBreaker): Promise<boolean> {
    const params = breakerParams(expectStoredBreaker(row));
    const table = `${sql.quote(this.schema)}.circuit_breakers`;
    const { rowCount } = await this.connection.query(
      saveBreakerStatement(table, (n) => `$${n}`),
      params,
    );
    return rowCount > 0;
  }

  async breakers(): Promise<StoredBreaker[]> {
    const table = `${sql.quote(this.schema)}.circuit_breakers`;
    return toStoredBreakers((await this.connection.query(breakersStatement(table))).rows);
  }

  /** See `Store.takeRateTokens`: one statement for the batch (sql/rate-buckets.ts). */
  async takeRateTokens(ops: readonly RateBucketOp[]): Promise<RateBucketGrant[]> {
    if (ops.length === 0) return [];
    this.rateSql ??= postgresRateStatement(sql.quote(this.schema));
    const { rows } = await this.connection.query(this.rateSql, postgresRateValues(ops), 'array');
    return grantsOf(ops, rows as BucketRow[]);
  }

  private rateSql: string | undefined;

  /** See `Store.readRateBuckets`: one read (sql/rate-buckets.ts). */
  async readRateBuckets(keys: readonly string[]): Promise<RateBucketsRead> {
    const read = rateReadStatement('postgres', `${sql.quote(this.schema)}.rate_buckets`);
    const { rows } = await this.connection.query(read, [[...keys]], 'array');
    return bucketsRead(rows as unknown[][]);
  }

  /**
   * See `Store.takeTaskKey`: a new key's row is inserted for the asking task; an existing one is read
   * under its row lock, decided and saved in the same transaction (sql/task-keys.ts).
   */
  async takeTaskKey(request: TaskKeyRequest): Promise<TaskKeyOutcome> {
    const { holder } = this.keyStatements();
    return this.takeKey(request.key, request.taskId, request.at, holder, (row) =>
      decideTaskKey(holderOf(row), request),
    );
  }

  async taskKeyHolder(key: string): Promise<string | null> {
    const { rows } = await this.connection.query(this.keyStatements().read, [key]);
    return (rows[0] as { task_id: string } | undefined)?.task_id ?? null;
  }

  /** See `Store.takeWorkflowKey`: as `takeTaskKey`, under the `workflow:` namespace. */
  async takeWorkflowKey(request: WorkflowKeyRequest): Promise<TaskKeyOutcome> {
    const { workflowHolder } = this.keyStatements();
    return this.takeKey(
      WORKFLOW_KEY_PREFIX + request.key,
      request.workflowId,
      request.at,
      workflowHolder,
      (row) => decideWorkflowKey(workflowHolderOf(row), request),
    );
  }

  async workflowKeyHolder(key: string): Promise<string | null> {
    return this.taskKeyHolder(WORKFLOW_KEY_PREFIX + key);
  }

  /**
   * Inserts the key's row for `askerId` where there is none (decided with no holder); else locks
   * it, reads its holder (`holder`), decides and saves, in one transaction.
   */
  private async takeKey(
    key: string,
    askerId: string,
    at: number,
    holder: string,
    decide: (row: Record<string, unknown> | undefined) => TaskKeyOutcome,
  ): Promise<TaskKeyOutcome> {
    const { claim, lock, save } = this.keyStatements();
    return this.connection.transaction(async (client) => {
      if ((await client.query(claim, [key, askerId, at])).rows.length > 0) return decide(undefined);
      await client.query(lock!, [key]);
      const { rows } = await client.query(holder, [key]);
      const outcome = decide(rows[0] as Record<string, unknown> | undefined);
      if (outcome.taken) await client.query(save, [key, askerId, outcome.since]);
      return outcome;
    });
  }

  private keySql: TaskKeyStatements | undefined;

  private keyStatements(): TaskKeyStatements {
    const schema = sql.quote(this.schema);
    return (this.keySql ??= taskKeyStatements(
      `${schema}.task_keys`,
      `${schema}.tasks`,
      `${schema}.workflows`,
      (n) => `$${n}`,
      true,
    ));
  }

  /** Wakes the schema's listening workers once the transaction commits. */
  private async notifyWork(client: PgClient): Promise<void> {
    await client.query(NOTIFY_WORK, [workChannel(this.schema)]);
  }

  private workflowRunSql(): PostgresWorkflowRunStatements {
    return (this.runSql ??= postgresWorkflowRunStatements(sql.quote(this.schema)));
  }

  /** Written with a NOTIFY in its transaction: idle workers claim it at once. */
  async submitWorkflow(workflowId: string, plan: WorkflowPlan, now: number): Promise<void> {
    const { submit } = this.workflowRunSql();
    await this.connection.transaction(async (client) => {
      await client.query(submit, [workflowId, JSON.stringify(plan), now]);
      await this.notifyWork(client);
    });
  }

  async claimWorkflows(options: ClaimWorkflowsOptions): Promise<SubmittedWorkflow[]> {
    if (options.limit <= 0) return [];
    const { claim } = this.workflowRunSql();
    const { rows } = await this.connection.query(claim, [
      options.engineId,
      options.limit,
      [...options.running],
    ]);
    return (rows as WorkflowRunRow[]).map(toSubmittedWorkflow).sort(bySubmission);
  }

  async releaseWorkflow(workflowId: string, engineId: string, endedAt: number | null): Promise<void> {
    const { release } = this.workflowRunSql();
    await this.connection.query(release, [workflowId, engineId, endedAt]);
  }

  async submittedWorkflows(): Promise<SubmittedWorkflow[]> {
    const { rows } = await this.connection.query(this.workflowRunSql().list);
    return (rows as WorkflowRunRow[]).map(toSubmittedWorkflow);
  }

  async listenForWork(onWake: () => void): Promise<() => Promise<void>> {
    const { connectionString, logger } = this.connection.options;
    return listenOn(connectionString, workChannel(this.schema), onWake, logger);
  }

  async pruneControl(before: number, events?: EventRetention): Promise<void> {
    const { pruneAcks, pruneCommands, pruneBeats } = this.sql;
    await this.connection.transaction(async (client) => {
      for (const prune of [pruneAcks, pruneCommands, pruneBeats]) {
        await client.query(prune.text, prune.bind({ before }));
      }
      if (events) await this.events.prune(client, events);
    });
  }

  /** See `Store.readEvents` and, for the cursor, events.ts. */
  async readEvents(query: EventQuery): Promise<EventPage> {
    return this.events.readPage((text, values) => this.connection.query(text, values, 'array'), query);
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
    const { lockCommands, insertCommand } = this.sql;
    await client.query(lockCommands.text, lockCommands.bind({ key: this.commandLockKey() }));
    for (const c of commands) {
      try {
        await client.query(insertCommand.text, insertCommand.bind(c));
      } catch (error) {
        throw toRowError(error, commandSpec, [{ id: String(c.id) }], this.connection.target);
      }
    }
  }

  /**
   * Appends signals under a transaction-scoped advisory lock of the schema, as commands are: signals
   * commit in `seq` order, so a wait never takes one while an older one is still to commit.
   */
  private async insertSignals(client: PgClient, signals: readonly SignalValues[]): Promise<void> {
    const { lockCommands } = this.sql;
    const { insertSignal } = this.signalSql;
    await client.query(lockCommands.text, lockCommands.bind({ key: `symphony signals ${this.schema}` }));
    for (const signal of signals) {
      try {
        await client.query(insertSignal.text, insertSignal.bind(signal));
      } catch (error) {
        const { code, constraint } = error as { code?: unknown; constraint?: unknown };
        if (code === '23505' && constraint === 'signals_id_unique') throw duplicateSignal(signal.id);
        throw toRowError(error, signalSpec, [{ id: signal.id }], this.connection.target);
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
      const before = this.decodeWorkflow(stored);
      const row = derivedRow(derivation!, before, tasks);
      if (!row) continue;
      await client.query(this.workflowSql.update, [row.status, row.updatedAt, row.id]);
      const event = derivedEvent(derivation!, before, row);
      if (event) events.push(event);
    }
    return events;
  }

  /** The advisory lock that orders command inserts (one per schema). */
  commandLockKey(): string {
    return `symphony control_commands ${this.schema}`;
  }

  /** One prepared statement whatever the number of records (columns as arrays, see unnest.ts). */
  private async insertCompletions(client: PgClient, columns: CompletionColumns): Promise<void> {
    const { text } = this.sql.insertCompletions;
    try {
      await client.query({
        name: this.completionsName,
        text,
        values: this.sql.insertCompletions.bind(columns),
      });
    } catch (error) {
      const rows = columns.taskId.map((taskId) => ({ id: String(taskId) }));
      throw toRowError(error, completionSpec, rows, this.connection.target);
    }
  }
}
