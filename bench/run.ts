/**
 * `npm run bench`: Symphony and its peers on the same workloads in one process, interleaved
 * (round 1 runs every contender on W1, then W2, ...; later rounds rotate the order), medians of
 * the rounds. Prints the tables and the targets (met / missed, never an exit code) and,
 * for a full-size run, writes them into docs/performance.md.
 *
 * Options: --rounds N (5)  --only W1,W3  --scale 0.1  --tasks N (every workload)
 *          --contenders symphony-memory,p-queue  --no-warmup  --write | --no-write  --out FILE
 *          --profile DIR (a CPU profile of each timed W1-W3 phase and of each W6 side)
 * W7 (worker processes on PostgreSQL) runs Symphony and pg-boss only; `--contenders` selects them
 * as symphony-postgres and pg-boss.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { bullmq } from './contenders/bullmq.js';
import { floor } from './contenders/floor.js';
import { pgBoss } from './contenders/pg-boss.js';
import { pQueue } from './contenders/p-queue.js';
import { symphony } from './contenders/symphony.js';
import { profileInto, profiled } from './profiler.js';
import {
  formatText,
  writeReport,
  type BenchReport,
  type EntrantResult,
  type WorkloadResult,
} from './report.js';
import {
  REDIS_PORT,
  forceGc,
  pgUnreachable,
  redisPersistence,
  startAofRedis,
  withPg,
  type OwnedRedis,
} from './services.js';
import type { Contender, Figures, RunSpec } from './types.js';
import { measureMemory } from './workloads/memory.js';
import {
  CHILD_FLAGS,
  createRecoveryTemplate,
  measureRecovery,
  type RecoveryTemplate,
} from './workloads/recovery.js';
import {
  edgesOf,
  graphTemplate,
  graphWidth,
  measureGraph,
  randomDag,
  type GraphTemplate,
} from './workloads/graph.js';
import {
  measureScaleOut,
  scaleOutCases,
  scaleOutParams,
  scaleOutTasks,
  type ScaleOutCase,
} from './workloads/scale-out.js';
import {
  graphTasks,
  memoryTasks,
  recoveryTasks,
  throughputWorkloads,
  type ThroughputWorkload,
  type WorkloadId,
} from './workloads/throughput.js';

export const ALL_WORKLOADS: readonly WorkloadId[] = ['W1', 'W2', 'W3', 'W4', 'W5', 'W6', 'W7'];
export const DOC = fileURLToPath(new URL('../docs/performance.md', import.meta.url));

export interface BenchOptions {
  rounds: number;
  only: readonly WorkloadId[];
  scale: number;
  /** Every workload's task count, overriding its size and `scale` (smoke runs). */
  tasks?: number;
  /** Contender ids to run; all when absent. */
  contenders?: readonly string[];
  /** An untimed pass of W1-W3 and W6 at 5 % size before round 1. */
  warmup: boolean;
  /** Where to write the Markdown results; null writes nothing. */
  out: string | null;
  /** A folder for one CPU profile per timed phase of W1-W3 and W6 (`--profile DIR`). */
  profile?: string;
  log: (line: string) => void;
}

function fail(message: string): never {
  throw new Error(
    `${message}\nUsage: npm run bench -- [--rounds N] [--only W1,W3] [--scale F] [--tasks N] [--contenders a,b] [--no-warmup] [--write|--no-write] [--out FILE] [--profile DIR]`,
  );
}

export function parseArgs(argv: readonly string[]): BenchOptions {
  const options: BenchOptions = {
    rounds: 5,
    only: ALL_WORKLOADS,
    scale: 1,
    warmup: true,
    out: DOC,
    log: (line) => console.log(line),
  };
  let write: boolean | undefined;
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i]!;
    const value = () => argv[++i] ?? fail(`${arg} needs a value`);
    const number = (min: number) => {
      const n = Number(value());
      if (!Number.isFinite(n) || n < min) fail(`Expected ${arg} to be a number >= ${min}`);
      return n;
    };
    if (arg === '--rounds') options.rounds = Math.floor(number(1));
    else if (arg === '--scale') options.scale = number(Number.MIN_VALUE);
    else if (arg === '--tasks') options.tasks = Math.floor(number(1));
    else if (arg === '--only') {
      const ids = value()
        .split(',')
        .map((s) => s.trim().toUpperCase());
      for (const id of ids) if (!ALL_WORKLOADS.includes(id as WorkloadId)) fail(`Unknown workload ${id}`);
      options.only = ids as WorkloadId[];
    } else if (arg === '--contenders') options.contenders = value().split(',');
    else if (arg === '--no-warmup') options.warmup = false;
    else if (arg === '--profile') options.profile = value();
    else if (arg === '--write') write = true;
    else if (arg === '--no-write') write = false;
    else if (arg === '--out') {
      options.out = value();
      write = true;
    } else fail(`Unknown option ${arg}`);
  }
  const fullSize =
    options.only.length === ALL_WORKLOADS.length &&
    options.scale === 1 &&
    options.tasks === undefined &&
    options.contenders === undefined;
  if (!(write ?? fullSize)) options.out = null;
  return options;
}

