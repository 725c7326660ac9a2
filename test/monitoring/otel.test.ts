import { metrics, SpanStatusCode, trace, type Attributes } from '@opentelemetry/api';
import { DataPointType, type MetricData } from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { onDemandMetrics } from '../support/otel-metrics.js';
import { instrumentOpenTelemetry, type Logger } from '../../src/index.js';
import {
  advance,
  createTestRegistry,
  flushEngine,
  manualAgent,
  recordingAgent,
  succeedingAgent,
  type TestRegistry,
} from '../../src/testing/index.js';

function telemetry() {
  const { meterProvider, collect } = onDemandMetrics();
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

  return { meterProvider, tracerProvider, exporter, collect };
}

/** The values of a sum or gauge, each with its attributes as a sorted `key=value` list. */
function points(metric: MetricData | undefined): Array<[string, number]> {
  if (metric === undefined) return [];
  expect(metric.dataPointType).not.toBe(DataPointType.HISTOGRAM);
  return metric.dataPoints
    .map((p): [string, number] => [label(p.attributes), p.value as number])
    .sort(([a], [b]) => a.localeCompare(b));
}

/** The recorded values of a histogram per attribute set: count, sum, min, max. */
function histogram(metric: MetricData | undefined): Record<string, [number, number, number, number]> {
  const out: Record<string, [number, number, number, number]> = {};
  for (const p of metric?.dataPoints ?? []) {
    const value = p.value as { count: number; sum: number; min: number; max: number };
    out[label(p.attributes)] = [value.count, value.sum, value.min, value.max];
  }
  return out;
}

const label = (attributes: Attributes) =>
  Object.entries(attributes)
    .map(([k, v]) => `${k}=${String(v)}`)
    .sort()
    .join(',');

const ms = (time: [number, number]) => time[0] * 1_000 + time[1] / 1e6;

const RETRY = { maxAttempts: 2, initialDelayMs: 100, jitter: 0 };

/**
 * A workflow of two tasks on the agent `writer`, each attempt taking 50 ms of the simulated clock:
 * `flaky` fails its first attempt (reporting 10 + 2 tokens) and completes on its retry (40 + 9
 * tokens of `model-x`); `broken` fails both its attempts. Tasks are created at 1000 and run at 1010.
 */
async function runFlakyAndBroken(kit: TestRegistry) {
  const writer = recordingAgent(
    'writer',
    (task, context) =>
      new Promise((resolve, reject) => {
        kit.clock.setTimeout(() => {
          if (task.name === 'broken' || context.attempt === 1) {
            context.metadata['usage'] = { inputTokens: 10, outputTokens: 2, totalTokens: 12 };
            reject(
              Object.assign(new Error(`${task.name} attempt ${context.attempt} failed`), { code: 'E_MODEL' }),
            );
          } else {
            resolve({
              text: 'ok',
              usage: { inputTokens: 40, outputTokens: 9, totalTokens: 49 },
              modelId: 'model-x',
            });
          }
        }, 50);
      }),
  );
  const workflow = await kit.workflowTracker.createWorkflow({ name: 'report', description: '' });
  const flaky = await kit.taskManager.createTask({ name: 'flaky', workflowId: workflow.id });
  const broken = await kit.taskManager.createTask({ name: 'broken', workflowId: workflow.id });
  await advance(kit.clock, 10);
  const done = kit.executor.batchExecute(
    [
      [flaky.id, writer],
      [broken.id, writer],
    ],
    { workflowId: workflow.id },
  );
  await advance(kit.clock, 1_000);
  const results = await done;
  expect(results.map((result) => result.status)).toEqual(['COMPLETED', 'FAILED']);
  return { workflow, flaky, broken };
}

const kits: TestRegistry[] = [];
function registry(options: Parameters<typeof createTestRegistry>[0] = {}): TestRegistry {
  const kit = createTestRegistry({ start: 1_000, retry: RETRY, ...options });
  kits.push(kit);
  return kit;
}

afterEach(async () => {
  for (const kit of kits.splice(0)) await kit.stop();
});

