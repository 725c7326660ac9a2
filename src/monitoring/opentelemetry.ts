import { createRequire } from 'node:module';
import type * as OpenTelemetryApi from '@opentelemetry/api';
import type {
  Attributes,
  BatchObservableResult,
  Counter,
  HrTime,
  Histogram,
  Meter,
  MeterProvider,
  Span,
  Tracer,
  TracerProvider,
} from '@opentelemetry/api';
import { usageOf, type TokenUsage } from '../ai/usage.js';
import type { AttemptError } from '../domain/task.js';
import { costOf, parsePrices, priceFor, type PriceTable } from '../engine/budgets.js';
import type { SymphonyEventName, SymphonyEvents } from '../engine/engine-events.js';
import { InvalidArgumentError } from '../errors/errors.js';
import type { LoadSnapshot } from '../routing/types.js';

let loaded: typeof OpenTelemetryApi | null = null;

/**
 * `@opentelemetry/api`, loaded on first use (a CommonJS package): importing `symphony-engine` does
 * not pay for it (about 25 ms measured), only a program that instruments does.
 */
function api(): typeof OpenTelemetryApi {
  loaded ??= createRequire(import.meta.url)('@opentelemetry/api') as typeof OpenTelemetryApi;
  return loaded;
}

/** What `instrumentOpenTelemetry` needs of a registry: its events and its live load. */
export interface InstrumentedEngine {
  on<K extends SymphonyEventName>(name: K, listener: (event: SymphonyEvents[K]) => void): () => void;
  getTaskRouter(): { getLoad(options?: { cluster?: boolean }): Promise<LoadSnapshot> };
  /** The engine's resolved options: its `prices` price `symphony.cost` unless `prices` is given. */
  readonly options?: { prices?: PriceTable };
}

export interface OpenTelemetryOptions {
  /** Where the metrics go. @default the global one (`metrics.getMeterProvider()` of `@opentelemetry/api`) */
  meterProvider?: MeterProvider;
  /** Where the spans go. @default the global one (`trace.getTracerProvider()` of `@opentelemetry/api`) */
  tracerProvider?: TracerProvider;
  /** Prices for `symphony.cost` (see `PriceTable`). @default the engine's `prices` option */
  prices?: PriceTable;
  /**
   * Tasks and workflows followed at once (open spans, attempt starts, queue waits); past that the
   * oldest is forgotten, its open spans never ended (so never exported). @default 100_000
   */
  maxTracked?: number;
}

/** A running instrumentation: `stop()` detaches it from the engine. */
export interface OpenTelemetryHandle {
  /** Stops listening and observing; open spans are dropped, not ended. Calling it again does nothing. */
  stop(): void;
}

/** Attribute names (OpenTelemetry semantic style: `error.type` and `gen_ai.*` are the conventions'). */
const AGENT = 'symphony.agent.id';
const ERROR_TYPE = 'error.type';
const WILL_RETRY = 'symphony.attempt.will_retry';
const OUTCOME = 'symphony.attempt.outcome';
const TOKEN_TYPE = 'gen_ai.token.type';
const RATE_GATE = 'symphony.rate_limit.gate';
const RATE_KIND = 'symphony.rate_limit.kind';

/** Buckets for times of AI-agent work, from a millisecond to ten minutes. */
const DURATION_BUCKETS_MS = [
  1, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 120_000, 300_000, 600_000,
];

const TERMINAL_WORKFLOW = new Set(['COMPLETED', 'FAILED', 'CANCELLED']);

interface Instruments {
  attemptsStarted: Counter;
  attemptsFailed: Counter;
  tasksCompleted: Counter;
  tasksFailed: Counter;
  attemptDuration: Histogram;
  queueWait: Histogram;
  tokens: Counter;
  cost: Counter;
  rateWait: Histogram;
  rateDeferred: Counter;
}

