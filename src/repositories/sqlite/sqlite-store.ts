import { SqliteSchedules } from './schedules.js';
import type { AgentConfig } from '../../domain/agent-config.js';
import type { RateBucketGrant, RateBucketOp, RateBucketsRead, RateLimit } from '../../domain/rate-limit.js';
import {
  bucketsRead,
  grantsOf,
  rateReadStatement,
  sqliteRateStatements,
  type BucketRow,
} from '../sql/rate-buckets.js';
import type { Task } from '../../domain/task.js';
import type { Workflow } from '../../domain/workflow.js';
import { rowRejected } from '../constraint-errors.js';
import { agentConfigSpec, taskSpec, taskStateSpec, workflowSpec } from '../entities.js';
import type {
  CommitResult,
  CommandAck,
  CompletionRecord,
  StoredBeat,
  Store,
  StoreBatch,
  StoredCommand,
  StoredSignal,
  StoreOpenOptions,
} from '../store.js';
import { isEmptyBatch, type WorkflowDerivation } from '../store.js';
import * as sql from '../sql/statements.js';
import {
  derivationOrder,
  deriveWorkflow,
  noWorkflowTasks,
  statusesBefore,
  storedDerived,
  tallyTasks,
} from '../workflow-derivation.js';
import {
  breakerParams,
  breakersStatement,
  expectStoredBreaker,
  saveBreakerStatement,
  toStoredBreakers,
  type StoredBreaker,
} from '../breakers.js';
import { SqliteConnection, resolveSqliteOptions, type SqliteStoreOptions } from './sqlite-connection.js';
import { SqliteRepository, sqliteDialect } from './sqlite-repository.js';
import type { ClaimedTasks, ClaimRunnableOptions } from '../claim-runnable.js';
import { claimOnSqlite, pruneFairMarksOnSqlite, saveAgentRateLimitsOnSqlite } from './claims.js';
import { toHeldLoad, type HeldLoad, type HeldLoadOptions } from '../held-load.js';
import { HELD_LOAD_SQL } from './held-load.js';
import { rowDecoder, type SqlValues } from '../sql/rows.js';
import { isRowError, toStoreError } from './sqlite-errors.js';
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
  type ControlStatement,
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
} from '../sql/signals.js';
import { sqliteWorkflowRunStatements } from './workflow-runs.js';
import { lostWorkflows, withLeft, withoutLost } from '../coordination.js';
import { prepareSqliteEvents, pruneSqliteEvents, readSqliteEvents } from './events.js';
import type { EventPage, EventQuery, EventRecord, EventRetention } from '../events.js';
import { decideTaskKey, type TaskKeyOutcome, type TaskKeyRequest } from '../../domain/task-keys.js';
import { holderOf, taskKeyStatements, workflowHolderOf, type TaskKeyStatements } from '../sql/task-keys.js';
import {
  decideWorkflowKey,
  WORKFLOW_KEY_PREFIX,
  type WorkflowKeyRequest,
} from '../../domain/workflow-keys.js';
import {
  bySubmission,
  toSubmittedWorkflow,
  type ClaimWorkflowsOptions,
  type SubmittedWorkflow,
  type WorkflowPlan,
  type WorkflowRunRow,
} from '../workflow-runs.js';