describe('instrumentOpenTelemetry: metrics', () => {
  it('counts attempts, failures, completions, durations, queue waits, tokens and cost of a run with retries and a failure', async () => {
    const otel = telemetry();
    const kit = registry();
    instrumentOpenTelemetry(kit.registry, {
      meterProvider: otel.meterProvider,
      prices: {
        'model-x': { inputPerMTok: 1_000, outputPerMTok: 2_000 },
        '*': { inputPerMTok: 100, outputPerMTok: 100 },
      },
    });
    await runFlakyAndBroken(kit);
    const m = await otel.collect();
    const agent = 'symphony.agent.id=writer';
    expect(points(m.get('symphony.attempt.started'))).toEqual([[agent, 4]]);
    expect(points(m.get('symphony.attempt.failed'))).toEqual([
      [`error.type=E_MODEL,${agent},symphony.attempt.will_retry=false`, 1],
      [`error.type=E_MODEL,${agent},symphony.attempt.will_retry=true`, 2],
    ]);
    expect(points(m.get('symphony.task.completed'))).toEqual([[agent, 1]]);
    expect(points(m.get('symphony.task.failed'))).toEqual([[`error.type=E_MODEL,${agent}`, 1]]);
    // Every attempt took 50 ms of the simulated clock.
    expect(histogram(m.get('symphony.attempt.duration'))).toEqual({
      [`${agent},symphony.attempt.outcome=failure`]: [3, 150, 50, 50],
      [`${agent},symphony.attempt.outcome=success`]: [1, 50, 50, 50],
    });
    // First attempts waited 10 ms from creation; retries started when due (retryAt).
    expect(histogram(m.get('symphony.task.queue_wait'))).toEqual({ [agent]: [4, 20, 0, 10] });
    expect(points(m.get('symphony.tokens'))).toEqual([
      [`gen_ai.token.type=input,${agent}`, 3 * 10 + 40],
      [`gen_ai.token.type=output,${agent}`, 3 * 2 + 9],
    ]);
    // Failed attempts name no model: the '*' price; the success is priced as model-x.
    const cost = points(m.get('symphony.cost'));
    expect(cost).toHaveLength(1);
    expect(cost[0]![1]).toBeCloseTo((3 * 12 * 100 + 40 * 1_000 + 9 * 2_000) / 1e6, 12);
    expect(m.get('symphony.attempt.duration')!.descriptor.unit).toBe('ms');
    expect(m.get('symphony.cost')!.descriptor.unit).toBe('USD');
  });

  it("prices tokens with the registry's own prices when none are given", async () => {
    const otel = telemetry();
    const kit = registry({ prices: { '*': { inputPerMTok: 1_000_000, outputPerMTok: 0 } } });
    instrumentOpenTelemetry(kit.registry, { meterProvider: otel.meterProvider });
    const task = await kit.taskManager.createTask({ name: 'priced' });
    const output = { usage: { inputTokens: 3, outputTokens: 5, totalTokens: 8 }, modelId: 'm' };
    await kit.executor.executeTask(task.id, succeedingAgent('p', output));
    expect(points((await otel.collect()).get('symphony.cost'))).toEqual([['symphony.agent.id=p', 3]]);
  });

  it('observes queued and in-flight executions per agent from the running engine', async () => {
    const otel = telemetry();
    const kit = registry();
    instrumentOpenTelemetry(kit.registry, { meterProvider: otel.meterProvider });
    // Nothing ran yet: the engine is not read (nor started) by a collection.
    expect(points((await otel.collect()).get('symphony.agent.queued'))).toEqual([]);
    const agent = manualAgent('slow', { maxConcurrency: 1 });
    const tasks = await Promise.all([0, 1, 2].map((i) => kit.taskManager.createTask({ name: `t${i}` })));
    const done = kit.executor.batchExecute(tasks.map((task) => [task.id, agent]));
    await flushEngine();
    let m = await otel.collect();
    expect(points(m.get('symphony.agent.in_flight'))).toEqual([['symphony.agent.id=slow', 1]]);
    expect(points(m.get('symphony.agent.queued'))).toEqual([['symphony.agent.id=slow', 2]]);
    for (let i = 0; i < 3; i += 1) {
      agent.resolveNext({ ok: i });
      await flushEngine();
    }
    await done;
    m = await otel.collect();
    expect(points(m.get('symphony.agent.in_flight'))).toEqual([['symphony.agent.id=slow', 0]]);
    expect(points(m.get('symphony.agent.queued'))).toEqual([['symphony.agent.id=slow', 0]]);
  });
});