function createInstruments(meter: Meter): Instruments {
  const counter = (name: string, unit: string, description: string) =>
    meter.createCounter(name, { unit, description, valueType: api().ValueType.INT });
  const histogram = (name: string, description: string) =>
    meter.createHistogram(name, {
      unit: 'ms',
      description,
      valueType: api().ValueType.DOUBLE,
      advice: { explicitBucketBoundaries: DURATION_BUCKETS_MS },
    });
  return {
    attemptsStarted: counter('symphony.attempt.started', '{attempt}', 'Attempts started'),
    attemptsFailed: counter('symphony.attempt.failed', '{attempt}', 'Attempts that failed'),
    tasksCompleted: counter('symphony.task.completed', '{task}', 'Tasks that ended COMPLETED'),
    tasksFailed: counter('symphony.task.failed', '{task}', 'Tasks that ended FAILED'),
    attemptDuration: histogram('symphony.attempt.duration', 'From the start of an attempt to its end'),
    queueWait: histogram(
      'symphony.task.queue_wait',
      'From a task being created or made runnable again (retry due, resumed, retried) to its attempt starting',
    ),
    tokens: counter('symphony.tokens', '{token}', 'Tokens the attempts reported'),
    rateWait: histogram('symphony.rate_limit.wait', 'How long a start waited at a rate limit for its token'),
    rateDeferred: counter('symphony.rate_limit.deferred', '{start}', 'Starts a rate limit held back'),
    cost: meter.createCounter('symphony.cost', {
      unit: 'USD',
      description: 'Cost of the tokens, priced by the `prices` table',
      valueType: api().ValueType.DOUBLE,
    }),
  };
}

/** What is followed of one task: its open spans, its attempt's start, when it became runnable. */
interface Followed {
  task: Span | null;
  attempt: Span | null;
  attemptStart: number | null;
  readyAt: number | null;
}

/** A workflow's span, open or (kept so that late task spans still find their parent) ended. */
interface FollowedWorkflow {
  span: Span;
  open: boolean;
}

/**
 * Exports an engine's work to OpenTelemetry, through `@opentelemetry/api` only: counters, histograms
 * and gauges of attempts, tasks, queues and tokens, and a span per workflow, task and attempt
 * (workflow > task > attempt), timed by the engine's clock. It listens to the engine's events
 * (docs/monitoring.md, "OpenTelemetry"); with no OpenTelemetry SDK registered the API's no-op
 * meter and tracer make it cost little more than the events themselves.
 * @example
 * const otel = instrumentOpenTelemetry(registry, { meterProvider, tracerProvider });
 * // ...
 * otel.stop();
 */
export function instrumentOpenTelemetry(
  engine: InstrumentedEngine,
  options: OpenTelemetryOptions = {},
): OpenTelemetryHandle {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError(`Expected \`options\` to be an object, got ${String(options)}`);
  }
  const maxTracked = options.maxTracked ?? 100_000;
  if (!Number.isInteger(maxTracked) || maxTracked < 1) {
    throw new InvalidArgumentError(
      `Expected \`maxTracked\` to be an integer >= 1, got ${String(options.maxTracked)}`,
    );
  }
  const table = options.prices ?? engine.options?.prices;
  const prices = table === undefined || Object.keys(table).length === 0 ? null : parsePrices(table);
  const meter = (options.meterProvider ?? api().metrics.getMeterProvider()).getMeter('symphony-engine');
  const tracer = (options.tracerProvider ?? api().trace.getTracerProvider()).getTracer('symphony-engine');
  const follower = new Follower(createInstruments(meter), tracer, prices, maxTracked);

  const queued = meter.createObservableGauge('symphony.agent.queued', {
    unit: '{task}',
    description: "Executions assigned to an agent and waiting to start, in this engine's queues",
    valueType: api().ValueType.INT,
  });
  const inFlight = meter.createObservableGauge('symphony.agent.in_flight', {
    unit: '{attempt}',
    description: 'Attempts of an agent running in this engine',
    valueType: api().ValueType.INT,
  });
  const observe = async (result: BatchObservableResult) => {
    // The load lives in the running engine: read it only once it has published (it runs).
    if (!follower.engineSeen) return;
    let load: LoadSnapshot;
    try {
      load = await engine.getTaskRouter().getLoad({ cluster: false });
    } catch {
      return; // the engine stopped
    }
    for (const [agentId, entry] of load) {
      result.observe(queued, entry.queued, { [AGENT]: agentId });
      result.observe(inFlight, entry.inFlight, { [AGENT]: agentId });
    }
  };
  meter.addBatchObservableCallback(observe, [queued, inFlight]);

  const offs = [
    engine.on('task.created', (e) => follower.ready(e.taskId, e.at)),
    engine.on('task.resumed', (e) => follower.ready(e.taskId, e.at)),
    engine.on('task.retried', (e) => follower.ready(e.taskId, e.at)),
    engine.on('task.started', (e) => follower.started(e)),
    engine.on('task.attemptFailed', (e) => follower.attemptFailed(e)),
    engine.on('task.completed', (e) => follower.completed(e)),
    engine.on('task.failed', (e) => follower.failed(e)),
    engine.on('task.cancelled', (e) => follower.ended(e, 'CANCELLED')),
    engine.on('task.skipped', (e) => follower.ended(e, 'SKIPPED')),
    engine.on('workflow.status', (e) => follower.workflowStatus(e)),
  ];
  let stopped = false;
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      for (const off of offs) off();
      meter.removeBatchObservableCallback(observe, [queued, inFlight]);
      follower.clear();
    },
  };
}

