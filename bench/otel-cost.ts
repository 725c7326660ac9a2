/**
 * What OpenTelemetry instrumentation costs per task: N no-op tasks created and run through
 * `batchExecute` (concurrency 100) on the memory store, in three modes taking turns, each round on
 * a fresh registry:
 * - `none`: no listener (the engine builds no event);
 * - `events`: an empty listener on each event the instrumentation listens to (the events' own cost);
 * - `api`: `instrumentOpenTelemetry` with no SDK registered (the API's no-op meter and tracer);
 * - `sdk`: the OTel SDK with in-memory exporters (a MeterProvider read by a PeriodicExportingMetricReader
 *   around an InMemoryMetricExporter, collected once per round; a BasicTracerProvider with a
 *   SimpleSpanProcessor into an InMemorySpanExporter, emptied after each round).
 * Prints the median per-task wall time and CPU time (user + system, of this process: steadier than
 * wall time on a busy machine) of each mode, and the differences.
 *
 * Run: npx tsx bench/otel-cost.ts [tasks=20000] [rounds=5]
 * (pinned flags as bench/run.ts: node --import tsx --max-semi-space-size=32 bench/otel-cost.ts)
 */
import { cpus, loadavg } from 'node:os';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { SYMPHONY_EVENT_NAMES, ServiceRegistry, instrumentOpenTelemetry, type Agent } from '../src/index.js';

type Mode = 'none' | 'events' | 'api' | 'sdk';

const tasks = Number(process.argv[2] ?? 20_000);
const rounds = Number(process.argv[3] ?? 5);
const agent: Agent = { id: 'noop', execute: () => Promise.resolve(null) };

async function round(mode: Mode): Promise<{ usPerTask: number; cpuPerTask: number; spans: number }> {
  const registry = new ServiceRegistry({ store: ':memory:', controlPollMs: 0 });
  let finish = async () => 0;
  if (mode === 'events') {
    const offs = SYMPHONY_EVENT_NAMES.filter((name) => name !== 'task.paused').map((name) =>
      registry.on(name, () => {}),
    );
    finish = async () => (offs.forEach((off) => off()), 0);
  } else if (mode === 'api') {
    const handle = instrumentOpenTelemetry(registry);
    finish = async () => (handle.stop(), 0);
  } else if (mode === 'sdk') {
    const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({
      exporter: metricExporter,
      exportIntervalMillis: 3_600_000,
    });
    const meterProvider = new MeterProvider({ readers: [reader] });
    const spanExporter = new InMemorySpanExporter();
    const tracerProvider = new BasicTracerProvider({
      spanProcessors: [new SimpleSpanProcessor(spanExporter)],
    });
    const handle = instrumentOpenTelemetry(registry, { meterProvider, tracerProvider });
    finish = async () => {
      await reader.forceFlush(); // one export of every metric, inside the timed window
      handle.stop();
      const spans = spanExporter.getFinishedSpans().length;
      spanExporter.reset();
      await meterProvider.shutdown();
      return spans;
    };
  }
  await registry.start();
  const manager = registry.getTaskManager();
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  const ids: string[] = [];
  for (let start = 0; start < tasks; start += 1_000) {
    const chunk = [];
    for (let i = start; i < Math.min(tasks, start + 1_000); i += 1)
      chunk.push(manager.createTask({ name: `t${i}` }));
    for (const task of await Promise.all(chunk)) ids.push(task.id);
  }
  const results = await registry.getEnhancedExecutor().batchExecute(
    ids.map((id) => [id, agent]),
    { maxConcurrent: 100 },
  );
  const spans = await finish();
  const elapsed = Number(process.hrtime.bigint() - started) / 1_000;
  const used = process.cpuUsage(cpu);
  if (results.some((result) => result.status !== 'COMPLETED')) throw new Error('a task did not complete');
  await registry.stop();
  return { usPerTask: elapsed / tasks, cpuPerTask: (used.user + used.system) / tasks, spans };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const modes: Mode[] = ['none', 'events', 'api', 'sdk'];
const times: Record<Mode, number[]> = { none: [], events: [], api: [], sdk: [] };
const cpuTimes: Record<Mode, number[]> = { none: [], events: [], api: [], sdk: [] };
let spansPerRound = 0;
await round('none'); // warm-up, not counted
for (let r = 0; r < rounds; r += 1) {
  for (const mode of r % 2 === 0 ? modes : [...modes].reverse()) {
    const { usPerTask, cpuPerTask, spans } = await round(mode);
    times[mode].push(usPerTask);
    cpuTimes[mode].push(cpuPerTask);
    if (mode === 'sdk') spansPerRound = spans;
  }
}
console.log(
  `${tasks} no-op tasks x ${rounds} rounds, memory store, concurrency 100; node ${process.version}, ` +
    `${cpus().length} cpus, load average ${loadavg()
      .map((n) => n.toFixed(2))
      .join(' ')}`,
);
const fixed = (values: number[]) => values.map((t) => t.toFixed(1)).join(', ');
for (const mode of modes) {
  console.log(
    `${mode.padEnd(6)} wall ${median(times[mode]).toFixed(2)} us/task (${fixed(times[mode])}); ` +
      `cpu ${median(cpuTimes[mode]).toFixed(2)} us/task (${fixed(cpuTimes[mode])})`,
  );
}
const diff = (record: Record<Mode, number[]>, mode: Mode) =>
  (median(record[mode]) - median(record.none)).toFixed(2);
console.log(
  `events - none: wall ${diff(times, 'events')}, cpu ${diff(cpuTimes, 'events')} us/task (empty listeners)`,
);
console.log(
  `api - none: wall ${diff(times, 'api')}, cpu ${diff(cpuTimes, 'api')} us/task (instrumented, no SDK)`,
);
console.log(
  `sdk - none: wall ${diff(times, 'sdk')}, cpu ${diff(cpuTimes, 'sdk')} us/task ` +
    `(SDK with in-memory exporters, ${spansPerRound} spans a round)`,
);