describe('instrumentOpenTelemetry: traces', () => {
  it('nests workflow > task > attempt spans timed by the engine clock, with ERROR and the exception on failed attempts', async () => {
    const otel = telemetry();
    const kit = registry();
    instrumentOpenTelemetry(kit.registry, { tracerProvider: otel.tracerProvider });
    const { workflow, flaky, broken } = await runFlakyAndBroken(kit);
    const spans = otel.exporter.getFinishedSpans();
    const byName = (name: string) => spans.filter((span) => span.name === name);
    const [wf] = byName('workflow report');
    expect(wf).toBeDefined();
    expect(wf!.parentSpanContext).toBeUndefined();
    expect(wf!.attributes).toMatchObject({
      'symphony.workflow.id': workflow.id,
      'symphony.workflow.status': 'FAILED',
    });
    expect(wf!.status.code).toBe(SpanStatusCode.ERROR);
    const timing = (span: ReadableSpan) => [ms(span.startTime), ms(span.endTime)];
    // Created at 1000; attempts at 1010-1060, retries due at 1160, ending at 1210.
    expect(timing(wf!)).toEqual([1_000, 1_210]);

    const [flakySpan] = byName('task flaky');
    const [brokenSpan] = byName('task broken');
    for (const span of [flakySpan!, brokenSpan!]) {
      expect(span.parentSpanContext?.spanId).toBe(wf!.spanContext().spanId);
      expect(span.spanContext().traceId).toBe(wf!.spanContext().traceId);
      expect(timing(span)).toEqual([1_000, 1_210]);
    }
    expect(flakySpan!.attributes).toMatchObject({
      'symphony.task.id': flaky.id,
      'symphony.task.status': 'COMPLETED',
      'symphony.task.attempts': 2,
    });
    expect(flakySpan!.status.code).toBe(SpanStatusCode.UNSET);
    expect(brokenSpan!.attributes).toMatchObject({
      'symphony.task.id': broken.id,
      'symphony.task.status': 'FAILED',
    });
    expect(brokenSpan!.status).toEqual({ code: SpanStatusCode.ERROR, message: 'broken attempt 2 failed' });

    const attemptsOf = (parent: ReadableSpan) =>
      byName(`attempt ${parent.attributes['symphony.task.name'] as string}`)
        .filter((span) => span.parentSpanContext?.spanId === parent.spanContext().spanId)
        .sort((a, b) => ms(a.startTime) - ms(b.startTime));
    const flakyAttempts = attemptsOf(flakySpan!);
    expect(flakyAttempts.map(timing)).toEqual([
      [1_010, 1_060],
      [1_160, 1_210],
    ]);
    const [first, second] = flakyAttempts;
    expect(first!.status).toEqual({ code: SpanStatusCode.ERROR, message: 'flaky attempt 1 failed' });
    expect(first!.attributes).toMatchObject({
      'symphony.attempt': 1,
      'symphony.agent.id': 'writer',
      'symphony.attempt.outcome': 'failure',
      'symphony.attempt.will_retry': true,
      'error.type': 'E_MODEL',
      'gen_ai.usage.input_tokens': 10,
    });
    const [exception] = first!.events;
    expect(exception!.name).toBe('exception');
    expect(ms(exception!.time)).toBe(1_060);
    expect(exception!.attributes).toMatchObject({
      'exception.type': 'E_MODEL',
      'exception.message': 'flaky attempt 1 failed',
    });
    expect(second!.status.code).toBe(SpanStatusCode.UNSET);
    expect(second!.attributes).toMatchObject({
      'symphony.attempt': 2,
      'symphony.attempt.outcome': 'success',
      'gen_ai.usage.output_tokens': 9,
      'gen_ai.response.model': 'model-x',
    });
    const brokenAttempts = attemptsOf(brokenSpan!);
    expect(brokenAttempts.map((span) => span.status.code)).toEqual([
      SpanStatusCode.ERROR,
      SpanStatusCode.ERROR,
    ]);
    expect(spans).toHaveLength(1 + 2 + 4);
  });

  it('makes a root task span for a task outside any workflow', async () => {
    const otel = telemetry();
    const kit = registry();
    instrumentOpenTelemetry(kit.registry, { tracerProvider: otel.tracerProvider });
    const task = await kit.taskManager.createTask({ name: 'alone' });
    await kit.executor.executeTask(task.id, succeedingAgent('a'));
    const [attempt, taskSpan] = otel.exporter.getFinishedSpans();
    expect(taskSpan!.name).toBe('task alone');
    expect(taskSpan!.parentSpanContext).toBeUndefined();
    expect(attempt!.parentSpanContext?.spanId).toBe(taskSpan!.spanContext().spanId);
  });
});

