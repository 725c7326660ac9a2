/**
 * Rate-limit waits as OpenTelemetry metrics (issue 15: "rate-limit waits"): `task.started`'s
 * `rateWait`, recorded in `symphony.rate_limit.wait` and `symphony.rate_limit.deferred`, on the
 * simulated clock, collected with the SDK's metric reader.
 */
import type { Attributes } from '@opentelemetry/api';
import type { MetricData } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { onDemandMetrics } from '../support/otel-metrics.js';
import { instrumentOpenTelemetry, type Agent } from '../../src/index.js';
import type { RateWait } from '../../src/engine/engine-events.js';
import {
  advance,
  createTestRegistry,
  flushEngine,
  manualAgent,
  succeedingAgent,
} from '../../src/testing/index.js';

const label = (attributes: Attributes) =>
  Object.entries(attributes)
    .map(([k, v]) => `${k}=${String(v)}`)
    .sort()
    .join(',');

/** Per attribute set: a sum's value, or a histogram's [count, sum, min, max]. */
function values(metric: MetricData | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const p of metric?.dataPoints ?? []) {
    const v = p.value as number | { count: number; sum: number; min: number; max: number };
    out[label(p.attributes)] = typeof v === 'number' ? v : [v.count, v.sum, v.min, v.max];
  }
  return out;
}

const LIMITED = 'symphony.agent.id=limited,symphony.rate_limit.gate=agent';

describe('OpenTelemetry: rate-limit waits', () => {
  it('records waits of 0, 1000 and 2000 ms for 3 tasks at 1 request a second, and 2 deferrals', async () => {
    const otel = onDemandMetrics();
    const kit = createTestRegistry();
    instrumentOpenTelemetry(kit.registry, { meterProvider: otel.meterProvider });
    const waits: Array<[string, RateWait | null]> = [];
    kit.registry.on('task.started', (event) => waits.push([event.agentId ?? '-', event.rateWait]));
    const starts: number[] = [];
    const limited: Agent = {
      id: 'limited',
      maxConcurrency: 10,
      rateLimits: [{ requests: 1, per: 1_000 }],
      async execute() {
        starts.push(kit.clock.now());
        return 'ok';
      },
    };
    const ids = [];
    for (let i = 0; i < 4; i += 1) ids.push((await kit.taskManager.createTask({ name: `t${i}` })).id);
    const free = succeedingAgent('free');
    const done = kit.executor.batchExecute([
      [ids[0]!, limited],
      [ids[1]!, limited],
      [ids[2]!, limited],
      [ids[3]!, free],
    ]);
    await advance(kit.clock, 2_000);
    expect((await done).map((result) => result.status)).toEqual(Array(4).fill('COMPLETED'));
    expect(starts).toEqual([0, 1_000, 2_000]);
    expect(waits.filter(([agent]) => agent === 'limited').map(([, wait]) => wait)).toEqual([
      { ms: 0, gate: 'agent', kind: null },
      { ms: 1_000, gate: 'agent', kind: 'requests' },
      { ms: 2_000, gate: 'agent', kind: 'requests' },
    ]);
    // No rate limit applies to the other agent: no wait, no series.
    expect(waits.filter(([agent]) => agent === 'free')).toEqual([['free', null]]);
    const m = await otel.collect();
    expect(values(m.get('symphony.rate_limit.wait'))).toEqual({ [LIMITED]: [3, 3_000, 0, 2_000] });
    expect(values(m.get('symphony.rate_limit.deferred'))).toEqual({
      [`${LIMITED},symphony.rate_limit.kind=requests`]: 2,
    });
    await kit.stop();
  });

  it("names a fairness key's gate when its limit held the start back", async () => {
    const otel = onDemandMetrics();
    const kit = createTestRegistry();
    instrumentOpenTelemetry(kit.registry, { meterProvider: otel.meterProvider });
    const waits: Array<RateWait | null> = [];
    kit.registry.on('task.started', (event) => waits.push(event.rateWait));
    const agent = succeedingAgent('open');
    const options = { concurrencyKey: 'acme', keyRateLimits: [{ requests: 1, per: 1_000 }] };
    const tasks = await Promise.all([0, 1].map((i) => kit.taskManager.createTask({ name: `k${i}` })));
    const done = Promise.all(
      tasks.map((task) => kit.executor.executeTask(task.id, agent, undefined, options)),
    );
    await advance(kit.clock, 1_000);
    expect((await done).map((result) => result.status)).toEqual(['COMPLETED', 'COMPLETED']);
    expect(waits).toEqual([
      { ms: 0, gate: 'key', kind: null },
      { ms: 1_000, gate: 'key', kind: 'requests' },
    ]);
    // The key is not an attribute (a customer id, say: unbounded); the gate's kind is.
    expect(values((await otel.collect()).get('symphony.rate_limit.wait'))).toEqual({
      'symphony.agent.id=open,symphony.rate_limit.gate=key': [2, 1_000, 0, 1_000],
    });
    await kit.stop();
  });

  it('does not count the wait for a free slot of the agent as a rate-limit wait', async () => {
    const otel = onDemandMetrics();
    const kit = createTestRegistry();
    instrumentOpenTelemetry(kit.registry, { meterProvider: otel.meterProvider });
    const slow = Object.assign(manualAgent('limited', { maxConcurrency: 1 }), {
      rateLimits: [{ requests: 10, per: 1_000 }],
    });
    const tasks = await Promise.all([0, 1, 2].map((i) => kit.taskManager.createTask({ name: `s${i}` })));
    const done = kit.executor.batchExecute(tasks.map((task) => [task.id, slow]));
    for (let i = 0; i < 3; i += 1) {
      await flushEngine();
      await advance(kit.clock, 500);
      slow.resolveNext('ok');
    }
    expect((await done).map((result) => result.status)).toEqual(Array(3).fill('COMPLETED'));
    // Each waited 500 ms more than the one before, for the slot; none for a token.
    expect(values((await otel.collect()).get('symphony.rate_limit.wait'))).toEqual({
      [LIMITED]: [3, 0, 0, 0],
    });
    await kit.stop();
  });
});
