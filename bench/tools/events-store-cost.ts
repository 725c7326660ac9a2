/**
 * What storing events costs a store alone, without the engine around it: commits as W3's committer
 * sends them (state writes of `--batch` tasks, with or without two events each, `task.started` and
 * `task.completed` shaped, under one commit token), one after another, on SQLite or PostgreSQL.
 * Variants (events on and off; with `--parent DIR`, that checkout's store too, loaded beside this
 * one) take turns, each round on a fresh store. Prints medians of the client's CPU time (user +
 * system of this process) and, on PostgreSQL, of the server's backends of the round (read from
 * /proc: the server runs on this machine), per variant, with the cost of the events per event.
 *
 * Run: npx tsx bench/tools/events-store-cost.ts --store sqlite|postgres [--commits 200]
 *      [--batch 50] [--rounds 8] [--parent /path/to/checkout]
 */
import { randomUUID } from 'node:crypto';
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
    commits: { type: 'string', default: '200' },
    batch: { type: 'string', default: '50' },
    rounds: { type: 'string', default: '8' },
    parent: { type: 'string' },
  },
});
const kind = args.store as 'sqlite' | 'postgres';
const commits = Number(args.commits);
const batch = Number(args.batch);
const rounds = Number(args.rounds);

/** A checkout's store class and task sample (each checkout's own copy of the modules). */
interface Checkout {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  Store: any;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  sampleTask: (id: string, overrides?: object) => any;
}

async function load(root: string): Promise<Checkout> {
  const at = (path: string) => pathToFileURL(join(root, path)).href;
  const stores = await import(at(kind === 'sqlite' ? 'src/sqlite.ts' : 'src/postgres.ts'));
  const samples = await import(at('src/testing/samples.ts'));
  return {
    Store: kind === 'sqlite' ? stores.SqliteStore : stores.PostgresStore,
    sampleTask: samples.sampleTask,
  };
}

/** W3's two events of a task's run, as the engine stores them. */
function eventsOf(taskId: string, at: number, token: string) {
  const common = { engineId: 'bench-engine', workflowId: null, taskId, token };
  return [
    {
      ...common,
      name: 'task.started',
      at,
      payload: { taskId, workflowId: null, name: `task ${taskId}`, at, attempt: 1, agentId: 'bench-noop' },
    },
    {
      ...common,
      name: 'task.completed',
      at: at + 1,
      payload: {
        taskId,
        workflowId: null,
        name: `task ${taskId}`,
        at: at + 1,
        attempts: 1,
        agentId: 'bench-noop',
        usage: null,
        modelId: null,
      },
    },
  ];
}

let serial = 0;

async function round(checkout: Checkout, events: boolean): Promise<{ cpu: number; server: number }> {
  const application = `events_store_cost_${process.pid}_${(serial += 1)}`;
  let store;
  let remove: () => Promise<void>;
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'symphony-events-store-cost-'));
    store = new checkout.Store({ path: join(dir, 'bench.db'), synchronous: 'NORMAL' });
    remove = async () => rmSync(dir, { recursive: true, force: true });
  } else {
    const schema = uniqueName('symphony_events_store_cost');
    const url = new URL(pgUrl());
    url.searchParams.set('application_name', application);
    store = new checkout.Store({ connectionString: url.toString(), schema, poolSize: 1 });
    remove = () => dropSchema(schema);
  }
  await store.open();
  try {
    const ids = Array.from({ length: batch * 4 }, (_, i) => `t${i}`);
    await store.commit({ tasks: ids.map((id) => checkout.sampleTask(id)) });
    const prefix = `bench-engine.${randomUUID()}`;
    const before = kind === 'postgres' ? await serverCpu(application) : new Map<number, number>();
    const cpu = process.cpuUsage();
    for (let c = 0; c < commits; c += 1) {
      const first = (c * batch) % ids.length;
      const taskIds = ids.slice(first, first + batch);
      const at = 1_000_000 + c;
      const token = `${prefix}.${c.toString(36)}`;
      await store.commit({
        taskStates: taskIds.map((id) => checkout.sampleTask(id, { status: 'COMPLETED', attempts: c + 1 })),
        ...(events ? { events: taskIds.flatMap((id) => eventsOf(id, at, token)) } : {}),
      });
    }
    const used = process.cpuUsage(cpu);
    let server = 0;
    if (kind === 'postgres') {
      for (const [pid, ms] of await serverCpu(application)) server += ms - (before.get(pid) ?? 0);
    }
    return { cpu: (used.user + used.system) / 1e3, server };
  } finally {
    await store.close();
    await remove();
  }
}

const checkouts: Array<[string, Checkout]> = [['branch', await load(resolve('.'))]];
if (args.parent) checkouts.push(['parent', await load(resolve(args.parent))]);
const variants = checkouts.flatMap(([name, checkout]) =>
  [true, false].map((on) => ({ label: `${name} events ${on ? 'on ' : 'off'}`, name, checkout, on })),
);
const cpu = new Map<string, number[]>(variants.map((v) => [v.label, []]));
const server = new Map<string, number[]>(variants.map((v) => [v.label, []]));
const load0 = loadavg();
await round(checkouts[0]![1], true); // warm-up, not counted
for (let r = 0; r < rounds; r += 1) {
  const order = variants.map((_, i) => variants[(i + r) % variants.length]!);
  if (r % 2 === 1) order.reverse();
  for (const v of order) {
    const t = await round(v.checkout, v.on);
    cpu.get(v.label)!.push(t.cpu);
    server.get(v.label)!.push(t.server);
  }
}
const events = commits * batch * 2;
console.log(
  `${kind}: ${commits} commits of ${batch} state writes (with ${batch * 2} events or none), ${rounds} rounds; ` +
    `node ${process.version}, ${cpus().length} cpus, load average before ${load0.map((n) => n.toFixed(2)).join(' ')}, ` +
    `after ${loadavg()
      .map((n) => n.toFixed(2))
      .join(' ')}`,
);
const runs = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(' ');
for (const v of variants) {
  const c = cpu.get(v.label)!;
  const s = server.get(v.label)!;
  console.log(
    `${v.label}: client cpu ${median(c).toFixed(0)} ms (${runs(c)})` +
      (kind === 'postgres' ? `; server cpu ${median(s).toFixed(0)} ms (${runs(s)})` : ''),
  );
}
for (const [name] of checkouts) {
  const per = (m: Map<string, number[]>) =>
    (((median(m.get(`${name} events on `)!) - median(m.get(`${name} events off`)!)) * 1e3) / events).toFixed(
      2,
    );
  console.log(
    `${name}: events cost ${per(cpu)} us of client cpu per event` +
      (kind === 'postgres' ? `, ${per(server)} us of server cpu per event` : ''),
  );
}