type TaskEvent = SymphonyEvents['task.created'];

interface AgentAttributes {
  agent: Attributes;
  success: Attributes;
  failure: Attributes;
}

class Follower {
  engineSeen = false;
  private readonly tasks = new Map<string, Followed>();
  private readonly workflows = new Map<string, FollowedWorkflow>();
  private readonly byAgent = new Map<string, AgentAttributes>();

  constructor(
    private readonly m: Instruments,
    private readonly tracer: Tracer,
    private readonly prices: PriceTable | null,
    private readonly maxTracked: number,
  ) {}

  ready(taskId: string, at: number): void {
    this.engineSeen = true;
    this.follow(taskId).readyAt = at;
  }

  started(e: SymphonyEvents['task.started']): void {
    this.engineSeen = true;
    const agent = this.agentAttributes(e.agentId ?? 'unknown').agent;
    this.m.attemptsStarted.add(1, agent);
    if (e.rateWait !== null) this.rateWaited(e.agentId ?? 'unknown', e.rateWait);
    const followed = this.follow(e.taskId);
    if (followed.readyAt !== null) this.m.queueWait.record(Math.max(0, e.at - followed.readyAt), agent);
    const taskSpan = this.taskSpan(followed, e, followed.readyAt ?? e.at);
    followed.readyAt = null;
    followed.attempt?.end(hr(e.at)); // an attempt whose end this engine never told
    followed.attemptStart = e.at;
    followed.attempt = this.tracer.startSpan(
      `attempt ${e.name}`,
      {
        startTime: hr(e.at),
        attributes: {
          'symphony.task.id': e.taskId,
          'symphony.task.name': e.name,
          'symphony.attempt': e.attempt,
          [AGENT]: e.agentId ?? 'unknown',
        },
      },
      api().trace.setSpan(api().ROOT_CONTEXT, taskSpan),
    );
  }

  attemptFailed(e: SymphonyEvents['task.attemptFailed']): void {
    const agentId = e.agentId ?? e.error?.agentId ?? 'unknown';
    const errorType = errorTypeOf(e.error);
    this.m.attemptsFailed.add(1, { [AGENT]: agentId, [ERROR_TYPE]: errorType, [WILL_RETRY]: e.willRetry });
    const usage = usageOf(e.error?.usage);
    if (usage !== null) this.spend(usage, null, agentId);
    const followed = this.tasks.get(e.taskId);
    if (followed === undefined) {
      if (e.willRetry) this.ready(e.taskId, e.retryAt ?? e.at);
      return;
    }
    this.endAttempt(followed, e.at, agentId, 'failure', (span) => {
      span.setAttribute(ERROR_TYPE, errorType);
      span.setAttribute(WILL_RETRY, e.willRetry);
      if (usage !== null) setUsage(span, usage, null);
      recordError(span, e.error, e.at);
    });
    if (e.willRetry) followed.readyAt = e.retryAt ?? e.at;
  }

  completed(e: SymphonyEvents['task.completed']): void {
    const agentId = e.agentId ?? 'unknown';
    this.m.tasksCompleted.add(1, this.agentAttributes(agentId).agent);
    if (e.usage !== null) this.spend(e.usage, e.modelId, agentId);
    const followed = this.tasks.get(e.taskId);
    if (followed?.attempt) {
      this.endAttempt(followed, e.at, agentId, 'success', (span) => {
        if (e.usage !== null) setUsage(span, e.usage, e.modelId);
      });
    }
    this.endTask(e, 'COMPLETED', e.attempts, null);
  }

