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
import { agentConfigSpec, taskSpec, workflowSpec } from '../entities.js';
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
import { isEmptyBatch } from '../store.js';
import * as sql from '../sql/statements.js';
import type { PgClient } from './driver.js';
import {
  PostgresConnection,
  resolvePostgresOptions,
  type PostgresStoreOptions,
} from './postgres-connection.js';
import { statementName } from './unnest.js';
import { PostgresEvents } from './events.js';
import { commandLockKey, notifyWork, PostgresBatchWriter } from './batch-writer.js';
import type { EventPage, EventQuery, EventRetention } from '../events.js';
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
import { type ClaimedTasks, type ClaimRunnableOptions } from '../claim-runnable.js';
import { workChannel } from '../sql/claim-statements.js';
import { decideTaskKey, type TaskKeyOutcome, type TaskKeyRequest } from '../../domain/task-keys.js';
import { holderOf, taskKeyStatements, workflowHolderOf, type TaskKeyStatements } from '../sql/task-keys.js';
import {
  decideWorkflowKey,
  WORKFLOW_KEY_PREFIX,
  type WorkflowKeyRequest,
} from '../../domain/workflow-keys.js';
import { type SqlValues } from '../sql/rows.js';
import {
  toCommandAck,
  toStoredCommand,
  toCompletionRecord,
  toStoredBeat,
  type AckRow,
  type BeatRow,
  type CommandRow,
  type CompletionRow,
} from '../sql/records.js';
import { controlStatements, type ControlStatements } from '../sql/control-statements.js';
import { signalStatements, toStoredSignal, type SignalRow, type SignalStatements } from '../sql/signals.js';

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
  /** Two commits at once, each on a connection of its own (see `Store.commitLanes`). */
  readonly commitLanes = 2;
  readonly tasks: PostgresRepository<Task>;
  readonly workflows: PostgresRepository<Workflow>;
  readonly agentConfigs: PostgresRepository<AgentConfig>;
  readonly schedules: PostgresSchedules;
  private readonly connection: PostgresConnection;
  private readonly sql: ControlStatements<'postgres'>;
  private readonly signalSql: SignalStatements;
  /** Writes the batches of `commit`. */
  private readonly writer: PostgresBatchWriter;

  /** The statements of workers' claims (built on first use). */
  private claims: PostgresClaimStatements | undefined;
  /** The statement of `heldLoad` (built on first use). */
  private heldLoadSql: string | undefined;
  private runSql: PostgresWorkflowRunStatements | undefined;
  /** The statements of the events table (see events.ts). */
  private readonly events: PostgresEvents;

  /** Checks the options; connects to nothing until `open()`. */
  constructor(options: PostgresStoreOptions) {
    this.connection = new PostgresConnection(resolvePostgresOptions(options));
    this.sql = controlStatements('postgres', this.connection.dialect);
    this.signalSql = signalStatements('postgres', this.connection.dialect);
    this.tasks = new PostgresRepository(this.connection, taskSpec);
    this.workflows = new PostgresRepository(this.connection, workflowSpec);
    this.agentConfigs = new PostgresRepository(this.connection, agentConfigSpec);
    this.schedules = new PostgresSchedules(this.connection, () => sql.quote(this.schema));
    this.events = new PostgresEvents(sql.quote(this.schema));
    this.writer = new PostgresBatchWriter({
      connection: this.connection,
      tasks: this.tasks,
      workflows: this.workflows,
      agentConfigs: this.agentConfigs,
      sql: this.sql,
      signalSql: this.signalSql,
      events: this.events,
    });
  }

  /** The schema holding the tables. */
  get schema(): string {
    return this.connection.options.schema;
  }

  /**
   * Connects, creates the schema if needed and applies migrations; `readOnly`: checks that the
   * schema holds a store of this version and creates nothing (StoreOpenOptions).
   */
  async open(options?: StoreOpenOptions): Promise<void> {
    await this.connection.open(options);
  }

  /**
   * Writes the whole batch in one transaction; completion records already present are skipped.
   * Everything is read from the batch before the first await (see `Store.commit`).
   */
  async commit(batch: StoreBatch): Promise<CommitResult> {
    if (isEmptyBatch(batch)) return { fenced: [] };
    const fence = batch.coordination;
    if (!fence?.workflowIds.length) return this.writer.write(batch, null);
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
      const result = await this.writer.write(kept, client);
      result.fenced = withLeft(result.fenced, left);
      if (lost.size > 0) result.lost = [...lost];
      return result;
    });
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

  private workflowRunSql(): PostgresWorkflowRunStatements {
    return (this.runSql ??= postgresWorkflowRunStatements(sql.quote(this.schema)));
  }

  /** Written with a NOTIFY in its transaction: idle workers claim it at once. */
  async submitWorkflow(workflowId: string, plan: WorkflowPlan, now: number): Promise<void> {
    const { submit } = this.workflowRunSql();
    await this.connection.transaction(async (client) => {
      await client.query(submit, [workflowId, JSON.stringify(plan), now]);
      await notifyWork(client, this.schema);
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

  /** The advisory lock that orders command inserts (one per schema). */
  commandLockKey(): string {
    return commandLockKey(this.schema);
  }
}