describe('instrumentOpenTelemetry: lifecycle', () => {
  it('logs an instrument that throws, and the engine goes on', async () => {
    const warnings: string[] = [];
    const logger: Logger = {
      error: () => {},
      warn: (_fields, message) => warnings.push(message),
      info: () => {},
      debug: () => {},
    };
    const otel = telemetry();
    const kit = registry({ logger });
    const meter = otel.meterProvider.getMeter('broken');
    const throwing = {
      getMeter: () =>
        new Proxy(meter, {
          get: (target, key) =>
            key === 'createCounter'
              ? () => ({
                  add: () => {
                    throw new Error('exporter bug');
                  },
                })
              : Reflect.get(target, key),
        }),
    };
    instrumentOpenTelemetry(kit.registry, { meterProvider: throwing });
    const task = await kit.taskManager.createTask({ name: 'first' });
    expect((await kit.executor.executeTask(task.id, succeedingAgent('a'))).status).toBe('COMPLETED');
    // task.started and task.completed each count: both listeners threw.
    expect(warnings.filter((message) => message.includes('listener threw'))).toHaveLength(2);
  });

  it('stop() detaches: open spans are dropped and later events recorded nowhere', async () => {
    const otel = telemetry();
    const kit = registry();
    const handle = instrumentOpenTelemetry(kit.registry, {
      meterProvider: otel.meterProvider,
      tracerProvider: otel.tracerProvider,
    });
    const first = await kit.taskManager.createTask({ name: 'first' });
    await kit.executor.executeTask(first.id, succeedingAgent('a'));
    const hanging = manualAgent('h');
    const open = await kit.taskManager.createTask({ name: 'open' });
    const running = kit.executor.executeTask(open.id, hanging);
    await flushEngine();
    handle.stop();
    handle.stop();
    hanging.resolveNext('late');
    expect((await running).status).toBe('COMPLETED');
    const later = await kit.taskManager.createTask({ name: 'later' });
    await kit.executor.executeTask(later.id, succeedingAgent('a'));
    // Only the first task's spans: the open one was dropped, the later one never seen.
    expect(otel.exporter.getFinishedSpans().map((span) => span.name)).toEqual([
      'attempt first',
      'task first',
    ]);
    const m = await otel.collect();
    expect(points(m.get('symphony.task.completed'))).toEqual([['symphony.agent.id=a', 1]]);
    expect(points(m.get('symphony.attempt.started'))).toEqual([
      ['symphony.agent.id=a', 1],
      ['symphony.agent.id=h', 1],
    ]);
    // The gauges' callback is gone too.
    expect(m.get('symphony.agent.in_flight')?.dataPoints ?? []).toEqual([]);
  });

  it('forgets the oldest tasks past maxTracked: their open spans are never exported', async () => {
    const otel = telemetry();
    const kit = registry();
    instrumentOpenTelemetry(kit.registry, { tracerProvider: otel.tracerProvider, maxTracked: 1 });
    const agent = manualAgent('m');
    const a = await kit.taskManager.createTask({ name: 'a' });
    const b = await kit.taskManager.createTask({ name: 'b' });
    const done = kit.executor.batchExecute([
      [a.id, agent],
      [b.id, agent],
    ]);
    await flushEngine();
    agent.resolveNext(1);
    agent.resolveNext(2);
    await done;
    const names = otel.exporter.getFinishedSpans().map((span) => span.name);
    // `a` was forgotten when `b` was followed: its end makes a bare task span, its attempt is lost.
    expect(names.filter((name) => name === 'attempt a')).toEqual([]);
    expect(names).toContain('attempt b');
    expect(() => instrumentOpenTelemetry(kit.registry, { maxTracked: 0 })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
  });

  it('uses the global meter and tracer providers when none is given', async () => {
    const otel = telemetry();
    metrics.setGlobalMeterProvider(otel.meterProvider);
    trace.setGlobalTracerProvider(otel.tracerProvider);
    try {
      const kit = registry();
      const handle = instrumentOpenTelemetry(kit.registry);
      const task = await kit.taskManager.createTask({ name: 'global' });
      await kit.executor.executeTask(task.id, succeedingAgent('g'));
      expect(points((await otel.collect()).get('symphony.task.completed'))).toEqual([
        ['symphony.agent.id=g', 1],
      ]);
      expect(otel.exporter.getFinishedSpans().map((span) => span.name)).toEqual([
        'attempt global',
        'task global',
      ]);
      handle.stop();
    } finally {
      metrics.disable();
      trace.disable();
    }
  });
});