/** Whether SQLite refused a signal because its id is stored already. */
function isDuplicateSignal(error: unknown): boolean {
  const { code, message } = error as { code?: unknown; message?: unknown };
  return code === 'SQLITE_CONSTRAINT_UNIQUE' && String(message).includes('signals.id');
}

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
  readonly schedules: SqliteSchedules;
  private readonly connection: SqliteConnection;
  private readonly sql: ControlStatements<'sqlite'> = controlStatements('sqlite', sqliteDialect);
  private readonly signalSql: SignalStatements = signalStatements('sqlite', sqliteDialect);

  /** Checks the options; opens nothing until `open()`. */
  constructor(options: SqliteStoreOptions) {
    this.connection = new SqliteConnection(resolveSqliteOptions(options));
    this.tasks = new SqliteRepository(this.connection, taskSpec);
    this.workflows = new SqliteRepository(this.connection, workflowSpec);
    this.agentConfigs = new SqliteRepository(this.connection, agentConfigSpec);
    this.schedules = new SqliteSchedules(this.connection);
  }

  /** The statements of status derivations, and the decoder of the workflow rows they read. */
  private readonly workflowSql = {
    select: sql.selectById(sqliteDialect, workflowSpec),
    count: sql.countWorkflowTasks(sqliteDialect),
    status: sql.selectWorkflowStatus(sqliteDialect),
    update: sql.updateWorkflowStatus(sqliteDialect),
  };
  private readonly decodeWorkflow = rowDecoder(workflowSpec);

  /** The database file (or `':memory:'`). */
  get path(): string {
    return this.connection.path;
  }

  /**
   * Opens the file, checks it (`PRAGMA quick_check`), switches to WAL and applies migrations;
   * `readOnly`: checks it and reads it as it is (StoreOpenOptions).
   */
  async open(options?: StoreOpenOptions): Promise<void> {
    await this.connection.open(options);
  }

  /** A record SQLite refused: its values (INVALID_ARGUMENT), or the file failing (full, busy...). */
  private recordError(spec: Parameters<typeof rowRejected>[0], id: string, error: unknown): Error {
    return isRowError(error)
      ? rowRejected(spec, id, (error as Error).message, error)
      : toStoreError(error, this.connection.path);
  }

  /**
   * Writes the whole batch in one transaction; completion records already present are skipped,
   * signals are appended, then taken.
   */
  async commit(batch: StoreBatch): Promise<CommitResult> {
    if (isEmptyBatch(batch)) return { fenced: [] };
    if (!batch.coordination?.workflowIds.length) return this.writeBatch(batch);
    const fence = batch.coordination;
    // The coordinators are read in the write transaction (BEGIN IMMEDIATE: no other writer until
    // it ends), so no claim can take a workflow between the check and the writes.
    return this.connection.write(() => {
      const { lookup } = sqliteWorkflowRunStatements;
      const rows = this.connection
        .statement(lookup)
        .all({ ids: JSON.stringify(fence.workflowIds) }) as Array<{
        workflow_id: string;
        coordinator: string | null;
      }>;
      const stored = new Map(rows.map((row) => [row.workflow_id, row.coordinator]));
      const lost = lostWorkflows(fence, (id) => stored.get(id));
      const { batch: kept, left } = withoutLost(batch, lost);
      const result = this.writeBatch(kept, true);
      result.fenced = withLeft(result.fenced, left);
      if (lost.size > 0) result.lost = [...lost];
      return result;
    });
  }

  /** Writes a batch in one transaction (`nested`: in the one under way). */
  private writeBatch(batch: StoreBatch, nested = false): CommitResult {
    const { tasks = [], taskStates = [], workflows = [], agentConfigs = [], completions = [] } = batch;
    const { commands = [] } = batch;
    const { beats = [], acks = [] } = batch;
    let fenced: string[] = [];
    let derived: EventRecord[] = [];
    if (isEmptyBatch(batch)) return { fenced };
    const signals = signalValues(batch.signals ?? []);
    const takes = signalTakes(batch.signalTakes ?? []);
    const derivation = batch.deriveWorkflows;
    const events = prepareSqliteEvents(this.connection, batch.events);
    const body = () => {
      for (const beat of beats) {
        try {
          this.run(this.sql.upsertBeat, beat);
        } catch (error) {
          throw this.recordError(beatSpec, String(beat.engineId), error);
        }
      }
      for (const ack of acks) {
        try {
          this.run(this.sql.insertAck, ack);
        } catch (error) {
          throw this.recordError(ackSpec, String(ack.commandId), error);
        }
      }
      for (const c of commands) {
        try {
          this.run(this.sql.insertCommand, c);
        } catch (error) {
          throw this.recordError(commandSpec, String(c.id), error);
        }
      }
      this.agentConfigs.saveRows(agentConfigs);
      const before = statusesBefore(derivation, (id) => this.workflowStatus(id));
      this.workflows.saveRows(workflows);
      this.tasks.saveRows(tasks);
      fenced = this.tasks.saveStates(taskStateSpec, taskStates, batch.fences);
      derived = this.deriveWorkflows(derivation, before);
      const { insertCompletions } = this.sql;
      const insert = this.connection.statement(insertCompletions.text);
      for (const record of completions) {
        try {
          insert.run(...insertCompletions.bind(record));
        } catch (error) {
          throw this.recordError(completionSpec, String(record.taskId), error);
        }
      }
      for (const signal of signals) {
        try {
          this.run(this.signalSql.insertSignal, signal);
        } catch (error) {
          throw isDuplicateSignal(error)
            ? duplicateSignal(signal.id)
            : this.recordError(signalSpec, signal.id, error);
        }
      }
      for (const take of takes) {
        try {
          this.run(this.signalSql.takeSignal, take);
        } catch (error) {
          throw this.recordError(signalSpec, take.signalId, error);
        }
      }
      events(fenced);
      prepareSqliteEvents(this.connection, storedDerived(derivation, derived))([]);
    };
    if (nested) body();
    else this.connection.write(body);
    return derived.length ? { fenced, derived } : { fenced };
  }

  async signals(workflowId: string, options: { pending?: boolean } = {}): Promise<StoredSignal[]> {
    const { selectSignals, selectPendingSignals } = this.signalSql;
    const rows = this.connection.read(() =>
      this.all(options.pending === true ? selectPendingSignals : selectSignals, { workflowId }),
    ) as SignalRow[];
    return rows.map(toStoredSignal);
  }

  async completions(taskId?: string): Promise<CompletionRecord[]> {
    const rows = this.connection.read(() =>
      taskId === undefined
        ? this.all(this.sql.selectCompletions, {})
        : this.all(this.sql.selectCompletion, { taskId }),
    ) as CompletionRow[];
    return rows.map(toCompletionRecord);
  }

  async commandsAfter(afterSeq: number, limit = 1_000): Promise<StoredCommand[]> {
    const rows = this.connection.read(() =>
      this.all(this.sql.selectCommandsAfter, { afterSeq, limit }),
    ) as CommandRow[];
    return rows.map(toStoredCommand);
  }

  async latestCommandSeq(): Promise<number> {
    const [row] = this.connection.read(() => this.all(this.sql.selectLatestCommandSeq, {})) as Array<{
      seq: number;
    }>;
    return row?.seq ?? 0;
  }

  async engineBeats(): Promise<StoredBeat[]> {
    const rows = this.connection.read(() => this.all(this.sql.selectBeats, {})) as BeatRow[];
    return rows.map(toStoredBeat);
  }

  async commandAcks(commandId: string): Promise<CommandAck[]> {
    const rows = this.connection.read(() => this.all(this.sql.selectAcks, { commandId })) as AckRow[];
    return rows.map(toCommandAck);
  }

  async claimTasks(ids: readonly string[], engineId: string, from: readonly string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const rows = this.connection.write(() =>
      this.all(this.sql.claimTasks, { engineId, ids, from }),
    ) as Array<{ id: string }>;
    return rows.map((row) => row.id);
  }

  /** See `Store.claimRunnable`; decided in sqlite/claims.ts. */
  async claimRunnable(options: ClaimRunnableOptions): Promise<ClaimedTasks> {
    return claimOnSqlite(this.connection, options);
  }

  async submitWorkflow(workflowId: string, plan: WorkflowPlan, now: number): Promise<void> {
    const { submit } = sqliteWorkflowRunStatements;
    this.connection.write(() =>
      this.connection.statement(submit).run({ workflowId, plan: JSON.stringify(plan), now }),
    );
  }

  async claimWorkflows(options: ClaimWorkflowsOptions): Promise<SubmittedWorkflow[]> {
    if (options.limit <= 0) return [];
    const { claimable, take } = sqliteWorkflowRunStatements;
    const { engineId } = options;
    const rows = this.connection.write(() => {
      const found = this.connection.statement(claimable).all({
        engineId,
        limit: options.limit,
        running: JSON.stringify(options.running),
      }) as Array<{ workflow_id: string; coordinator: string | null }>;
      if (found.length === 0) return [];
      const from = new Map(found.map((row) => [row.workflow_id, row.coordinator]));
      const ids = JSON.stringify(found.map((row) => row.workflow_id));
      const taken = this.connection.statement(take).all({ engineId, ids }) as WorkflowRunRow[];
      return taken.map((row) => {
        const previous = from.get(row.workflow_id) ?? null;
        return { ...row, taken_from: previous === engineId ? null : previous };
      });
    });
    return rows.map(toSubmittedWorkflow).sort(bySubmission);
  }

  async releaseWorkflow(workflowId: string, engineId: string, endedAt: number | null): Promise<void> {
    const { release } = sqliteWorkflowRunStatements;
    this.connection.write(() => this.connection.statement(release).run({ workflowId, engineId, endedAt }));
  }

  async submittedWorkflows(): Promise<SubmittedWorkflow[]> {
    const rows = this.connection.read(() =>
      this.connection.statement(sqliteWorkflowRunStatements.list).all(),
    ) as WorkflowRunRow[];
    return rows.map(toSubmittedWorkflow);
  }

  /** See `Store.heldLoad`; the statement is in held-load.ts. */
  async heldLoad(options: HeldLoadOptions): Promise<HeldLoad[]> {
    return toHeldLoad(this.connection.read(() => this.connection.statement(HELD_LOAD_SQL).all(options.now)));
  }

  /** See `Store.saveBreaker`; the statement is in ../breakers.ts. */
  async saveBreaker(row: StoredBreaker): Promise<boolean> {
    const params = breakerParams(expectStoredBreaker(row));
    const save = saveBreakerStatement('circuit_breakers', () => '?');
    return this.connection.write(() => this.connection.statement(save).run(...params).changes > 0);
  }

  async breakers(): Promise<StoredBreaker[]> {
    const read = breakersStatement('circuit_breakers');
    return toStoredBreakers(this.connection.read(() => this.connection.statement(read).all()));
  }

  /** See `Store.takeRateTokens`; the statements are in sql/rate-buckets.ts. */
  async takeRateTokens(ops: readonly RateBucketOp[]): Promise<RateBucketGrant[]> {
    this.rateSql ??= sqliteRateStatements();
    const { ensure, apply } = this.rateSql;
    const rows = this.connection.write(() =>
      ops.map((op) => {
        const at = op.at ?? null;
        this.connection.statement(ensure).run({ key: op.key, cap: op.capacity, at });
        const values = { key: op.key, cap: op.capacity, per: op.perMs, add: op.add, take: op.take };
        const more = { spend: op.spend ? 1 : 0, block: op.blockMs, at };
        return this.connection.arrayStatement(apply).get({ ...values, ...more }) as BucketRow;
      }),
    );
    return grantsOf(ops, rows);
  }

  private rateSql: { ensure: string; apply: string } | undefined;

  /** See `Store.readRateBuckets`: one read (sql/rate-buckets.ts). */
  async readRateBuckets(keys: readonly string[]): Promise<RateBucketsRead> {
    const read = rateReadStatement('sqlite', '"rate_buckets"');
    const text = JSON.stringify([...keys]);
    return bucketsRead(
      this.connection.read(() => this.connection.arrayStatement(read).all(text)) as unknown[][],
    );
  }

  /** See `Store.takeTaskKey`: read, decided and saved in one write transaction (sql/task-keys.ts). */
  async takeTaskKey(request: TaskKeyRequest): Promise<TaskKeyOutcome> {
    const { holder } = this.keyStatements();
    return this.takeKey(request.key, request.taskId, holder, (row) => decideTaskKey(holderOf(row), request));
  }

  async taskKeyHolder(key: string): Promise<string | null> {
    const read = this.keyStatements().read;
    const row = this.connection.read(() => this.connection.statement(read).get({ key })) as
      { task_id: string } | undefined;
    return row?.task_id ?? null;
  }

  /** See `Store.takeWorkflowKey`: as `takeTaskKey`, under the `workflow:` namespace. */
  async takeWorkflowKey(request: WorkflowKeyRequest): Promise<TaskKeyOutcome> {
    const { workflowHolder } = this.keyStatements();
    return this.takeKey(WORKFLOW_KEY_PREFIX + request.key, request.workflowId, workflowHolder, (row) =>
      decideWorkflowKey(workflowHolderOf(row), request),
    );
  }

  async workflowKeyHolder(key: string): Promise<string | null> {
    return this.taskKeyHolder(WORKFLOW_KEY_PREFIX + key);
  }

  /** Reads the key's holder (`holder`), decides and saves, in one write transaction. */
  private takeKey(
    key: string,
    askerId: string,
    holder: string,
    decide: (row: Record<string, unknown> | undefined) => TaskKeyOutcome,
  ): TaskKeyOutcome {
    const { claim, save } = this.keyStatements();
    return this.connection.write(() => {
      const row = this.connection.statement(holder).get({ key }) as Record<string, unknown> | undefined;
      const outcome = decide(row);
      if (outcome.taken) {
        const params = { key, task: askerId, since: outcome.since };
        this.connection.statement(row === undefined ? claim : save).run(params);
      }
      return outcome;
    });
  }

  private keySql: TaskKeyStatements | undefined;

  private keyStatements(): TaskKeyStatements {
    return (this.keySql ??= taskKeyStatements(
      'task_keys',
      'tasks',
      'workflows',
      (n) => [':key', ':task', ':since'][n - 1]!,
      false,
    ));
  }

  async pruneControl(before: number, events?: EventRetention): Promise<void> {
    const { pruneAcks, pruneCommands, pruneBeats } = this.sql;
    this.connection.write(() => {
      for (const prune of [pruneAcks, pruneCommands, pruneBeats]) this.run(prune, { before });
      if (events) pruneSqliteEvents(this.connection, events);
    });
  }

  /** See `Store.saveAgentRateLimits`; the statements are in claims.ts. */
  async saveAgentRateLimits(agentKey: string, rateLimits: readonly RateLimit[], now: number): Promise<void> {
    saveAgentRateLimitsOnSqlite(this.connection, agentKey, rateLimits, now);
  }

  /** See `Store.pruneFairMarks`; the statement is in claims.ts. */
  async pruneFairMarks(now: number): Promise<number> {
    return pruneFairMarksOnSqlite(this.connection, now);
  }

  /** See `Store.readEvents`; the statements are in events.ts. */
  async readEvents(query: EventQuery): Promise<EventPage> {
    return readSqliteEvents(this.connection, query);
  }

  async close(): Promise<void> {
    this.connection.close();
  }

  /** Derives workflows' statuses from their stored tasks (see `StoreBatch.deriveWorkflows`), in the write. */
  private deriveWorkflows(
    derivation: WorkflowDerivation | undefined,
    before: ReadonlyMap<string, Workflow['status']>,
  ): EventRecord[] {
    const events: EventRecord[] = [];
    for (const workflowId of derivationOrder(derivation)) {
      const stored = this.connection.arrayStatement(this.workflowSql.select).get(workflowId) as
        SqlValues | undefined;
      if (stored === undefined) continue;
      const tasks = noWorkflowTasks();
      const groups = this.connection.statement(this.workflowSql.count).all(workflowId) as Array<{
        status: Task['status'];
        n: number;
        a: number;
      }>;
      for (const group of groups) tallyTasks(tasks, group.status, group.n, group.a);
      const row = this.decodeWorkflow(stored);
      const { write, event } = deriveWorkflow(derivation!, row, tasks, before.get(workflowId));
      if (write)
        this.connection.statement(this.workflowSql.update).run(write.status, write.updatedAt, write.id);
      if (event) events.push(event);
    }
    return events;
  }

  /** A workflow's stored status (in the write transaction), if it is stored. */
  private workflowStatus(workflowId: string): Workflow['status'] | undefined {
    const row = this.connection.statement(this.workflowSql.status).get(workflowId) as
      { status: Workflow['status'] } | undefined;
    return row?.status;
  }

  /** Runs a control-plane statement on its cached prepared statement. */
  private run<A>(statement: ControlStatement<A>, args: A): void {
    this.connection.statement(statement.text).run(...statement.bind(args));
  }

  /** The rows of a control-plane statement, on its cached prepared statement. */
  private all<A>(statement: ControlStatement<A>, args: A): unknown[] {
    return this.connection.statement(statement.text).all(...statement.bind(args));
  }
}