/** Every contender of W1-W3 by id; the BullMQ-with-AOF port is known once its server is up. */
function contenders(aofPort: () => number): Map<string, Contender> {
  const list: Contender[] = [
    floor,
    pQueue,
    symphony('memory'),
    symphony('sqlite'),
    symphony('postgres'),
    bullmq({
      id: 'bullmq',
      label: 'BullMQ (Redis as found: no AOF)',
      port: () => REDIS_PORT,
      durable: false,
    }),
    bullmq({ id: 'bullmq-aof', label: 'BullMQ (Redis AOF everysec)', port: aofPort, durable: true }),
    pgBoss,
  ];
  return new Map(list.map((c) => [c.id, c]));
}

function packageVersion(name: string): string {
  try {
    const path = fileURLToPath(new URL(`../node_modules/${name}/package.json`, import.meta.url));
    return (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version;
  } catch {
    return 'absent';
  }
}

/** The commit of the code measured, marked when src/ or machines/ differ from it. */
function revision(): string {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const git = (...args: string[]) => spawnSync('git', args, { cwd: root, encoding: 'utf8' });
  const head = git('rev-parse', '--short', 'HEAD');
  if (head.status !== 0) return 'unknown (not a git checkout)';
  const dirty = git('status', '--porcelain', '--', 'src', 'machines').stdout.trim() !== '';
  return `commit ${head.stdout.trim()}${dirty ? ' with uncommitted changes in src/ or machines/' : ''}`;
}

async function measureThroughput(contender: Contender, spec: RunSpec, name = ''): Promise<Figures> {
  forceGc();
  const t0 = performance.now();
  const prepared = await contender.prepare(spec);
  const setupMs = performance.now() - t0;
  try {
    const start = performance.now();
    const completed = name ? await profiled(name, () => prepared.run()) : await prepared.run();
    const ms = performance.now() - start;
    return { ms, tasks: spec.tasks, completed, tasksPerSec: spec.tasks / (ms / 1000), setupMs };
  } finally {
    await prepared.dispose();
  }
}

/** The store of a Symphony entrant of W4 or W6. */
const storeOf = (id: string) => (id === 'symphony-sqlite' ? 'sqlite' : 'memory');
const rotate = <T>(list: readonly T[], by: number): T[] => list.map((_, i) => list[(i + by) % list.length]!);
const message = (error: unknown) => (error instanceof Error ? error.message : String(error)).split('\n')[0]!;

/** Runs the bench; resolves with the report (also written to `options.out` when set). */
export async function runBench(options: BenchOptions): Promise<BenchReport> {
  const started = Date.now();
  const log = options.log;
  profileInto(options.profile ?? null);
  const only = new Set(options.only);
  const picked = (id: string) => !options.contenders || options.contenders.includes(id);
  const throughput = throughputWorkloads(options.scale, options.tasks).filter((w) => only.has(w.id));
  const wanted = new Set(throughput.flatMap((w) => w.entrants).filter(picked));
  const services: string[] = [];
  const unavailable = new Map<string, string>();
  let aof: OwnedRedis | null = null;
  const all = contenders(() => aof?.port ?? -1);
  const w7Cases = only.has('W7') ? scaleOutCases().filter((c) => picked(c.contender)) : [];
  const usesSqlite = wanted.has('symphony-sqlite') || only.has('W4') || only.has('W5') || only.has('W6');
  const report: BenchReport = {
    startedAt: new Date(started).toISOString(),
    durationMs: 0,
    rounds: options.rounds,
    scale: options.scale,
    ...(options.tasks !== undefined ? { tasks: options.tasks } : {}),
    machine: {
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      memoryGiB: totalmem() / 2 ** 30,
      os: `${platform()} ${release()}`,
      node: process.version,
      flags: [...process.execArgv, process.env.NODE_OPTIONS ?? ''].join(' ').trim() || '(none)',
      versions: Object.fromEntries(
        ['xstate', 'better-sqlite3', 'pg', 'p-queue', 'bullmq', 'ioredis', 'pg-boss'].map((n) => [
          n,
          packageVersion(n),
        ]),
      ),
      services,
      revision: revision(),
      load: [loadavg()[0]!, Number.NaN],
    },
    workloads: [],
  };
  let template: RecoveryTemplate | null = null;
  try {
    if (wanted.has('symphony-postgres') || wanted.has('pg-boss') || w7Cases.length > 0) {
      const reason = await pgUnreachable();
      if (reason) {
        for (const id of ['symphony-postgres', 'pg-boss', ...w7Cases.map((c) => c.id)])
          unavailable.set(id, reason);
      } else {
        const settings = await withPg(async (client) => {
          const row = async (sql: string) =>
            Object.values((await client.query(sql)).rows[0] as object)[0] as string;
          return `${(await row('SELECT version()')).split(' on ')[0]}, fsync ${await row('SHOW fsync')}, synchronous_commit ${await row('SHOW synchronous_commit')}`;
        });
        services.push(
          `PostgreSQL (Symphony, pg-boss): ${settings}; database \`test\` on 127.0.0.1:5432, a schema per run, dropped after`,
        );
      }
    }
    if (wanted.has('bullmq')) {
      const state = await redisPersistence();
      if (typeof state === 'string') unavailable.set('bullmq', state);
      else {
        services.push(
          `Redis for "BullMQ (Redis as found)": 127.0.0.1:${REDIS_PORT}, appendonly ${state.appendonly}, save "${state.save}"` +
            (state.appendonly === 'no' ? ' (not durable: acknowledged jobs die with the server)' : ''),
        );
      }
    }
    if (wanted.has('bullmq-aof')) {
      const owned = await startAofRedis();
      if (typeof owned === 'string') unavailable.set('bullmq-aof', owned);
      else {
        aof = owned;
        services.push(
          `Redis for "BullMQ (Redis AOF everysec)": a redis-server started by the bench on port ${owned.port} in a temp folder, appendonly yes, appendfsync everysec, save "", stopped after`,
        );
      }
    }
    if (usesSqlite) services.push('SQLite (Symphony): better-sqlite3, a temp file, WAL, synchronous NORMAL');

    const entrantsOf = (ids: readonly string[]): EntrantResult[] =>
      ids.filter(picked).map((id) => {
        const contender = all.get(id)!;
        const reason = unavailable.get(id);
        return {
          id,
          label: contender.label,
          note: contender.timed,
          ...(reason ? { unavailable: reason } : {}),
          rounds: [],
          errors: [],
        };
      });
    const byWorkload = new Map<WorkloadId, WorkloadResult>();
    for (const w of throughput) {
      const { tasks, concurrency, agent } = w.spec;
      byWorkload.set(w.id, {
        id: w.id,
        kind: 'throughput',
        title: w.title,
        params: `${tasks.toLocaleString('en-US')} tasks, concurrency ${concurrency}, agent: ${agent === 'noop' ? 'async () => null' : 'awaits a 1 ms setTimeout'}; timed: the execution phase only (see "What is timed")`,
        entrants: entrantsOf(w.entrants),
      });
    }
    const w4Tasks = memoryTasks(options.scale, options.tasks);
    if (only.has('W4')) {
      byWorkload.set('W4', {
        id: 'W4',
        kind: 'memory',
        title: 'one workflow of many tasks: heap',
        params: `${w4Tasks.toLocaleString('en-US')} tasks in one workflow, concurrency 100; in-flight probe: ${Math.min(1000, w4Tasks)} tasks all running at once`,
        entrants: entrantsOf(['symphony-memory', 'symphony-sqlite']),
      });
    }
    const w5Tasks = recoveryTasks(options.scale, options.tasks);
    if (only.has('W5')) {
      byWorkload.set('W5', {
        id: 'W5',
        kind: 'recovery',
        title: 'recovery of pending tasks in a child process',
        params: `${w5Tasks.toLocaleString('en-US')} PENDING tasks with execution plans in a SQLite file; child \`node ${CHILD_FLAGS.join(' ')} --import tsx\` calls registry.recover(); times from spawn`,
        entrants: entrantsOf(['symphony-sqlite']),
      });
    }
    const w6Tasks = graphTasks(options.scale, options.tasks);
    const dag = only.has('W6') ? randomDag(w6Tasks) : [];
    if (only.has('W6')) {
      byWorkload.set('W6', {
        id: 'W6',
        kind: 'graph',
        title: 'a workflow graph against the same tasks as a flat batch',
        params: `${w6Tasks.toLocaleString('en-US')} nodes in a seeded random DAG (layers of ${graphWidth(w6Tasks)}, each node depends on 1-3 nodes of the layer before: ${edgesOf(dag).toLocaleString('en-US')} edges), timed \`executeWorkflow\`; flat: as many fresh tasks in a workflow, timed \`batchExecute\`; agent async () => null, maxConcurrent 100 on both; each side on a fresh engine, the order alternating by round; cost per node = wall ms / nodes`,
        entrants: entrantsOf(['symphony-memory', 'symphony-sqlite']),
      });
    }
    const w7Tasks = scaleOutTasks(options.scale, options.tasks);
    if (only.has('W7')) {
      byWorkload.set('W7', {
        id: 'W7',
        kind: 'scale-out',
        title: 'worker processes on one PostgreSQL store, Symphony and pg-boss',
        params: scaleOutParams(w7Tasks),
        entrants: w7Cases.map((c) => {
          const reason = unavailable.get(c.id);
          return {
            id: c.id,
            label: c.label,
            note: all.get(c.contender)!.label,
            ...(reason ? { unavailable: reason } : {}),
            rounds: [],
            errors: [],
          };
        }),
      });
    }
    report.workloads = ALL_WORKLOADS.filter((id) => byWorkload.has(id)).map((id) => byWorkload.get(id)!);

    if (options.warmup) {
      for (const w of throughput) {
        const spec = { ...w.spec, tasks: Math.max(20, Math.round(w.spec.tasks * 0.05)) };
        for (const e of byWorkload.get(w.id)!.entrants) {
          if (e.unavailable) continue;
          await measureThroughput(all.get(e.id)!, spec).catch((error: unknown) =>
            log(`warm-up ${w.id} ${e.label} failed: ${message(error)}`),
          );
        }
      }
      if (only.has('W6')) {
        const small = await graphTemplate(randomDag(Math.max(20, Math.round(w6Tasks * 0.05))));
        for (const e of byWorkload.get('W6')!.entrants) {
          await measureGraph(storeOf(e.id), small, true).catch((error: unknown) =>
            log(`warm-up W6 ${e.label} failed: ${message(error)}`),
          );
        }
      }
      log('warm-up done');
    }
    if (only.has('W5')) template = await createRecoveryTemplate(w5Tasks);
    const w6Template: GraphTemplate | null = only.has('W6') ? await graphTemplate(dag) : null;

    for (let round = 0; round < options.rounds; round += 1) {
      for (const workload of report.workloads) {
        for (const e of rotate(workload.entrants, round)) {
          if (e.unavailable) continue;
          try {
            let figures: Figures;
            if (workload.kind === 'throughput') {
              const spec = (throughput.find((w) => w.id === workload.id) as ThroughputWorkload).spec;
              figures = await measureThroughput(all.get(e.id)!, spec, `${workload.id}-${e.id}-r${round + 1}`);
            } else if (workload.kind === 'memory') {
              forceGc();
              figures = await measureMemory(storeOf(e.id), w4Tasks);
            } else if (workload.kind === 'scale-out') {
              figures = await measureScaleOut(w7Cases.find((c) => c.id === e.id) as ScaleOutCase, w7Tasks);
            } else if (workload.kind === 'graph') {
              forceGc();
              figures = await measureGraph(
                storeOf(e.id),
                w6Template!,
                round % 2 === 0,
                `W6-${e.id}-r${round + 1}`,
              );
            } else {
              figures = await measureRecovery(template!);
            }
            e.rounds.push(figures);
            log(`round ${round + 1} ${workload.id} ${e.label}: ${summary(figures)}`);
          } catch (error) {
            e.errors.push(message(error));
            log(`round ${round + 1} ${workload.id} ${e.label} FAILED: ${message(error)}`);
          }
        }
      }
    }
  } finally {
    template?.dispose();
    await aof?.stop();
  }
  report.durationMs = Date.now() - started;
  report.machine.load[1] = loadavg()[0]!;
  if (options.out) await writeReport(options.out, report);
  return report;
}

function summary(figures: Figures): string {
  return Object.entries(figures)
    .map(([key, value]) => `${key} ${Number.isInteger(value) ? value : value.toFixed(1)}`)
    .join(', ');
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const report = await runBench(options);
  console.log(formatText(report));
  if (options.out) console.log(`\nWrote ${options.out}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
