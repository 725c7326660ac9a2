/**
 * What storing events costs W3 (durable no-op tasks through `batchExecute`, concurrency 100, as
 * `npm run bench` runs it) on SQLite or PostgreSQL: `storeEvents` on and off in turns, in one
 * process, each round on a fresh store (a temp file, a schema of its own). With `--parent DIR` (a
 * checkout of another commit, node_modules linked) the same rounds run that commit's engine too,
 * loaded beside this one, so the two are compared under the same load. Prints the median wall time
 * and CPU time (user + system of this process; on PostgreSQL also of the server's backends serving
 * the round, read from /proc: the server runs on this machine) per variant, each run, and ratios.
 *
 * Run: npx tsx bench/tools/events-cost.ts --store sqlite|postgres [--tasks 10000] [--rounds 8]
 *      [--parent /path/to/checkout]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { dropSchema, pgUrl, uniqueName } from '../services.js';
import { median } from '../stats.js';
import { serverCpu } from './server-cpu.js';

const { values: args } = parseArgs({
  options: {
    store: { type: 'string', default: 'sqlite' },
    tasks: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '8' },
    parent: { type: 'string' },
  },
});
const kind = args.store as 'sqlite' | 'postgres';
const tasks = Number(args.tasks);
const rounds = Number(args.rounds);

/** The parts of a checkout's engine a round uses (each checkout's own copy of the modules). */
interface Engine {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  ServiceRegistry: any;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  Store: any;
}

async function load(root: string): Promise<Engine> {
  const at = (path: string) => pathToFileURL(join(root, path)).href;
  const index = await import(at('src/index.ts'));
  const stores = await import(at(kind === 'sqlite' ? 'src/sqlite.ts' : 'src/postgres.ts'));
  return {
    ServiceRegistry: index.ServiceRegistry,
    Store: kind === 'sqlite' ? stores.SqliteStore : stores.PostgresStore,
  };
}

let rounds0 = 0;

async function round(
  engine: Engine,
  storeEvents: boolean,
): Promise<{ wall: number; cpu: number; server: number }> {
  let store: unknown;
  const application = `events_cost_${process.pid}_${(rounds0 += 1)}`;
  let remove: () => Promise<void>;
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'symphony-events-cost-'));
    store = new engine.Store({ path: join(dir, 'bench.db'), synchronous: 'NORMAL' });
    remove = async () => rmSync(dir, { recursive: true, force: true });
  } else {
    const schema = uniqueName('symphony_events_cost');
    const url = new URL(pgUrl());
    url.searchParams.set('application_name', application);
    store = new engine.Store({ connectionString: url.toString(), schema });
    remove = () => dropSchema(schema);
  }
  const registry = new engine.ServiceRegistry({
    store,
    maxConcurrency: 100,
    retry: { maxAttempts: 1 },
    storeEvents,
  });
  await registry.start();
  try {
    const manager = registry.getTaskManager();
    const ids: string[] = [];
    for (let start = 0; start < tasks; start += 1000) {
      const chunk: Promise<{ id: string }>[] = [];
      for (let i = start; i < Math.min(tasks, start + 1000); i += 1) {
        chunk.push(manager.createTask({ name: `task ${i}` }));
      }
      for (const task of await Promise.all(chunk)) ids.push(task.id);
    }
    const agent = { id: 'bench-noop', execute: () => Promise.resolve(null) };
    const before = kind === 'postgres' ? await serverCpu(application) : new Map<number, number>();
    const cpu = process.cpuUsage();
    const started = process.hrtime.bigint();
    const results = await registry.getEnhancedExecutor().batchExecute(
      ids.map((id) => [id, agent]),
      { maxConcurrent: 100 },
    );
    const wall = Number(process.hrtime.bigint() - started) / 1e6;
    const used = process.cpuUsage(cpu);
    let server = 0;
    if (kind === 'postgres') {
      for (const [pid, ms] of await serverCpu(application)) server += ms - (before.get(pid) ?? 0);
    }
    if (results.some((r: { status: string }) => r.status !== 'COMPLETED')) throw new Error('a task failed');
    return { wall, cpu: (used.user + used.system) / 1e3, server };
  } finally {
    await registry.stop();
    await remove();
  }
}

const engines: Array<[string, Engine]> = [['branch', await load(resolve('.'))]];
if (args.parent) engines.push(['parent', await load(resolve(args.parent))]);
const variants = engines.flatMap(([name, engine]) =>
  [true, false].map((on) => ({ label: `${name} events ${on ? 'on ' : 'off'}`, engine, on })),
);
const wall = new Map<string, number[]>(variants.map((v) => [v.label, []]));
const cpu = new Map<string, number[]>(variants.map((v) => [v.label, []]));
const server = new Map<string, number[]>(variants.map((v) => [v.label, []]));
const load0 = loadavg();
await round(engines[0]![1], true); // warm-up, not counted
for (let r = 0; r < rounds; r += 1) {
  // Each round in another order, so that no variant always runs first or after the same one.
  const order = variants.map((_, i) => variants[(i + r) % variants.length]!);
  if (r % 2 === 1) order.reverse();
  for (const v of order) {
    const t = await round(v.engine, v.on);
    wall.get(v.label)!.push(t.wall);
    cpu.get(v.label)!.push(t.cpu);
    server.get(v.label)!.push(t.server);
  }
}
console.log(
  `W3 on ${kind}: ${tasks} durable no-op tasks, concurrency 100, ${rounds} rounds; node ${process.version}, ` +
    `${cpus().length} cpus, load average before ${load0.map((n) => n.toFixed(2)).join(' ')}, after ${loadavg()
      .map((n) => n.toFixed(2))
      .join(' ')}`,
);
const runs = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(' ');
for (const v of variants) {
  const w = wall.get(v.label)!;
  const c = cpu.get(v.label)!;
  const p = server.get(v.label)!;
  console.log(
    `${v.label}: wall ${median(w).toFixed(0)} ms (${runs(w)}); cpu ${median(c).toFixed(0)} ms (${runs(c)})` +
      (kind === 'postgres' ? `; server cpu ${median(p).toFixed(0)} ms (${runs(p)})` : ''),
  );
}
const ratio = (a: string, b: string, m: Map<string, number[]>) =>
  `${((median(m.get(a)!) / median(m.get(b)!) - 1) * 100).toFixed(1)} %`;
for (const [name] of engines) {
  const on = `${name} events on `;
  const off = `${name} events off`;
  const extra = kind === 'postgres' ? `, server cpu ${ratio(on, off, server)}` : '';
  console.log(`${name}: events on vs off: wall ${ratio(on, off, wall)}, cpu ${ratio(on, off, cpu)}${extra}`);
}
if (engines.length > 1) {
  for (const state of ['on ', 'off']) {
    const a = `branch events ${state}`;
    const b = `parent events ${state}`;
    const extra = kind === 'postgres' ? `, server cpu ${ratio(a, b, server)}` : '';
    console.log(
      `branch vs parent, events ${state}: wall ${ratio(a, b, wall)}, cpu ${ratio(a, b, cpu)}${extra}`,
    );
  }
}