  private rateWaited(agentId: string, wait: NonNullable<SymphonyEvents['task.started']['rateWait']>): void {
    const attributes: Attributes = { [AGENT]: agentId, [RATE_GATE]: wait.gate };
    this.m.rateWait.record(wait.ms, attributes);
    if (wait.ms > 0) {
      this.m.rateDeferred.add(1, wait.kind === null ? attributes : { ...attributes, [RATE_KIND]: wait.kind });
    }
  }

  failed(e: SymphonyEvents['task.failed']): void {
    this.m.tasksFailed.add(1, { [AGENT]: e.agentId ?? 'unknown', [ERROR_TYPE]: errorTypeOf(e.error) });
    this.endTask(e, 'FAILED', e.attempts, e.error);
  }

  ended(e: TaskEvent, status: 'CANCELLED' | 'SKIPPED'): void {
    this.endTask(e, status, null, null);
  }

  workflowStatus(e: SymphonyEvents['workflow.status']): void {
    this.engineSeen = true;
    const terminal = TERMINAL_WORKFLOW.has(e.to);
    let followed = this.workflows.get(e.workflowId);
    if (followed === undefined || !followed.open) {
      if (terminal) return; // never seen running here: nothing to end
      followed = this.workflowSpan(e.workflowId, e.at, false);
    }
    followed.span.updateName(`workflow ${e.name}`);
    followed.span.setAttribute('symphony.workflow.name', e.name);
    if (!terminal) return;
    followed.span.setAttribute('symphony.workflow.status', e.to);
    if (e.to === 'FAILED')
      followed.span.setStatus({ code: api().SpanStatusCode.ERROR, message: 'workflow FAILED' });
    followed.span.end(hr(e.at));
    followed.open = false;
    // Kept, closed, for the spans of its tasks that end after it.
    this.workflows.delete(e.workflowId);
    this.workflows.set(e.workflowId, followed);
  }

  /** The attribute sets of an agent's hot-path records, made once (agents are few). */
  private agentAttributes(agentId: string): AgentAttributes {
    let attributes = this.byAgent.get(agentId);
    if (attributes === undefined) {
      if (this.byAgent.size >= 1_000) this.byAgent.clear();
      attributes = {
        agent: { [AGENT]: agentId },
        success: { [AGENT]: agentId, [OUTCOME]: 'success' },
        failure: { [AGENT]: agentId, [OUTCOME]: 'failure' },
      };
      this.byAgent.set(agentId, attributes);
    }
    return attributes;
  }

  /** Forgets everything followed; open spans are dropped. */
  clear(): void {
    this.tasks.clear();
    this.workflows.clear();
  }

  private spend(usage: TokenUsage, modelId: string | null, agentId: string): void {
    const agent = this.agentAttributes(agentId).agent;
    if (usage.inputTokens !== null) this.m.tokens.add(usage.inputTokens, { ...agent, [TOKEN_TYPE]: 'input' });
    if (usage.outputTokens !== null) {
      this.m.tokens.add(usage.outputTokens, { ...agent, [TOKEN_TYPE]: 'output' });
    }
    if (usage.inputTokens === null && usage.outputTokens === null && usage.totalTokens !== null) {
      this.m.tokens.add(usage.totalTokens, { ...agent, [TOKEN_TYPE]: 'total' });
    }
    if (this.prices === null) return;
    const price = priceFor(this.prices, modelId, agentId);
    if (price !== null) this.m.cost.add(costOf(usage, price), agent);
  }

  private endAttempt(
    followed: Followed,
    at: number,
    agentId: string,
    outcome: 'success' | 'failure' | 'cancelled',
    finish: (span: Span) => void = () => {},
  ): void {
    if (followed.attemptStart !== null && outcome !== 'cancelled') {
      this.m.attemptDuration.record(
        Math.max(0, at - followed.attemptStart),
        this.agentAttributes(agentId)[outcome],
      );
    }
    const span = followed.attempt;
    if (span !== null) {
      span.setAttribute(OUTCOME, outcome);
      finish(span);
      span.end(hr(at));
    }
    followed.attempt = null;
    followed.attemptStart = null;
  }

