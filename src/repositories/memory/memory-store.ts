import type { AgentConfig } from '../../domain/agent-config.js';
import type { Task } from '../../domain/task.js';
import type { Workflow } from '../../domain/workflow.js';
import {
  applyRateOp,
  type RateBucketGrant,
  type RateBucketOp,
  type RateBucketState,
  type RateBucketsRead,
} from '../../domain/rate-limit.js';
import { decideTaskKey, type TaskKeyOutcome, type TaskKeyRequest } from '../../domain/task-keys.js';
import {
  decideWorkflowKey,
  hasStarted,
  WORKFLOW_KEY_PREFIX,
  type WorkflowKeyRequest,
} from '../../domain/workflow-keys.js';
import { agentConfigSpec, taskSpec, workflowSpec } from '../entities.js';
import { InvalidArgumentError } from '../../errors/errors.js';
import type { CommitResult, ControlCommand, Store, StoreBatch } from '../store.js';
import type { StoreClock } from './command-log.js';
import { InProcessRecords } from './in-process-records.js';
import { MemoryRepository } from './memory-repository.js';
import { rowsAfterStates } from '../task-states.js';
import { lostWorkflows, withLeft, withoutLost } from '../coordination.js';
import { deriveInMemory, statusesBefore, storedDerived } from '../workflow-derivation.js';
import { ScheduleLog } from '../../schedules/schedule-log.js';

const COMMAND_TYPES: readonly string[] = ['PAUSE', 'RESUME', 'CANCEL'];

/** The CHECK constraints of the SQL stores' `control_commands`. */
function checkCommand(command: ControlCommand): void {
  if (!COMMAND_TYPES.includes(command.type)) {
    throw new InvalidArgumentError(
      `Expected \`command.type\` to be one of ${COMMAND_TYPES.join(', ')}, got ${JSON.stringify(command.type)} (control command ${JSON.stringify(command.id)})`,
    );
  }
  if (command.workflowId === null && command.taskId === null) {
    throw new InvalidArgumentError(
      `Expected a workflowId or a taskId in control command ${JSON.stringify(command.id)}, got neither`,
    );
  }
}

/**
 * Keeps everything in process memory; nothing survives the process. Checks the same constraints as
 * the SQL stores (status values, unique idempotency keys) and applies a batch all or none.
 */
export class MemoryStore extends InProcessRecords implements Store {
  readonly kind = 'memory' as const;
  readonly tasks = new MemoryRepository<Task>('task', taskSpec);
  readonly workflows = new MemoryRepository<Workflow>('workflow', workflowSpec);
  readonly agentConfigs = new MemoryRepository<AgentConfig>('agent config', agentConfigSpec);
  readonly schedules = new ScheduleLog((id) => this.workflows.peek(id)?.status);

  /**
   * @param options.clock Stamps engine beats and judges them alive, as a database server's clock does
   * for the SQL stores; tests that simulate time pass their clock. @default the system clock
   * @param options.maxEvents The most stored events kept (the oldest go first): an engine in memory
   * has no control polls, which prune the SQL stores. @default 100000
   */
  constructor(options: { clock?: StoreClock; maxEvents?: number } = {}) {
    super(options.clock, options.maxEvents);
    this.bucketClock = options.clock ?? { now: () => Date.now() };
  }

  private readonly bucketClock: StoreClock;
  private readonly buckets = new Map<string, RateBucketState>();

  protected override rateBucket(id: string): RateBucketState | undefined {
    return this.buckets.get(id);
  }

  /** See `Store.takeRateTokens`: the law applied to buckets in process memory. */
  async takeRateTokens(ops: readonly RateBucketOp[]): Promise<RateBucketGrant[]> {
    return ops.map((op) => {
      const { state, grant } = applyRateOp(this.buckets.get(op.key), op, op.at ?? this.bucketClock.now());
      this.buckets.set(op.key, state);
      return grant;
    });
  }

  /** See `Store.readRateBuckets`: copies of the buckets held in memory. */
  async readRateBuckets(keys: readonly string[]): Promise<RateBucketsRead> {
    const buckets: RateBucketsRead['buckets'] = [];
    for (const key of new Set(keys)) {
      const state = this.buckets.get(key);
      if (state) buckets.push({ key, tokens: state.tokens, updatedAt: state.updatedAt });
    }
    return { now: this.bucketClock.now(), buckets };
  }

