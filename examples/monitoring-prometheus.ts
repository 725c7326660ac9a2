/**
 * The Prometheus example of docs/monitoring.md#opentelemetry: the OpenTelemetry SDK's MeterProvider
 * with the Prometheus exporter served on an ephemeral port, a small workflow (one task fails once
 * and is retried; the agent is rate limited), then a scrape of `/metrics`; prints the `symphony_` lines (histogram buckets
 * left out).
 *
 * Run: npx tsx examples/monitoring-prometheus.ts
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { ServiceRegistry, instrumentOpenTelemetry, type Agent } from '../src/index.js';

export async function main(log: (line: string) => void = console.log): Promise<string[]> {
  // The exporter is a metric reader; here it answers on a server of our own (port 0: any free one).
  const exporter = new PrometheusExporter({ preventServerStart: true });
  const meterProvider = new MeterProvider({ readers: [exporter] });
  const server = createServer((request, response) => exporter.getMetricsRequestHandler(request, response));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const registry = new ServiceRegistry({ store: ':memory:', retry: { maxAttempts: 2, initialDelayMs: 1 } });
  const otel = instrumentOpenTelemetry(registry, {
    meterProvider,
    prices: { '*': { inputPerMTok: 3, outputPerMTok: 15 } },
  });

  const failedOnce = new Set<string>();
  const writer: Agent = {
    id: 'writer',
    // Two starts per 100 ms: the third waits for a token (symphony_rate_limit_wait, _deferred).
    rateLimits: [{ requests: 2, per: 100 }],
    async execute(task) {
      if (task.name === 'draft' && !failedOnce.has(task.id)) {
        failedOnce.add(task.id);
        throw new Error('provider hiccup');
      }
      return { text: `${task.name} done`, usage: { inputTokens: 120, outputTokens: 40, totalTokens: 160 } };
    },
  };
  const workflow = await registry.getWorkflowTracker().createWorkflow({ name: 'article', description: '' });
  const tasks = registry.getTaskManager();
  const ids = [];
  for (const name of ['outline', 'draft', 'edit']) {
    ids.push((await tasks.createTask({ name, workflowId: workflow.id })).id);
  }
  await registry.getEnhancedExecutor().batchExecute(
    ids.map((id) => [id, writer]),
    { workflowId: workflow.id },
  );

  const body = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const lines = body.split('\n').filter((line) => line.startsWith('symphony_') && !/_bucket\{/.test(line));
  for (const line of lines) log(line);

  otel.stop();
  await registry.stop();
  await meterProvider.shutdown();
  await new Promise((resolve) => server.close(resolve));
  return lines;
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