  private endTask(
    e: TaskEvent,
    status: 'COMPLETED' | 'FAILED' | 'CANCELLED' | 'SKIPPED',
    attempts: number | null,
    error: AttemptError | null,
  ): void {
    const followed = this.tasks.get(e.taskId) ?? {
      task: null,
      attempt: null,
      attemptStart: null,
      readyAt: null,
    };
    if (followed.attempt !== null) this.endAttempt(followed, e.at, 'unknown', 'cancelled');
    const span = this.taskSpan(followed, e, followed.readyAt ?? e.at, true);
    span.setAttribute('symphony.task.status', status);
    if (attempts !== null) span.setAttribute('symphony.task.attempts', attempts);
    if (status === 'FAILED') {
      if (error !== null) span.setAttribute(ERROR_TYPE, errorTypeOf(error));
      recordError(span, error, e.at);
    }
    span.end(hr(e.at));
    this.tasks.delete(e.taskId);
  }

  /**
   * The task's open span, or one started at `start` under its workflow's span (for a task ending,
   * the workflow's ended span will do: the workflow may have ended first).
   */
  private taskSpan(followed: Followed, e: TaskEvent, start: number, ending = false): Span {
    if (followed.task !== null) return followed.task;
    const attributes: Attributes = { 'symphony.task.id': e.taskId, 'symphony.task.name': e.name };
    let parent = api().ROOT_CONTEXT;
    if (e.workflowId !== null) {
      attributes['symphony.workflow.id'] = e.workflowId;
      parent = api().trace.setSpan(api().ROOT_CONTEXT, this.workflowSpan(e.workflowId, start, ending).span);
    }
    followed.task = this.tracer.startSpan(`task ${e.name}`, { startTime: hr(start), attributes }, parent);
    return followed.task;
  }

  /** The workflow's open span (or its ended one, if `ended` will do), else a new one started at `start`. */
  private workflowSpan(workflowId: string, start: number, ended: boolean): FollowedWorkflow {
    const known = this.workflows.get(workflowId);
    if (known !== undefined && (known.open || ended)) return known;
    const span = this.tracer.startSpan(
      'workflow',
      { startTime: hr(start), attributes: { 'symphony.workflow.id': workflowId } },
      api().ROOT_CONTEXT,
    );
    const followed = { span, open: true };
    this.workflows.delete(workflowId);
    this.workflows.set(workflowId, followed);
    this.bound(this.workflows);
    return followed;
  }

  private follow(taskId: string): Followed {
    let followed = this.tasks.get(taskId);
    if (followed === undefined) {
      followed = { task: null, attempt: null, attemptStart: null, readyAt: null };
      this.tasks.set(taskId, followed);
      this.bound(this.tasks);
    }
    return followed;
  }

  /** Forgets the oldest entries past `maxTracked` (their open spans are dropped). */
  private bound(map: Map<string, unknown>): void {
    while (map.size > this.maxTracked) map.delete(map.keys().next().value!);
  }
}

/**
 * Epoch ms of the engine's clock as OpenTelemetry's `[seconds, nanoseconds]`: a plain number below
 * the process's time origin would be read as `performance.now()` time (a simulated clock's is).
 */
function hr(ms: number): HrTime {
  const seconds = Math.floor(ms / 1_000);
  return [seconds, Math.round((ms - seconds * 1_000) * 1e6)];
}

function errorTypeOf(error: AttemptError | null): string {
  return error === null ? 'unknown' : (error.code ?? error.name);
}

function recordError(span: Span, error: AttemptError | null, at: number): void {
  if (error === null) {
    span.setStatus({ code: api().SpanStatusCode.ERROR });
    return;
  }
  span.recordException(
    {
      name: error.name,
      message: error.message,
      ...(error.code === undefined ? {} : { code: error.code }),
      ...(error.stack === undefined ? {} : { stack: error.stack }),
    },
    hr(at),
  );
  span.setStatus({ code: api().SpanStatusCode.ERROR, message: error.message });
}

function setUsage(span: Span, usage: TokenUsage, modelId: string | null): void {
  if (usage.inputTokens !== null) span.setAttribute('gen_ai.usage.input_tokens', usage.inputTokens);
  if (usage.outputTokens !== null) span.setAttribute('gen_ai.usage.output_tokens', usage.outputTokens);
  if (modelId !== null) span.setAttribute('gen_ai.response.model', modelId);
}