  /** Task keys, and workflow keys under `workflow:` (their `taskId` is the holding workflow's id). */
  private readonly keys = new Map<string, { taskId: string; since: number }>();

  /** See `Store.takeTaskKey`: the law applied with no await between reading and writing. */
  async takeTaskKey(request: TaskKeyRequest): Promise<TaskKeyOutcome> {
    const stored = this.keys.get(request.key);
    const task = stored === undefined ? undefined : this.tasks.peek(stored.taskId);
    const holder =
      stored === undefined
        ? null
        : {
            ...stored,
            status: task?.status ?? null,
            attempts: task?.attempts ?? 0,
            leaseOwner: task?.leaseOwner ?? null,
          };
    const outcome = decideTaskKey(holder, request);
    if (outcome.taken) this.keys.set(request.key, { taskId: request.taskId, since: outcome.since });
    return outcome;
  }

  async taskKeyHolder(key: string): Promise<string | null> {
    return this.keys.get(key)?.taskId ?? null;
  }

  /** See `Store.takeWorkflowKey`: as `takeTaskKey`, the workflow and its tasks read in the same step. */
  async takeWorkflowKey(request: WorkflowKeyRequest): Promise<TaskKeyOutcome> {
    const key = WORKFLOW_KEY_PREFIX + request.key;
    const stored = this.keys.get(key);
    let holder = null;
    if (stored !== undefined) {
      const workflow = this.workflows.peek(stored.taskId);
      const tasks = this.tasks.rowsWhere((task) => task.workflowId === stored.taskId);
      holder = {
        workflowId: stored.taskId,
        since: stored.since,
        status: workflow?.status ?? null,
        cancelled: workflow?.cancelled ?? false,
        started: hasStarted(tasks),
      };
    }
    const outcome = decideWorkflowKey(holder, request);
    if (outcome.taken) this.keys.set(key, { taskId: request.workflowId, since: outcome.since });
    return outcome;
  }

  async workflowKeyHolder(key: string): Promise<string | null> {
    return this.keys.get(WORKFLOW_KEY_PREFIX + key)?.taskId ?? null;
  }

  async commit(coordinated: StoreBatch): Promise<CommitResult | void> {
    // Nothing awaits below: the runs' coordinators cannot change between the check and the writes.
    const lost = lostWorkflows(coordinated.coordination, (id) => this.coordinatorOf(id));
    const { batch, left } = withoutLost(coordinated, lost);
    const { rows: states, fenced: refused } = rowsAfterStates(
      batch.taskStates ?? [],
      (id) => this.tasks.peek(id),
      batch.fences,
    );
    const writes = [
      batch.tasks?.length ? this.tasks.prepareSave(batch.tasks) : undefined,
      states.length ? this.tasks.prepareSave(states) : undefined,
      batch.workflows?.length ? this.workflows.prepareSave(batch.workflows) : undefined,
      batch.agentConfigs?.length ? this.agentConfigs.prepareSave(batch.agentConfigs) : undefined,
    ];
    const fenced = withLeft(refused, left);
    for (const command of batch.commands ?? []) checkCommand(command);
    const signals = this.prepareSignals(batch);
    const events = this.prepareEvents(batch);
    const before = statusesBefore(batch.deriveWorkflows, (id) => this.workflows.peek(id)?.status);
    for (const write of writes) write?.();
    const derived = deriveInMemory(
      batch.deriveWorkflows,
      (id) => this.workflows.peek(id),
      (workflowId) => this.tasks.rowsWhere((task) => task.workflowId === workflowId),
      before,
    );
    if (derived.rows.length) this.workflows.prepareSave(derived.rows)();
    this.keepRecords(batch, (id) => this.tasks.peek(id)?.status === 'COMPLETED');
    signals();
    events(fenced);
    const stored = storedDerived(batch.deriveWorkflows, derived.events);
    if (stored.length) this.prepareEvents({ events: stored })([]);
    const result: CommitResult = derived.events.length ? { fenced, derived: derived.events } : { fenced };
    if (lost.size > 0) result.lost = [...lost];
    return result;
  }
}
